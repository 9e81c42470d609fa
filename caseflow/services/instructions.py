"""The liaison's work on an emergency-linkage instruction (应急联动指令, seed 001 篇三).

Each step fires the instruction workflow through ``transition.apply`` and, in the same
transaction, queues what the transition alone does not: answers to 110, messages to the unit
head / group leader / leaders. Each function commits and runs effects after the commit.
A unit's transfer request (申请移交: :func:`request_transfer`, decided by the liaison with
:func:`transfer`, :func:`report_not_ours` or :func:`reject_transfer`) is declared in
``workflows/instruction.yaml`` with the actions of
:mod:`caseflow.workflow.instruction_transfer_actions`.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.deadlines.targets import resolve_targets
from caseflow.errors import InvalidTransition, PermissionDenied, ValidationFailed
from caseflow.models import AREA_KINDS, SEVERITIES, Category, Department, Grid, Instruction, Person, Regulation, utcnow
from caseflow.security.actor import Actor
from caseflow.workflow.engine import WorkflowCatalog
from caseflow.workflow.instruction_transfer_actions import open_request as open_transfer_request
from caseflow.workflow.instruction_transfer_actions import requests_of

from . import linkage110, routing, transition
from .active_records import require_active
from .unit_of_work import unit_of_work

NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-./]{0,39}$")
INTAKE_ROLES = ("linkage_110", "liaison")


# --------------------------------------------------------------------------- plumbing

@contextmanager
def _unit_of_work(session: Session) -> Iterator[Effects]:
    """Commit on success and then run the effects; roll back and discard on any error."""
    with unit_of_work(session, what="instruction") as effects:
        yield effects


def _step(session: Session, catalog: WorkflowCatalog, instruction_id: int, trigger: str, *, actor: Actor,
          data: dict[str, Any], comment: str = "", expected_state: str | None = None,
          then: Callable[[Instruction, datetime, Effects], None] | None = None) -> Instruction:
    """Fire ``trigger`` and run ``then(instruction, transition_time, effects)`` in the same transaction."""
    with _unit_of_work(session) as effects:
        item = transition.apply(session, catalog, "instruction", instruction_id, trigger, actor=actor,
                                data=data, comment=comment, effects=effects, expected_state=expected_state)
        assert isinstance(item, Instruction)
        if then is not None:
            then(item, item.updated_at, effects)
    return item


# --------------------------------------------------------------------------- intake

def _point_in_polygon(lon: float, lat: float, ring: list[list[float]]) -> bool:
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > lat) != (y2 > lat) and lon < (x2 - x1) * (lat - y1) / ((y2 - y1) or 1e-12) + x1:
            inside = not inside
    return inside


def grid_at(session: Session, lat: float, lon: float) -> Grid | None:
    """The active grid whose GeoJSON Polygon or MultiPolygon (outer rings) contains the point, if any.

    A deactivated grid no longer places anything: the point falls to another grid or to none.
    """
    for grid in session.execute(select(Grid).where(Grid.shape.is_not(None), Grid.active.is_(True))).scalars():
        shape = grid.shape or {}
        coords = shape.get("coordinates") or []
        polygons = [coords] if shape.get("type") == "Polygon" else coords if shape.get("type") == "MultiPolygon" else []
        for polygon in polygons:
            if polygon and _point_in_polygon(lon, lat, [list(p) for p in polygon[0]]):
                return grid
    return None


def _category(session: Session, category: str | int | None) -> Category:
    if category is None or (isinstance(category, str) and not category.strip()):
        raise ValidationFailed("category is required", field="category")
    if isinstance(category, int) or (isinstance(category, str) and category.isdigit()):
        row = session.get(Category, int(category))
    else:
        row = session.execute(select(Category).where(Category.code == category.strip())).scalar_one_or_none()
    if row is None:
        raise ValidationFailed(f"unknown category {category!r}", field="category")
    # A deactivated category takes no new instruction (those filed under it keep it).
    return require_active(row, "category")


def check_intake_actor(actor: Actor) -> None:
    """Only the 110 center's system or a liaison may file an instruction."""
    if not actor.has_any(*INTAKE_ROLES):
        raise PermissionDenied("only the 110 linkage center or a liaison may file instructions")


def receive(
    session: Session, catalog: WorkflowCatalog, *, actor: Actor, number: str, category: str | int | None,
    received_at: datetime | None = None, address: str = "", lat: float | None = None, lon: float | None = None,
    grid: str | None = None, area_kind: str | None = None, description: str = "", caller_contact: str = "",
    severity: str = "ordinary", leader_on_site: bool = False,
) -> tuple[Instruction, bool]:
    """File an instruction from 110; idempotent on ``number``: returns (instruction, created).

    The area is the given one, else the grid's (named, or containing the location), else main
    urban, the stricter 30-minute deadline (recorded as ``area_source=default``).
    """
    check_intake_actor(actor)
    number = (number or "").strip()
    if not NUMBER_RE.match(number):
        raise ValidationFailed("number must be 1-40 letters, digits or - _ . /", field="number")
    existing = session.execute(select(Instruction).where(Instruction.number == number)).scalar_one_or_none()
    if existing is not None:
        return existing, False
    cat = _category(session, category)
    if severity not in SEVERITIES:
        raise ValidationFailed(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
    if area_kind is not None and area_kind not in AREA_KINDS:
        raise ValidationFailed(f"area_kind must be one of {', '.join(AREA_KINDS)}", field="area_kind")
    if received_at is not None and received_at.tzinfo is None:
        raise ValidationFailed("received_at needs a time zone offset", field="received_at")
    grid_row: Grid | None = None
    if grid:
        grid_row = session.execute(select(Grid).where(Grid.code == grid)).scalar_one_or_none()
        if grid_row is None:
            raise ValidationFailed(f"unknown grid {grid!r}", field="grid")
    elif lat is not None and lon is not None:
        grid_row = grid_at(session, lat, lon)
    area_source = "given" if area_kind else ("grid" if grid_row else "default")
    kind = area_kind or (grid_row.area.kind if grid_row else "main_urban")
    item = Instruction(
        number=number, received_at=received_at or utcnow(), category_id=cat.id,
        grid_id=grid_row.id if grid_row else None, area_kind=kind, address=address, lat=lat, lon=lon,
        description=description, caller_contact=caller_contact, severity=severity,
        leader_on_site=bool(leader_on_site), data={"area_source": area_source},
    )
    role = "linkage_110" if "linkage_110" in actor.roles else "liaison"
    try:
        transition.start(session, catalog, item, workflow="instruction", actor=actor, role=role,
                         trigger="receive", payload={"number": number, "category": cat.code, "area_kind": kind})
    except IntegrityError:
        # The same number arrived twice at once: the other request won; return its row.
        session.rollback()
        existing = session.execute(select(Instruction).where(Instruction.number == number)).scalar_one_or_none()
        if existing is None:
            raise
        return existing, False
    return item, True


# --------------------------------------------------------------------------- steps

def sign(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
         comment: str = "") -> Instruction:
    """签收: the liaison signs for the instruction; 110 is told the time."""
    return _step(session, catalog, instruction_id, "sign", actor=actor, data={}, comment=comment,
                 then=lambda i, now, fx: linkage110.answer(session, i, "signed", now, fx, signed_at=i.signed_at))


def decline(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
            explanation: str) -> Instruction:
    """Out of the acceptance scope: decline on the spot and send the explanation to 110."""
    return _step(session, catalog, instruction_id, "decline", actor=actor, data={"explanation": explanation},
                 then=lambda i, now, fx: linkage110.answer(session, i, "declined", now, fx, explanation=explanation))


def _tell_route(session: Session, fx: Effects, item: Instruction, route: routing.Route, why: str) -> None:
    who = "应急行动组组长" if route.to_action_group else "单位负责人"
    body = f"{item.address} {item.description}（{who}，到场时限自派遣起算）"
    for person in route.contacts:
        linkage110.notify_person(session, fx, person, item, f"{why}：{route.department.name}", body,
                                 {"kind": why, "to_action_group": route.to_action_group})
    if route.deputy is not None:
        linkage110.notify_person(session, fx, route.deputy, item, "需领导到场", body, {"kind": "leader_on_site"})


def dispatch(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
             now: datetime | None = None, department_id: int | None = None, comment: str = "") -> Instruction:
    """派遣: route to the category's unit (or ``department_id``) and tell its head or group leader.

    ``now`` decides working hours vs the action group (defaults to the current time).
    """
    item = _load(session, instruction_id)
    dept = _department(session, department_id) if department_id else None
    # Read in the same transaction as the transition (which re-reads the row under its lock).
    route = routing.route_for(session, item, now or utcnow(), department=dept)
    return _step(session, catalog, instruction_id, "dispatch", actor=actor, data=route.as_data(),
                 comment=comment, then=lambda i, _now, fx: _tell_route(session, fx, i, route, "派遣"))


def explain_delay(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                  reason: str) -> Instruction:
    """The unit cannot be on site in time: record the reason and relay it to 110."""
    return _step(session, catalog, instruction_id, "explain_delay", actor=actor, data={"reason": reason},
                 then=lambda i, now, fx: linkage110.answer(session, i, "delay", now, fx, reason=reason))


def arrive(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
           situation: str, place: str = "") -> Instruction:
    """到场: the unit reports its arrival time and the basic situation; 110 is told."""
    def then(i: Instruction, now: datetime, fx: Effects) -> None:
        linkage110.answer(session, i, "arrived", now, fx, arrived_at=i.arrived_at, situation=situation,
                          on_time=arrival_on_time(session, i))

    return _step(session, catalog, instruction_id, "arrive", actor=actor,
                 data={"situation": situation, "place": place}, then=then)


def report_not_ours(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                    explanation: str) -> Instruction:
    """Not the bureau's after all: the liaison explains to 110; the unit keeps order meanwhile."""
    return _step(session, catalog, instruction_id, "report_not_ours", actor=actor,
                 data={"explanation": explanation},
                 then=lambda i, now, fx: linkage110.answer(session, i, "not_ours", now, fx, explanation=explanation))


def keep_order(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
               note: str, responsible_arrived: bool = False) -> Instruction:
    """Record that the unit keeps order on site (and when the responsible party has arrived)."""
    return _step(session, catalog, instruction_id, "keep_order", actor=actor,
                 data={"note": note, "responsible_arrived": responsible_arrived})


def report_severity(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                    severity: str) -> Instruction:
    """A larger or major event is reported to the deputy leader in charge (ledgered with the time)."""
    def then(i: Instruction, now: datetime, fx: Effects) -> None:
        report = (i.record("severity_reports") or [])[-1]
        deputy = session.get(Person, report["person_id"]) if report.get("person_id") else None
        label = "较大事件" if severity == "larger" else "重大事件"
        linkage110.notify_person(session, fx, deputy, i, f"{label}报告", f"{i.address} {i.description}",
                                 {"kind": "severity", "severity": severity})

    return _step(session, catalog, instruction_id, "report_severity", actor=actor,
                 data={"severity": severity}, then=then)


def report_to_principal(session: Session, catalog: WorkflowCatalog, instruction_id: int, *,
                        actor: Actor, comment: str = "") -> Instruction:
    """The deputy leader reports a major event on to the principal leader (ledgered with the time)."""
    def then(i: Instruction, now: datetime, fx: Effects) -> None:
        report = (i.record("severity_reports") or [])[-1]
        principal = session.get(Person, report["person_id"]) if report.get("person_id") else None
        linkage110.notify_person(session, fx, principal, i, "重大事件报告", f"{i.address} {i.description}",
                                 {"kind": "severity", "severity": "major"})

    return _step(session, catalog, instruction_id, "report_to_principal", actor=actor, data={},
                 comment=comment, then=then)


def report_result(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                  result: str, place: str = "") -> Instruction:
    """反馈: the unit reports the result to the liaison (who then reports it to 110)."""
    return _step(session, catalog, instruction_id, "report_result", actor=actor,
                 data={"result": result, "place": place})


def open_follow_up(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                   explanation: str) -> Instruction:
    """Cannot be finished on the spot: open a follow-up and explain it to 110."""
    return _step(session, catalog, instruction_id, "open_follow_up", actor=actor,
                 data={"explanation": explanation},
                 then=lambda i, now, fx: linkage110.answer(session, i, "follow_up", now, fx, explanation=explanation))


def transfer(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
             department_id: int, reason: str, now: datetime | None = None) -> Instruction:
    """移交: hand the instruction to another unit; both units are told and both sides recorded."""
    item = _load(session, instruction_id)
    old_dept = session.get(Department, item.department_id) if item.department_id else None
    route = routing.route_for(session, item, now or utcnow(), department=_department(session, department_id))
    old_head = old_dept.head if old_dept else None

    def then(i: Instruction, now_: datetime, fx: Effects) -> None:
        _tell_route(session, fx, i, route, "移交")
        linkage110.notify_person(session, fx, old_head, i, f"指令已移交至{route.department.name}", reason,
                                 {"kind": "transferred_away"})
        linkage110.answer(session, i, "transferred", now_, fx, from_unit=old_dept.name if old_dept else "",
                          to_unit=route.department.name, reason=reason)

    return _step(session, catalog, instruction_id, "transfer", actor=actor,
                 data={**route.as_data(), "reason": reason}, then=then)


# --------------------------------------------------------------------------- transfer requests (申请移交)

def request_transfer(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                     reason: str, basis: str = "", basis_ref_id: int | None = None,
                     suggested_department_id: int | None = None, kind: str = "other_unit") -> Instruction:
    """The unit asks the liaison to transfer the instruction (``kind`` ``other_unit``: not its own,
    optionally suggesting the unit) or to explain to 110 (``not_bureau``: not the bureau's).

    Needs a reason and a basis (``basis`` text or a regulation's ``basis_ref_id``), as a case's
    return request does; one request waits at a time. The liaisons are told. Nothing else
    changes until the liaison decides (:func:`transfer`, :func:`report_not_ours`,
    :func:`reject_transfer`): the arrival deadline keeps running.
    """
    item = _load(session, instruction_id)
    if open_transfer_request(item) is not None:
        raise InvalidTransition("申请移交已在等待联络员处理 / a transfer request of this instruction is already waiting",
                                details={"state": item.state})
    data = {"reason": reason, "basis": basis, "basis_ref_id": basis_ref_id,
            "suggested_department_id": suggested_department_id, "kind": kind}

    def then(i: Instruction, now: datetime, fx: Effects) -> None:
        req = open_transfer_request(i) or {}
        unit = i.department.name if i.department else ""
        what = "非本局事项，申请向110说明" if req.get("kind") == "not_bureau" else "非本单位职责，申请移交"
        ref = session.get(Regulation, req["basis_ref_id"]) if req.get("basis_ref_id") else None
        basis = " ".join(x for x in (f"{ref.code} {ref.title}" if ref else "", req.get("basis") or "") if x)
        body = f"{unit}：{req.get('reason', '')}（依据：{basis}）"
        for person in resolve_targets(session, i, "liaison"):
            linkage110.notify_person(session, fx, person, i, what, body,
                                     {"kind": "transfer_requested", "request_kind": req.get("kind")})

    return _step(session, catalog, instruction_id, "request_transfer", actor=actor, data=data, then=then)


def reject_transfer(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                    reason: str) -> Instruction:
    """The liaison rejects the unit's transfer request with a reason; the unit keeps the instruction
    and the person who asked is told."""
    def then(i: Instruction, now: datetime, fx: Effects) -> None:
        req = (requests_of(i) or [{}])[-1]
        asker = session.get(Person, req["requested_by_id"]) if req.get("requested_by_id") else None
        linkage110.notify_person(session, fx, asker, i, "移交申请未同意", reason, {"kind": "transfer_rejected"})

    return _step(session, catalog, instruction_id, "reject_transfer", actor=actor, data={"reason": reason}, then=then)


def withdraw_transfer_request(session: Session, catalog: WorkflowCatalog, instruction_id: int, *,
                              actor: Actor) -> Instruction:
    """The unit withdraws its waiting transfer request."""
    return _step(session, catalog, instruction_id, "withdraw_transfer_request", actor=actor, data={})


def report_to_110(session: Session, catalog: WorkflowCatalog, instruction_id: int, *, actor: Actor,
                  comment: str = "") -> Instruction:
    """The liaison reports the result to 110; the instruction is closed."""
    def then(i: Instruction, now: datetime, fx: Effects) -> None:
        linkage110.answer(session, i, "result", now, fx, result=i.record("result"), place=i.record("place"),
                          follow_up=i.record("follow_up"), arrived_at=i.arrived_at)

    return _step(session, catalog, instruction_id, "report_to_110", actor=actor, data={}, comment=comment,
                 then=then)


# --------------------------------------------------------------------------- reading

def _load(session: Session, instruction_id: int) -> Instruction:
    from caseflow.errors import NotFound

    item = session.get(Instruction, instruction_id)
    if item is None:
        raise NotFound(f"instruction {instruction_id} not found")
    return item


def _department(session: Session, department_id: int) -> Department:
    """The unit an instruction is dispatched or transferred to: it must exist and be active."""
    dept = session.get(Department, int(department_id))
    if dept is None:
        raise ValidationFailed(f"department {department_id} does not exist", field="department_id")
    return require_active(dept, "department_id")


def arrival_deadline(session: Session, instruction: Instruction) -> Any:
    """The arrival deadline row of the latest dispatch (a transfer re-arms it), or None."""
    from caseflow.models import Deadline

    return session.execute(
        select(Deadline).where(Deadline.item_type == "instruction", Deadline.item_id == instruction.id,
                               Deadline.key == "arrival").order_by(Deadline.id.desc()).limit(1)
    ).scalar_one_or_none()


def arrival_on_time(session: Session, instruction: Instruction) -> bool | None:
    """On site within 30/60 minutes of the (latest) dispatch; None while not yet arrived."""
    if instruction.arrived_at is None:
        return None
    row = arrival_deadline(session, instruction)
    if row is None:
        return None
    return instruction.arrived_at <= row.due_at
