"""Duplicate reports (重复上报): find candidates at intake, merge a duplicate into its original.

A candidate is a case of the same category, within ``DUPLICATE_RADIUS_M`` metres (haversine)
and reported within ``DUPLICATE_WINDOW_H`` hours, that is not void. Merging voids the
duplicate with reason ``duplicate`` and moves its reporters, evidence references and uploaded
files (``attachment`` rows) onto the original, so nobody who reported it and nothing they sent is
lost; both ledgers show the merge, the original's naming the files that moved.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.errors import ValidationFailed
from caseflow.models import Attachment, Case, CaseReporter
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.workflow.case_actions import SERVICE_MARKER, SERVICE_TOKEN
from caseflow.workflow.engine import WorkflowCatalog

from .config import setting
from .geo import bounding_box, haversine_m
from .guard import commit_or_rollback, ensure_writable

EXCLUDED_STATES = ("voided",)


def find_candidates(session: Session, case: Case, *, radius_m: float | None = None,
                    window_h: float | None = None) -> list[dict[str, Any]]:
    """Earlier or later cases that look like the same problem as ``case``, nearest first."""
    if case.category_id is None or case.lat is None or case.lon is None:
        return []
    radius = float(radius_m if radius_m is not None else setting("DUPLICATE_RADIUS_M"))
    window = timedelta(hours=float(window_h if window_h is not None else setting("DUPLICATE_WINDOW_H")))
    at = case.reported_at or case.created_at
    lat0, lat1, lon0, lon1 = bounding_box(case.lat, case.lon, radius)
    rows = session.execute(_CANDIDATES, {
        "d_id": case.id, "d_category_id": case.category_id, "d_lat0": lat0, "d_lat1": lat1,
        "d_lon0": lon0, "d_lon1": lon1, "d_from": at - window, "d_to": at + window,
    }).all()
    found = []
    for row in rows:
        distance = haversine_m(case.lat, case.lon, row.lat, row.lon)
        if distance <= radius:
            found.append({"id": row.id, "number": row.number, "state": row.state,
                          "distance_m": round(distance, 1), "reported_at": row.reported_at.isoformat()})
    return sorted(found, key=lambda c: (c["distance_m"], c["id"]))


# Run at every intake, so built once with bound parameters: the same SQL as building it per
# call, without building the statement and its cache key each time.
_CANDIDATES = select(Case.id, Case.number, Case.state, Case.lat, Case.lon, Case.reported_at).where(
    Case.id != bindparam("d_id"), Case.category_id == bindparam("d_category_id"),
    Case.state.not_in(EXCLUDED_STATES),
    Case.lat.between(bindparam("d_lat0"), bindparam("d_lat1")),
    Case.lon.between(bindparam("d_lon0"), bindparam("d_lon1")),
    Case.reported_at.between(bindparam("d_from", type_=Case.reported_at.type),
                             bindparam("d_to", type_=Case.reported_at.type)),
)


def merge(session: Session, catalog: WorkflowCatalog, duplicate_id: int, original_id: int, *,
          actor: Actor, comment: str = "") -> Case:
    """Void ``duplicate_id`` as a duplicate of ``original_id`` and move its reporters and evidence
    (references and uploaded files).

    One transaction: the duplicate's ``void`` (reason ``duplicate``) and the original's
    ``absorb_duplicate`` are both ledgered; the reporters keep their channel and external
    reference, so a re-sent report still finds the original. Returns the original.
    """
    if duplicate_id == original_id:
        raise ValidationFailed("a case cannot be merged into itself", field="original_id")
    effects = Effects()
    with commit_or_rollback(session, effects):
        # Lock in id order so two merges of the same pair cannot deadlock.
        for item_id in sorted((duplicate_id, original_id)):
            ensure_writable(transition.lock_item(session, "case", item_id))
        original = session.get(Case, original_id)
        duplicate = session.get(Case, duplicate_id)
        if original is None or original.state in EXCLUDED_STATES:
            raise ValidationFailed("the original must be a case that is not void", field="original_id")
        if duplicate.category_id != original.category_id:
            raise ValidationFailed("a duplicate must have the original's category", field="original_id")
        transition.apply(session, catalog, "case", duplicate_id, "void", actor=actor, comment=comment,
                         data={"reason": "duplicate", "duplicate_of": original_id,
                               "duplicate_of_number": original.number}, effects=effects)
        moved = session.execute(
            update(CaseReporter).where(CaseReporter.case_id == duplicate_id)
            .values(case_id=original_id, merged_from_case_id=duplicate_id)
            .execution_options(synchronize_session=False)
        ).rowcount or 0
        evidence = list((duplicate.data or {}).get("evidence") or [])
        if evidence:
            original.data = {**(original.data or {}),
                             "evidence": list((original.data or {}).get("evidence") or []) + evidence}
        original.data = {**(original.data or {}),
                         "merged": list((original.data or {}).get("merged") or []) + [duplicate_id]}
        duplicate.data = {**(duplicate.data or {}), "merged_into": original_id}
        attachments = _move_attachments(session, duplicate_id, original_id)
        transition.apply(session, catalog, "case", original_id, "absorb_duplicate", actor=actor, comment=comment,
                         data={"duplicate_id": duplicate_id, "duplicate_number": duplicate.number,
                               "reporters_moved": moved, "evidence_moved": len(evidence),
                               "attachments_moved": attachments,
                               SERVICE_MARKER: SERVICE_TOKEN}, effects=effects)
    return original


def _move_attachments(session: Session, duplicate_id: int, original_id: int) -> list[dict[str, Any]]:
    """Move the duplicate's uploaded files (``attachment`` rows) onto the original.

    Returns what moved (id, name, sha256 and the duplicate's ledger entry it supported) for the
    original's ledger. ``ledger_seq`` is cleared: it numbered an entry in the duplicate's ledger,
    which would point at an unrelated entry of the original's.
    """
    rows = session.execute(
        select(Attachment).where(Attachment.item_type == "case", Attachment.item_id == duplicate_id)
        .order_by(Attachment.id).with_for_update()
    ).scalars().all()
    moved = []
    for row in rows:
        moved.append({"id": row.id, "name": row.original_name, "sha256": row.sha256,
                      "from_ledger_seq": row.ledger_seq})
        row.item_id = original_id
        row.ledger_seq = None
    session.flush()
    return moved
