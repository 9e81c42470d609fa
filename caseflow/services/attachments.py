"""Evidence files: stored with a size limit, content sniffing and a checksum; read only by those
allowed to see the item.

On any refusal nothing is left behind: the temp file is removed and no row is written. The row
is committed only after the file is in its final place, and the file is removed again if the
commit fails, so a row always has its file and no file outlives a failed upload.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import uuid
from typing import IO, Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from caseflow.models import ITEM_MODELS, Attachment, LedgerEntry, WorkflowItem, utcnow
from caseflow.models.attachment import ATTACHMENT_KINDS
from caseflow.security.actor import Actor

from .access import can_see_item, deny, record_audit
from .sniff import HEAD_BYTES, sniff
from .transition import department_scope

log = logging.getLogger("caseflow.attachments")

CHUNK = 64 * 1024
DEFAULT_MAX_BYTES = 20 * 1024 * 1024
TMP_FOLDER = ".tmp"


def settings() -> tuple[str, int, frozenset[str]]:
    """(upload folder, size limit, allowed kinds) from the app config.

    ``UPLOAD_DIR`` empty means ``<instance>/uploads``; ``UPLOAD_ALLOWED_KINDS`` is a list or a
    comma-separated string of photo, document, audio, video (default: all four).
    """
    from flask import current_app

    cfg = current_app.config
    folder = cfg.get("UPLOAD_DIR") or os.path.join(current_app.instance_path, "uploads")
    max_bytes = int(cfg.get("UPLOAD_MAX_BYTES") or DEFAULT_MAX_BYTES)
    kinds = cfg.get("UPLOAD_ALLOWED_KINDS") or ATTACHMENT_KINDS
    if isinstance(kinds, str):
        kinds = [k.strip() for k in kinds.split(",") if k.strip()]
    return str(folder), max_bytes, frozenset(kinds)


def clean_name(filename: str | None) -> str:
    """The client's file name without folders or control characters, at most 255 characters."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()
    return name[-255:] if len(name) > 255 else name


def visible_item(session: Session, item_type: str, item_id: int, actor: Actor, action: str) -> WorkflowItem:
    """The item if ``actor`` may see it; another department's item (or, for a machine client, a
    case it did not report) is reported as not found (audited)."""
    model = ITEM_MODELS.get(item_type)
    item = session.get(model, item_id) if model else None
    if item is None:
        raise NotFound(f"{item_type} {item_id} not found")
    if not can_see_item(session, actor, item_type, item_id, department_scope(item)):
        err = deny(actor, action, f"{item_type} {item_id}", "item belongs to another department or client",
                   NotFound(f"{item_type} {item_id} not found"))
        session.rollback()
        record_audit(session, err)
        raise err
    return item


def _refuse_if_read_only(item: WorkflowItem) -> None:
    """An item in a final state (archived, voided) is read-only: no new evidence."""
    from caseflow.workflow.engine import get_catalog

    definition = get_catalog().definition(item.workflow, item.workflow_version)
    spec = definition.states.get(item.state)
    if spec is not None and spec.final:
        raise Conflict(f"{item.item_type} {item.id} is '{item.state}' and read-only; no evidence can be added",
                       details={"state": item.state})


def _copy_limited(stream: IO[bytes], out: BinaryIO, max_bytes: int) -> tuple[int, str, bytes]:
    """Copy ``stream`` to ``out`` hashing as it goes; stop as soon as it passes ``max_bytes``."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"file is larger than the limit of {max_bytes} bytes", field="file",
                                  details={"max_bytes": max_bytes})
        if len(head) < HEAD_BYTES:
            head += chunk[: HEAD_BYTES - len(head)]
        digest.update(chunk)
        out.write(chunk)
    out.flush()
    os.fsync(out.fileno())
    return size, digest.hexdigest(), head


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def store(
    session: Session,
    *,
    item_type: str,
    item_id: int,
    actor: Actor,
    filename: str | None,
    stream: IO[bytes],
    ledger_seq: int | None = None,
) -> Attachment:
    """Store one evidence file for an item and commit its row.

    Raises ``NotFound`` (no such item, or another department's), ``Conflict`` (item is read-only),
    ``ValidationFailed`` (empty file, unknown ledger entry), ``PayloadTooLarge`` (413) or
    ``UnsupportedMediaType`` (415); in every case nothing is stored.
    """
    folder, max_bytes, allowed = settings()
    item = visible_item(session, item_type, item_id, actor, "attach")
    _refuse_if_read_only(item)
    if ledger_seq is not None and session.execute(
        select(LedgerEntry.id).where(LedgerEntry.item_type == item_type, LedgerEntry.item_id == item_id,
                                     LedgerEntry.seq == ledger_seq)
    ).first() is None:
        raise ValidationFailed(f"{item_type} {item_id} has no ledger entry {ledger_seq}", field="ledger_seq")

    tmp_dir = os.path.join(folder, TMP_FOLDER)
    os.makedirs(tmp_dir, exist_ok=True)
    # The temp file lives in UPLOAD_DIR so the final move is an atomic rename on one filesystem.
    fd, tmp_path = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            size, sha256, head = _copy_limited(stream, out, max_bytes)
        if size == 0:
            raise ValidationFailed("file is empty", field="file")
        found = sniff(head, tmp_path)
        if found is None:
            raise UnsupportedMediaType("file content is not a recognised photo, document, audio or video",
                                       field="file")
        if found.kind not in allowed:
            raise UnsupportedMediaType(f"{found.kind} files ({found.content_type}) are not accepted",
                                       field="file", details={"allowed_kinds": sorted(allowed)})
        now = utcnow()
        relative = f"{now:%Y}/{now:%m}/{sha256[:2]}/{uuid.uuid4().hex}"
        final_path = os.path.join(folder, *relative.split("/"))
        os.makedirs(os.path.dirname(final_path), exist_ok=True)
        os.replace(tmp_path, final_path)
    except BaseException:
        _unlink(tmp_path)
        raise

    row = Attachment(
        item_type=item_type, item_id=item_id, uploaded_by_id=actor.person_id, uploaded_client=actor.client,
        uploaded_at=now, original_name=clean_name(filename), stored_path=relative,
        content_type=found.content_type, size=size, sha256=sha256, kind=found.kind, ledger_seq=ledger_seq,
    )
    try:
        session.add(row)
        session.commit()
    except BaseException:
        session.rollback()
        _unlink(final_path)  # no row, so no file either
        raise
    log.info("stored %s for %s %s: %s, %d bytes", row.stored_path, item_type, item_id, row.content_type, size)
    return row


def list_for(session: Session, item_type: str, item_id: int, actor: Actor) -> list[Attachment]:
    """An item's attachments, oldest first, for someone allowed to see the item."""
    visible_item(session, item_type, item_id, actor, "list attachments")
    return list(session.execute(
        select(Attachment).where(Attachment.item_type == item_type, Attachment.item_id == item_id)
        .order_by(Attachment.id)
    ).scalars())


def path_of(row: Attachment) -> str:
    """The absolute path of a stored file."""
    folder, _, _ = settings()
    return os.path.join(folder, *row.stored_path.split("/"))


def open_for(session: Session, attachment_id: int, actor: Actor) -> tuple[Attachment, BinaryIO]:
    """The attachment row and its file opened for reading, if ``actor`` may see its item.

    Another department's handler gets ``NotFound``, as for the item itself (and it is audited).
    """
    row = session.get(Attachment, attachment_id)
    if row is None:
        raise NotFound(f"attachment {attachment_id} not found")
    visible_item(session, row.item_type, row.item_id, actor, f"read attachment {attachment_id}")
    try:
        handle: Any = open(path_of(row), "rb")
    except FileNotFoundError:
        log.error("attachment %s: file %s is missing", row.id, row.stored_path)
        raise NotFound(f"attachment {attachment_id} not found") from None
    return row, handle


def verify(row: Attachment) -> bool:
    """True when the stored file still has the size and SHA-256 recorded at upload."""
    digest = hashlib.sha256()
    size = 0
    with open(path_of(row), "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return size == row.size and digest.hexdigest() == row.sha256
