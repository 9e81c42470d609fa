"""The handler's return request form (申请退单) on the case page: the reason; the basis chosen from
the maintained regulations and duty lists (grouped by kind) and/or cited in text; an optional
suggested department (active ones only); and attachments: evidence already on the case, ticked,
and new files.

New files are stored on the case through :func:`caseflow.services.attachments.store` and linked
to the request by id, as ``POST /api/returns`` links ``attachment_ids``; the returns service
checks them and decides what is required (a reason; a regulation or a basis in text). A refused
request shows the form again with what was typed and the problem naming the field; files
uploaded before the refusal stay as the case's evidence and are ticked, so they are not sent twice.
"""
from __future__ import annotations

from itertools import groupby
from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from caseflow.errors import DomainError
from caseflow.models import REGULATION_KINDS, Case, Regulation, ReturnRequest
from caseflow.security.actor import Actor
from caseflow.services import attachments, regulations, returns
from caseflow.workflow.engine import get_catalog

from .console_forms import text, whole, whole_list
from .i18n import current_language

FILES = "attachments"  # new files (multipart); refusals of a file name this field
KEEP = "attachment_ids"  # evidence already on the case, ticked
TYPED = ("reason", "basis", "basis_ref_id", "suggested_department_id")


def regulation_groups(session: Session) -> list[tuple[str, list[Regulation]]]:
    """The regulations and duty lists in force, by kind (regulations first), each by code."""
    order = {kind: i for i, kind in enumerate(REGULATION_KINDS)}
    rows = sorted(regulations.listing(session), key=lambda r: (order.get(r.kind, len(order)), r.code))
    return [(kind, list(group)) for kind, group in groupby(rows, key=lambda r: r.kind)]


def last_request(session: Session, case: Case) -> dict[str, Any] | None:
    """The case's latest return request, for the page: one waiting for a decision hides the form;
    a rejected one is shown with its reason (asking again needs a new basis)."""
    rr = session.execute(select(ReturnRequest).where(ReturnRequest.case_id == case.id)
                         .order_by(ReturnRequest.id.desc())).scalars().first()
    if rr is None:
        return None
    definition = get_catalog().definition(rr.workflow, rr.workflow_version)
    return {"id": rr.id, "state": rr.state, "state_label": definition.label(rr.state, current_language()),
            "waiting": rr.state in returns.OPEN_STATES, "reason": rr.reason, "basis": rr.basis,
            "basis_ref": rr.basis_ref, "created_at": rr.created_at, "decision_reason": rr.decision_reason or "",
            "attachments": len((rr.data or {}).get("attachment_ids") or []), "department_id": rr.department_id}


def context(session: Session, case: Case, kept: dict[str, Any] | None = None,
            refused: DomainError | None = None) -> dict[str, Any]:
    """What the case page needs for the form: the grouped regulations, the latest request, and
    (after a refusal) what was typed and the field the refusal named."""
    return {"return_regulations": regulation_groups(session), "return_last": last_request(session, case),
            "return_typed": kept or {}, "return_error_field": refused.field if refused is not None else None}


def typed(stored: list[int]) -> dict[str, Any]:
    """What the person sent, as sent (strings), with the evidence ticked plus the files stored."""
    values: dict[str, Any] = {name: (request.form.get(name) or "").strip() for name in TYPED}
    ticked = [int(v) for v in request.form.getlist(KEEP) if v.strip().isdigit()]
    values[KEEP] = ticked + [i for i in stored if i not in ticked]
    return values


def store_files(case_id: int, actor: Actor, files: list[FileStorage], stored: list[int]) -> None:
    """Store each file as the case's evidence, appending its id to ``stored`` as it goes (so a
    refusal of the third file keeps the first two); a refused file names ``attachments``."""
    from caseflow.extensions import db

    for upload in files:
        try:
            row = attachments.store(db.session(), item_type="case", item_id=case_id, actor=actor,
                                    filename=upload.filename, stream=upload.stream)
        except DomainError as exc:
            if exc.field in (None, "file"):
                exc.field = FILES
            raise
        stored.append(row.id)


def submit(session: Session, case_id: int, actor: Actor, files: list[FileStorage], stored: list[int]) -> ReturnRequest:
    """Read the form, store the new files, and ask the returns service (which commits)."""
    ticked = whole_list(KEEP)
    basis_ref_id = whole("basis_ref_id")
    suggested = whole("suggested_department_id")
    reason, basis = text("reason", max_len=returns.MAX_TEXT), text("basis", max_len=returns.MAX_TEXT)
    store_files(case_id, actor, files, stored)
    return returns.request_return(session, get_catalog(), case_id, actor, reason, basis,
                                  suggested_department_id=suggested, basis_ref_id=basis_ref_id,
                                  attachments=ticked + [i for i in stored if i not in ticked])
