"""Evidence on any workflow item: upload (multipart ``file``), list, download."""
from __future__ import annotations

import base64
from typing import Any

from flask import Response, request, send_file, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.exceptions import RequestEntityTooLarge

from caseflow.errors import PayloadTooLarge, ValidationFailed
from caseflow.extensions import db
from caseflow.models import Attachment
from caseflow.services import attachments as svc
from caseflow.services.sniff import download_name

from .auth import current_actor
from .idempotency import idempotent
from .openapi import MAX_ID

# Room for the multipart boundaries, headers and small fields around the file itself.
FORM_OVERHEAD = 64 * 1024

blp = Blueprint("attachments", __name__, url_prefix="/api",
                description="Evidence (photos, documents, audio, video) on cases and other items")


@blp.record_once
def _limit_bodies(state: Any) -> None:
    """Refuse huge bodies early (413) unless the deployment set its own ``MAX_CONTENT_LENGTH``."""
    app = state.app
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        app.config["MAX_CONTENT_LENGTH"] = int(app.config.get("UPLOAD_MAX_BYTES") or svc.DEFAULT_MAX_BYTES) \
            + FORM_OVERHEAD


class AttachmentSchema(Schema):
    """One stored evidence file."""

    id = fields.Integer()
    item_type = fields.String()
    item_id = fields.Integer()
    original_name = fields.String()
    content_type = fields.String()
    kind = fields.String()
    size = fields.Integer()
    sha256 = fields.String()
    uploaded_at = fields.DateTime()
    uploaded_by_id = fields.Integer(allow_none=True)
    uploaded_client = fields.String()
    ledger_seq = fields.Integer(allow_none=True)
    url = fields.Method("_url")

    def _url(self, row: Attachment) -> str:
        return url_for("attachments.Download", attachment_id=row.id)


def _ledger_seq() -> int | None:
    raw = request.form.get("ledger_seq", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) > MAX_ID:
        raise ValidationFailed("ledger_seq must be a positive integer", field="ledger_seq")
    return int(raw)


@blp.route("/items/<string:item_type>/<int:item_id>/attachments")
class ItemAttachments(MethodView):
    @blp.response(200, AttachmentSchema(many=True))
    def get(self, item_type: str, item_id: int) -> list[Attachment]:
        """The item's evidence, oldest first."""
        return svc.list_for(db.session(), item_type, item_id, current_actor())  # type: ignore[arg-type]

    @idempotent
    @blp.response(201, AttachmentSchema)
    def post(self, item_type: str, item_id: int) -> Attachment:
        """Upload one file as multipart field ``file`` (optional ``ledger_seq``).

        413 past the size limit, 415 for content that is not an allowed type; nothing is stored then.
        """
        actor = current_actor()
        _, max_bytes, _ = svc.settings()
        # Per request, so a lowered UPLOAD_MAX_BYTES takes effect without a restart.
        request.max_content_length = max_bytes + FORM_OVERHEAD
        try:
            upload = request.files.get("file")
        except RequestEntityTooLarge:
            raise PayloadTooLarge(f"file is larger than the limit of {max_bytes} bytes", field="file",
                                  details={"max_bytes": max_bytes}) from None
        if upload is None:
            raise ValidationFailed("file is required (multipart/form-data field 'file')", field="file")
        return svc.store(db.session(), item_type=item_type, item_id=item_id, actor=actor,  # type: ignore[arg-type]
                         filename=upload.filename, stream=upload.stream, ledger_seq=_ledger_seq())


@blp.route("/attachments/<int:attachment_id>")
class Download(MethodView):
    @blp.response(200, description="The file, as an attachment, with its sniffed content type")
    def get(self, attachment_id: int) -> Response:
        """Download a file; ``Repr-Digest``/``ETag`` carry its SHA-256 for checking."""
        row, handle = svc.open_for(db.session(), attachment_id, current_actor())  # type: ignore[arg-type]
        response = send_file(
            handle, mimetype=row.content_type, as_attachment=True, conditional=True, etag=row.sha256,
            download_name=download_name(row.original_name, row.content_type, f"attachment-{row.id}"),
            max_age=0,
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        # Opened in a tab anyway, a file must not run scripts with our origin.
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers["Repr-Digest"] = "sha-256=:" + base64.b64encode(bytes.fromhex(row.sha256)).decode() + ":"
        return response
