"""The site photo (现场照片) a simple case's result must carry.

A simple case is handled on the spot by the patrol officer, who reports it done with a photo
(seed 001 篇五 五(三)1, 六(三)); the center checks against it. The report names its photos in
``evidence_refs`` as ``attachment:<id>``: files uploaded to the case (``POST
/api/items/case/<id>/attachments``; the handler's phone page does both in one step) whose
sniffed kind is ``photo`` and that were uploaded during the current visit of the state, so a
report after rework (返工) needs a new photo, not the one the failed check already saw.
"""
from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import Attachment, Case

FIELD = "evidence_refs"
_REF = re.compile(r"^attachment:(\d{1,18})$")
MESSAGE = ("a simple case's result needs a site photo (现场照片): upload it to the case "
           "(POST /api/items/case/{id}/attachments) and name it in evidence_refs as 'attachment:<id>'")


def attachment_ids(refs: Any) -> list[int]:
    """The attachment ids ``refs`` names (``attachment:<id>``); other references are ignored."""
    if refs in (None, ""):
        return []
    if not isinstance(refs, list):
        raise ValidationFailed("evidence_refs must be a list", field=FIELD)
    ids: list[int] = []
    for ref in refs:
        m = _REF.match(str(ref).strip())
        if m and int(m.group(1)) not in ids:
            ids.append(int(m.group(1)))
    return ids


def require_site_photos(session: Session, case: Case, refs: Any, since: datetime | None) -> list[Attachment]:
    """The photos of ``case`` that ``refs`` names and that were uploaded at or after ``since``.

    Raises ``ValidationFailed`` naming ``evidence_refs`` when there is none.
    """
    ids = attachment_ids(refs)
    rows: list[Attachment] = []
    if ids:
        q = select(Attachment).where(Attachment.id.in_(ids), Attachment.item_type == "case",
                                     Attachment.item_id == case.id, Attachment.kind == "photo")
        if since is not None:
            q = q.where(Attachment.uploaded_at >= since)
        rows = list(session.execute(q.order_by(Attachment.id)).scalars())
    if not rows:
        raise ValidationFailed(MESSAGE.format(id=case.id), field=FIELD)
    return rows
