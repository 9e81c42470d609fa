"""Return for reassignment (申请退单, seed 001 篇五 五(三)2): a department that believes a case is not
its duty asks, within a window after dispatch, to hand it back; the dispatcher decides.

* The request is its own workflow item (``return_request.yaml``), started with the case's
  ``request_return`` step in one transaction; both ledgers show it.
* While it waits the department's running limits are paused (``RETURN_PAUSES_CLOCK``, default
  on) with the shared mechanics of :mod:`caseflow.deadlines.pausing`; the dispatcher's review
  deadline and its escalation come from the YAML.
* Approve: the case goes to another department (``return_approved``: a re-dispatch whose sign
  and handle limits start fresh); ``case.data['returned_by']`` and the ledger mark the first
  department's record as *returned*, not failed. Reject: the case stays and its clock resumes.
* After a rejection the same department may ask again only with a new basis, and that request
  goes to the center's leader (state ``leader_review``; a dispatcher cannot decide it).
* No ping-pong: once a case has ``RETURN_MAX_APPROVED`` approved returns (default 2), the next
  request escalates the case instead: it is changed to the difficult tier and reported to the
  district center (``change_tier`` + ``register`` + ``escalate_to_district``), where the
  center leads joint handling. A case already difficult sends such a request to the leader.
* Reports: :func:`return_report` (approved returns and instruction transfers / not-ours by
  category and from/to department), :func:`reassign_category` (ledgered on item type
  ``category``), :func:`return_indicators`. A request's review time is :func:`review_seconds`
  (wall clock, request to decision), the one definition the analysis indicators use too.
  Instructions' transfer requests (申请移交, :mod:`caseflow.workflow.instruction_transfer_actions`)
  count in both reports: approved ones as transfers / not-ours, and per department in
  :func:`return_indicators` (:func:`instruction_transfer_requests`).
* On-time scores (the rule in "counting fairly", shared with :mod:`caseflow.analysis`): an
  approved return takes the case off the returning department's record
  (:func:`counts_against_on_time`, :func:`returned_pairs`) and restarts the case's on-time
  clock at the re-dispatch (:func:`on_time_clock_from`, :func:`limit_counts_late`); the SQL
  forms are :func:`returned_clause` and :func:`fell_in_returned_time`.
"""
from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, literal, select
from sqlalchemy import case as sql_case
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ColumnElement

from caseflow.config import DefaultConfig
from caseflow.deadlines.clock import item_calendar
from caseflow.effects import Effects
from caseflow.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from caseflow.models import (
    Attachment,
    Case,
    Category,
    Department,
    Instruction,
    LedgerEntry,
    Regulation,
    ReturnRequest,
    utcnow,
)
from caseflow.models.base import UTCDateTime
from caseflow.security.actor import Actor
from caseflow.workflow.engine import WorkflowCatalog
from caseflow.workflow.return_actions import marked
from caseflow.worktime import parse_duration

from . import ledger, transition
from .access import deny, record_audit
from .active_records import require_active

# The settings and their defaults are declared once, in caseflow/config.py.
DEFAULTS: dict[str, Any] = {name: getattr(DefaultConfig, name) for name in (
    "RETURN_WINDOW_SIMPLE", "RETURN_WINDOW_GENERAL", "RETURN_WINDOW_COMPLEX", "RETURN_WINDOW_DIFFICULT",
    "RETURN_PAUSES_CLOCK", "RETURN_MAX_APPROVED")}
OPEN_STATES = ("requested", "leader_review")
# Outcomes that take the case off the department's record without blame.
RETURNED_STATES = ("approved", "escalated")
# Case ledger triggers that hand the case to a (new) department: the window counts from the last.
ASSIGN_TRIGGERS = ("dispatch", "redispatch", "return_approved", "start_joint_handling")
INSTRUCTION_RETURN_TRIGGERS = ("transfer", "report_not_ours")
MAX_TEXT = 4000
# Who acts for the rule when a request escalates the case (the ledger shows client "return_limit").
LIMIT_ACTOR = Actor(person_id=None, roles=frozenset({"dispatcher"}), client="return_limit", name="退单次数上限")


# --------------------------------------------------------------------------- settings and plumbing


def setting(name: str) -> Any:
    """``app.config[name]`` when an app is active and sets it, else the default here."""
    from flask import current_app, has_app_context

    if has_app_context() and name in current_app.config:
        return current_app.config[name]
    return DEFAULTS[name]


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _tz() -> ZoneInfo:
    from flask import current_app, has_app_context

    return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai")


def _is_lock_conflict(exc: OperationalError) -> bool:
    text = str(exc.orig).lower() if exc.orig else str(exc).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text


@contextmanager
def _unit_of_work(session: Session, effects: Effects) -> Iterator[None]:
    """One transaction: commit then run effects, or roll back, drop effects and keep any denial."""
    try:
        yield
        session.commit()
    except (StaleDataError, IntegrityError) as exc:
        session.rollback()
        effects.discard()
        raise Conflict("the case or request was changed by someone else; reload and try again") from exc
    except OperationalError as exc:
        session.rollback()
        effects.discard()
        if _is_lock_conflict(exc):
            raise Conflict("the case or request was changed by someone else; reload and try again") from exc
        raise
    except BaseException as exc:
        session.rollback()
        effects.discard()
        record_audit(session, exc)
        raise
    effects.dispatch()


def _text(value: Any, name: str, *, required: bool) -> str:
    text = str(value).strip() if value is not None else ""
    if required and not text:
        raise ValidationFailed(f"{name} is required", field=name)
    if len(text) > MAX_TEXT:
        raise ValidationFailed(f"{name} is longer than {MAX_TEXT} characters", field=name)
    return text


def _department_id(session: Session, raw: Any, name: str) -> int:
    """A department that work may go to (suggested, re-dispatched, made responsible): it must
    exist and be active."""
    try:
        dept_id = int(raw)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must be a department's id", field=name) from None
    dept = session.get(Department, dept_id)
    if dept is None:
        raise ValidationFailed(f"department {dept_id} does not exist", field=name)
    return require_active(dept, name).id


def _aware(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationFailed(f"{name} must be a time with a time zone", field=name)
    return value


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip().casefold()


# --------------------------------------------------------------------------- window and history


def window_for(tier: str) -> str:
    """The configured return window of ``tier`` (``RETURN_WINDOW_<TIER>``), e.g. ``2h``."""
    return str(setting(f"RETURN_WINDOW_{tier.upper()}"))


def assigned_at(session: Session, case: Case) -> datetime:
    """When the case reached its current department: its last dispatch-like step, else its creation."""
    at = session.execute(
        select(func.max(LedgerEntry.at)).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == case.id,
                                               LedgerEntry.trigger.in_(ASSIGN_TRIGGERS))
    ).scalar()
    return at or case.created_at


def window_closes_at(session: Session, case: Case) -> datetime:
    """The end of the department's return window (working time after the dispatch)."""
    cal = item_calendar(session, case)
    try:
        window = parse_duration(window_for(case.tier), day_length=cal.day_length)
    except ValueError:
        raise ValidationFailed(f"RETURN_WINDOW_{case.tier.upper()} is not a duration", field="window") from None
    return cal.add_working(assigned_at(session, case), window)


def _check_window(session: Session, case: Case, now: datetime) -> None:
    cal = item_calendar(session, case)
    window = parse_duration(window_for(case.tier), day_length=cal.day_length)
    since = assigned_at(session, case)
    if cal.working_between(since, now) > window:
        closes = cal.add_working(since, window).astimezone(_tz())
        raise ValidationFailed(
            f"申请退单期限已过（{closes:%Y-%m-%d %H:%M} 截止）/ the return window closed at {closes:%Y-%m-%d %H:%M}",
            field="window", details={"closed_at": closes.isoformat(), "window": window_for(case.tier)})


def _requests(session: Session, case_id: int, department_id: int | None = None) -> list[ReturnRequest]:
    q = select(ReturnRequest).where(ReturnRequest.case_id == case_id)
    if department_id is not None:
        q = q.where(ReturnRequest.department_id == department_id)
    return list(session.execute(q.order_by(ReturnRequest.id)).scalars())


def _same_basis(a_ref: int | None, a_text: str, b: ReturnRequest) -> bool:
    """Bases repeat when they cite the same regulation, or the same words (spacing and case aside)."""
    if a_ref is not None and a_ref == b.basis_ref_id:
        return True
    return bool(_normal(a_text)) and _normal(a_text) == _normal(b.basis)


# --------------------------------------------------------------------------- the request


def resolve_basis(session: Session, basis: Any, basis_ref_id: Any) -> tuple[str, str, int | None]:
    """(kind, text, ref id): a Regulation row (its kind), or free text; one of them is required.

    The rule of a return request's basis, shared by an instruction's transfer request
    (:mod:`caseflow.workflow.instruction_transfer_actions`).
    """
    text = _text(basis, "basis", required=False)
    if basis_ref_id not in (None, ""):
        try:
            ref = session.get(Regulation, int(basis_ref_id))
        except (TypeError, ValueError):
            ref = None
        if ref is None or not ref.active:
            raise ValidationFailed(f"regulation {basis_ref_id} does not exist or is no longer in force",
                                   field="basis_ref_id")
        return ref.kind, text, ref.id
    if not text:
        raise ValidationFailed("basis is required: choose a regulation or duty list, or cite the basis in text",
                               field="basis")
    return "free_text", text, None


def _check_requester(session: Session, actor: Actor, case: Case) -> None:
    label = f"case {case.id}"
    if "handler" not in actor.roles or actor.department_id is None:
        raise deny(actor, "request_return", label, "only a handling department can ask to return a case")
    if actor.department_id not in case.scope_department_ids():
        raise deny(actor, "request_return", label, "item belongs to another department",
                   NotFound(f"case {case.id} not found"))
    if actor.department_id != case.department_id:
        raise deny(actor, "request_return", label, "only the lead (holding) department can ask to return the case")


def _attachment_ids(session: Session, case_id: int, raw: list[Any]) -> list[int]:
    ids = []
    for value in raw:
        try:
            att = session.get(Attachment, int(value))
        except (TypeError, ValueError):
            att = None
        if att is None or not (att.item_type == "case" and att.item_id == case_id):
            raise ValidationFailed(f"attachment {value} is not evidence of this case", field="attachments")
        ids.append(att.id)
    return ids


def request_return(session: Session, catalog: WorkflowCatalog, case_id: int, actor: Actor, reason: str, basis: str,
                   suggested_department_id: int | None = None, basis_ref_id: int | None = None,
                   attachments: list[Any] | None = None) -> ReturnRequest:
    """A handling department asks to return ``case_id``; commits and returns the request.

    ``basis`` is free text, or may be empty when ``basis_ref_id`` names a :class:`Regulation`
    (a regulation or duty list). ``attachments`` are ids of evidence already on the case and/or
    ``(filename, stream)`` pairs, stored on the request after it is committed.

    Raises ``ValidationFailed`` naming ``reason``, ``basis``, ``basis_ref_id``,
    ``suggested_department_id``, ``attachments`` or ``window`` (the return window closed);
    ``PermissionDenied`` / ``NotFound`` for a department that does not hold the case;
    ``InvalidTransition`` when the case is not being handled; ``Conflict`` when a request of
    the case already waits. The request state is ``requested`` (dispatcher), ``leader_review``
    (a repeated request with a new basis) or ``escalated`` (the return limit was reached).
    """
    effects = Effects()
    files = [a for a in (attachments or []) if isinstance(a, (tuple, list))]
    refs = [a for a in (attachments or []) if not isinstance(a, (tuple, list))]
    with _unit_of_work(session, effects):
        case = transition.lock_item(session, "case", case_id)
        assert isinstance(case, Case)
        if case.read_only:
            raise InvalidTransition(f"case {case.number} is archived and read-only", details={"state": case.state})
        _check_requester(session, actor, case)
        reason_text = _text(reason, "reason", required=True)
        kind, basis_text, ref_id = resolve_basis(session, basis, basis_ref_id)
        suggested = None
        if suggested_department_id not in (None, ""):
            suggested = _department_id(session, suggested_department_id, "suggested_department_id")
            if suggested == actor.department_id:
                raise ValidationFailed("suggest another department than your own", field="suggested_department_id")
        attachment_ids = _attachment_ids(session, case.id, refs)
        definition = catalog.definition(case.workflow, case.workflow_version)
        if definition.transition_from("request_return", case.state) is None:
            raise InvalidTransition(f"case {case.number} cannot be returned while '{case.state}'",
                                    details={"state": case.state})
        if (case.data or {}).get("deferred"):
            raise InvalidTransition(f"case {case.number} is deferred; resume it first", details={"state": case.state})
        if any(r.state in OPEN_STATES for r in _requests(session, case.id)):
            raise Conflict(f"a return request of case {case.number} is already waiting for a decision",
                           details={"state": case.state})
        now = utcnow()
        _check_window(session, case, now)

        mine = _requests(session, case.id, actor.department_id)
        rejected = [r for r in mine if r.state == "rejected"]
        if any(_same_basis(ref_id, basis_text, r) for r in rejected):
            raise ValidationFailed("该依据已被驳回，再次申请须提供新的依据 / this basis was rejected before; "
                                   "a new request needs a new basis", field="basis")
        approved = sum(1 for r in _requests(session, case.id) if r.state == "approved")
        over_limit = approved >= int(setting("RETURN_MAX_APPROVED"))
        escalate = over_limit and case.tier != "difficult"
        reviewer = "leader" if rejected or (over_limit and not escalate) else "dispatcher"

        rr = ReturnRequest(
            case_id=case.id, department_id=actor.department_id, requested_by_id=actor.person_id,
            reason=reason_text, basis=basis_text, basis_kind=kind, basis_ref_id=ref_id,
            suggested_department_id=suggested, attempt=len(mine) + 1, category_id=case.category_id,
            reviewer_role=reviewer, data={"attachment_ids": attachment_ids},
        )
        transition.start(session, catalog, rr, workflow="return_request", actor=actor, role="handler",
                         trigger="request", effects=effects, commit=False,
                         payload={"case_id": case.id, "case_number": case.number, "reason": reason_text,
                                  "basis_kind": kind, "basis": basis_text, "basis_ref_id": ref_id,
                                  "suggested_department_id": suggested, "attempt": rr.attempt,
                                  "attachment_ids": attachment_ids})
        if escalate:
            transition.apply(session, catalog, "return_request", rr.id, "escalate_case", actor=actor,
                             data=marked({"approved_returns": approved}), comment="", effects=effects, locked=rr)
            _escalate_case(session, catalog, case, rr, approved, effects)
        else:
            transition.apply(session, catalog, "case", case.id, "request_return", actor=actor, locked=case,
                             data=marked({"return_request_id": rr.id, "reason": reason_text,
                                          "pause_clock": _flag(setting("RETURN_PAUSES_CLOCK"))}),
                             comment="", effects=effects)
            if reviewer == "leader":
                transition.apply(session, catalog, "return_request", rr.id, "refer_to_leader", actor=actor,
                                 data=marked({"rejected_before": [r.id for r in rejected],
                                              "approved_returns": approved}),
                                 comment="", effects=effects, locked=rr)
    if files:
        _store_files(session, rr, actor, files)
    return rr


def _escalate_case(session: Session, catalog: WorkflowCatalog, case: Case, rr: ReturnRequest, approved: int,
                   effects: Effects) -> None:
    """The return limit is reached: difficult tier, registered and reported to the district center."""
    from caseflow.services.cases import tiers
    from caseflow.workflow.case_actions import SERVICE_MARKER, SERVICE_TOKEN

    reason = f"已退单 {approved} 次，第 {approved + 1} 次退单申请（#{rr.id}）转区城运中心联合处置"
    transition.apply(session, catalog, "case", case.id, "change_tier", actor=LIMIT_ACTOR, locked=case,
                     data={"tier": "difficult", "reason": reason, "return_request_id": rr.id,
                           SERVICE_MARKER: SERVICE_TOKEN}, comment="", effects=effects)
    # The tier service's own re-start (no commit of its own: we are one transaction).
    tiers._restart(session, catalog, case, "difficult", reason, LIMIT_ACTOR, effects)
    transition.apply(session, catalog, "case", case.id, "register", actor=LIMIT_ACTOR, locked=case, data={},
                     comment=reason, effects=effects)
    transition.apply(session, catalog, "case", case.id, "escalate_to_district", actor=LIMIT_ACTOR, locked=case,
                     data={"reason": reason, "return_request_id": rr.id}, comment="", effects=effects)


def _store_files(session: Session, rr: ReturnRequest, actor: Actor, files: list[Any]) -> None:
    """Store ``(filename, stream)`` pairs on the committed request (each file commits its own row)."""
    from . import attachments as store

    ids = list((rr.data or {}).get("attachment_ids") or [])
    for filename, stream in files:
        ids.append(store.store(session, item_type="return_request", item_id=rr.id, actor=actor,
                               filename=filename, stream=stream).id)
    rr.data = {**(rr.data or {}), "attachment_ids": ids}
    session.commit()


# --------------------------------------------------------------------------- decisions


def _lock_pair(session: Session, request_id: int) -> tuple[ReturnRequest, Case]:
    """Lock the case, then the request (always in this order, so decisions and requests never deadlock)."""
    case_id = session.execute(select(ReturnRequest.case_id).where(ReturnRequest.id == request_id)).scalar()
    if case_id is None:
        raise NotFound(f"return_request {request_id} not found")
    case = transition.lock_item(session, "case", case_id)
    rr = transition.lock_item(session, "return_request", request_id)
    assert isinstance(case, Case) and isinstance(rr, ReturnRequest)
    return rr, case


def approve(session: Session, catalog: WorkflowCatalog, request_id: int, actor: Actor,
            department_id: int | None = None, opinion: str = "") -> ReturnRequest:
    """Approve the request and re-dispatch the case to ``department_id`` (default: the suggested one).

    One transaction: the request is approved and the case's ``return_approved`` step hands it to
    the new department, whose sign/handle limits start fresh; the old department's paused limits
    are cancelled and its record shows the case as returned. A ``leader_review`` request needs
    the leader role (``PermissionDenied`` otherwise) and the leader's ``opinion``
    (``ValidationFailed`` naming ``opinion`` without one, as the leader's console asks); the
    dispatcher's opinion is optional. The opinion is kept as the decision's reason, as a
    rejection's reason is.
    """
    effects = Effects()
    with _unit_of_work(session, effects):
        rr, case = _lock_pair(session, request_id)
        leader_step = rr.state == "leader_review"
        target_raw = department_id if department_id not in (None, "") else rr.suggested_department_id
        data: dict[str, Any] = {"department_id": target_raw}
        opinion_text = str(opinion or "").strip()
        if opinion_text:
            data["reason"] = opinion_text  # record_return_decision keeps it as the decision's reason
        # The request first: its role check (dispatcher / leader) runs before anything else is said.
        transition.apply(session, catalog, "return_request", rr.id, "approve_return", actor=actor, locked=rr,
                         data=marked(data), comment="", effects=effects)
        if leader_step and not opinion_text:
            raise ValidationFailed("领导审核须填写审核意见 / the leader's opinion is required", field="opinion")
        _text(opinion_text, "opinion", required=False)  # too long: refused, and everything rolls back
        target = _department_id(session, target_raw, "department_id")
        if target == rr.department_id:
            raise ValidationFailed("choose another department than the one returning the case", field="department_id")
        if case.read_only or case.department_id != rr.department_id:
            raise InvalidTransition(f"case {case.number} is no longer with the requesting department",
                                    details={"state": case.state})
        rr.to_department_id = target
        transition.apply(session, catalog, "case", case.id, "return_approved", actor=actor, locked=case,
                         data=marked({"department_id": target, "return_request_id": rr.id,
                                      "reason": f"同意退单（申请 #{rr.id}）：{rr.reason}"}),
                         comment="", effects=effects)
    return rr


def reject(session: Session, catalog: WorkflowCatalog, request_id: int, actor: Actor, reason: str) -> ReturnRequest:
    """Reject the request with a reason: the case stays with the department and its clock resumes."""
    effects = Effects()
    with _unit_of_work(session, effects):
        rr, case = _lock_pair(session, request_id)
        transition.apply(session, catalog, "return_request", rr.id, "reject_return", actor=actor, locked=rr,
                         data=marked({"reason": str(reason or "").strip()}), comment="", effects=effects)
        _close_on_case(session, catalog, case, rr, "return_rejected", actor, effects,
                       {"reason": str(reason).strip()})
    return rr


def withdraw(session: Session, catalog: WorkflowCatalog, request_id: int, actor: Actor) -> ReturnRequest:
    """The requesting department withdraws its waiting request; the case's clock resumes."""
    effects = Effects()
    with _unit_of_work(session, effects):
        rr, case = _lock_pair(session, request_id)
        transition.apply(session, catalog, "return_request", rr.id, "withdraw", actor=actor, locked=rr,
                         data=marked({}), comment="", effects=effects)
        _close_on_case(session, catalog, case, rr, "return_withdrawn", actor, effects, {})
    return rr


def _close_on_case(session: Session, catalog: WorkflowCatalog, case: Case, rr: ReturnRequest, trigger: str,
                   actor: Actor, effects: Effects, data: dict[str, Any]) -> None:
    """The case's side of a rejected or withdrawn request: resume what it paused, ledger it."""
    pending = (case.data or {}).get("return_pending") or {}
    if pending.get("return_request_id") != rr.id:
        return  # the case moved on (re-dispatched, tier change): nothing of ours is paused
    definition = catalog.definition(case.workflow, case.workflow_version)
    if definition.transition_from(trigger, case.state) is not None:
        transition.apply(session, catalog, "case", case.id, trigger, actor=actor, locked=case,
                         data=marked({**data, "return_request_id": rr.id}), comment="", effects=effects)
        return
    # The case left the state the request paused (its rows were cancelled then): record the outcome.
    case.data = {**(case.data or {}), "return_pending": None}
    role = next((r for r in ("dispatcher", "leader", "handler") if r in actor.roles), "")
    ledger.append(session, item_type="case", item_id=case.id, trigger=trigger, actor=actor, role=role, at=utcnow(), from_state=case.state, to_state=case.state, workflow=case.workflow,
                  workflow_version=case.workflow_version, payload={**data, "return_request_id": rr.id})
    session.flush()


# --------------------------------------------------------------------------- learning from returns


def return_report(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Approved returns in ``[start, end)`` by category and from/to department, most frequent first.

    Instructions count too: each ``transfer`` (移交) and ``report_not_ours`` (非本局事项) entry of
    the instruction ledger is a return from the unit that held it (``to`` is empty for
    not-ours). Each row: category, from, to, ``cases``, ``instructions``, ``count``, the
    category's current responsible department, and ``reassign_suggested`` when the returns
    point at a department other than the responsible one.
    """
    _aware(start, "start")
    _aware(end, "end")
    counts: dict[tuple[int | None, int | None, int | None], dict[str, int]] = defaultdict(
        lambda: {"cases": 0, "instructions": 0})
    for cat, src, dst in session.execute(
        select(ReturnRequest.category_id, ReturnRequest.department_id, ReturnRequest.to_department_id).where(
            ReturnRequest.state == "approved", ReturnRequest.decided_at >= start, ReturnRequest.decided_at < end)
    ):
        counts[(cat, src, dst)]["cases"] += 1
    for src, dst, cat in _instruction_returns(session, start, end):
        counts[(cat, src, dst)]["instructions"] += 1
    depts = {d.id: d for d in session.execute(select(Department)).scalars()}
    cats = {c.id: c for c in session.execute(select(Category)).scalars()}
    rows = []
    for (cat_id, src, dst), n in counts.items():
        cat = cats.get(cat_id) if cat_id is not None else None
        responsible = cat.responsible_department_id if cat else None
        rows.append({
            "category_id": cat_id, "category_code": cat.code if cat else None, "category": cat.name if cat else None,
            "from_department_id": src, "from_department": depts[src].name if src in depts else None,
            "to_department_id": dst, "to_department": depts[dst].name if dst in depts else None,
            "cases": n["cases"], "instructions": n["instructions"], "count": n["cases"] + n["instructions"],
            "responsible_department_id": responsible,
            "responsible_department": depts[responsible].name if responsible in depts else None,
            "reassign_suggested": cat is not None and dst is not None and dst != responsible,
        })
    return sorted(rows, key=lambda r: (-r["count"], r["category_code"] or "", r["from_department_id"] or 0,
                                       r["to_department_id"] or 0))


def _instruction_returns(session: Session, start: datetime, end: datetime) -> list[tuple[int | None, int | None,
                                                                                          int | None]]:
    """(from department, to department, category) of each instruction transfer / not-ours entry."""
    out = []
    rows = session.execute(
        select(LedgerEntry.trigger, LedgerEntry.payload, Instruction.department_id, Instruction.category_id)
        .join(Instruction, Instruction.id == LedgerEntry.item_id)
        .where(LedgerEntry.item_type == "instruction", LedgerEntry.trigger.in_(INSTRUCTION_RETURN_TRIGGERS),
               LedgerEntry.at >= start, LedgerEntry.at < end)
    ).all()
    for trigger, payload, holder, category_id in rows:
        payload = payload or {}
        if trigger == "transfer":
            src = payload.get("from_department_id", payload.get("previous_department_id"))
            dst = payload.get("to_department_id", payload.get("department_id"))
            out.append((_int(src), _int(dst), category_id))
        else:
            out.append((holder, None, category_id))
    return out


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def reassign_category(session: Session, category_id: int, department_id: int, actor: Actor) -> Category:
    """Make ``department_id`` responsible for ``category_id`` (admin; the one-click change of the
    return report). Ledgered on item type ``category``; commits and returns the category."""
    effects = Effects()
    with _unit_of_work(session, effects):
        if "admin" not in actor.roles:
            raise deny(actor, "reassign_category", f"category {category_id}",
                       "only an administrator changes a category's responsible department")
        cat = session.execute(select(Category).where(Category.id == category_id).with_for_update()).scalar_one_or_none()
        if cat is None:
            raise NotFound(f"category {category_id} not found")
        dept_id = _department_id(session, department_id, "department_id")
        if dept_id == cat.responsible_department_id:
            raise ValidationFailed("that department is already responsible for the category", field="department_id")
        previous = cat.responsible_department_id
        cat.responsible_department_id = dept_id
        ledger.append(session, item_type="category", item_id=cat.id, trigger="reassign_department", actor=actor,
                      role="admin", at=utcnow(), from_state=None, to_state=None,
                      payload={"category_code": cat.code, "from_department_id": previous,
                               "to_department_id": dept_id, "source": "return_report"})
        session.flush()
    return cat


# --------------------------------------------------------------------------- counting fairly


# Review time (审核用时) of a return request: from the request to the dispatcher's (or the
# leader's) decision, on the wall clock, not in working time: how long the department waited,
# nights included. One definition (the SQL below) for the returns report and the analysis
# indicators. Only reviewed requests have one: escalated ones were decided by the return limit,
# withdrawn ones never were.
REVIEWED_STATES = ("approved", "rejected")


def review_seconds(seconds: Callable[[Any, Any], ColumnElement[float]], rr: Any = ReturnRequest,
                   as_of: datetime | None = None) -> ColumnElement[float]:
    """SQL: request ``rr``'s review time in wall-clock seconds; NULL unless it was reviewed
    (approved or rejected, decided before ``as_of`` when given).

    ``seconds(later, earlier)`` is the backend's duration expression,
    :meth:`caseflow.analysis.sql.Dialect.seconds`.
    """
    conds = [rr.state.in_(REVIEWED_STATES), rr.decided_at.is_not(None)]
    if as_of is not None:
        conds.append(rr.decided_at < as_of)
    return sql_case((and_(*conds), seconds(rr.decided_at, rr.created_at)))


def _seconds_of(session: Session) -> Callable[[Any, Any], ColumnElement[float]]:
    from caseflow.analysis.sql import Dialect

    return Dialect(session.get_bind().dialect.name, "UTC", 0).seconds


def return_indicators(session: Session, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Per department, for requests made in ``[start, end)``: requests, approved, rejected, pending,
    escalated, withdrawn; cases received (dispatch-like steps to it); ``return_rate`` = requests /
    received; ``approval_rate`` = approved / (approved + rejected); ``mean_review_s`` (the mean
    :func:`review_seconds` of its reviewed requests: request to decision, wall clock).

    Instructions: ``instruction_returns`` (transfers away and not-ours, whoever started them)
    and the unit's own transfer requests made in the period (``instruction_requests``, of which
    ``instruction_requests_approved``, ``instruction_requests_rejected``; the rest wait, were
    withdrawn or superseded). Rates are None when their denominator is zero.
    """
    _aware(start, "start")
    _aware(end, "end")
    stats: dict[int, dict[str, Any]] = defaultdict(lambda: {
        "received": 0, "requests": 0, "approved": 0, "rejected": 0, "pending": 0, "escalated": 0,
        "withdrawn": 0, "review_s": [], "instruction_returns": 0, "instruction_requests": 0,
        "instruction_requests_approved": 0, "instruction_requests_rejected": 0})
    for payload, in session.execute(
        select(LedgerEntry.payload).where(LedgerEntry.item_type == "case", LedgerEntry.trigger.in_(ASSIGN_TRIGGERS),
                                          LedgerEntry.at >= start, LedgerEntry.at < end)
    ):
        dept = _int((payload or {}).get("department_id"))
        if dept is not None:
            stats[dept]["received"] += 1
    review = review_seconds(_seconds_of(session))
    for dept_id, state, review_s in session.execute(
        select(ReturnRequest.department_id, ReturnRequest.state, review).where(
            ReturnRequest.created_at >= start, ReturnRequest.created_at < end)
    ):
        s = stats[dept_id]
        s["requests"] += 1
        key = "pending" if state in OPEN_STATES else state
        if key in s:
            s[key] += 1
        if review_s is not None:
            s["review_s"].append(float(review_s))
    for src, _dst, _cat in _instruction_returns(session, start, end):
        if src is not None:
            stats[src]["instruction_returns"] += 1
    for dept_id, outcome in instruction_transfer_requests(session, start, end):
        s = stats[dept_id]
        s["instruction_requests"] += 1
        if outcome in ("approved", "rejected"):
            s[f"instruction_requests_{outcome}"] += 1
    depts = {d.id: d for d in session.execute(select(Department)).scalars()}
    out = []
    for dept_id in sorted(stats, key=lambda i: (depts[i].code if i in depts else "", i)):
        s = stats[dept_id]
        decided = s["approved"] + s["rejected"]
        reviews = s.pop("review_s")
        out.append({
            "department_id": dept_id, "department": depts[dept_id].name if dept_id in depts else None, **s,
            "return_rate": round(s["requests"] / s["received"], 4) if s["received"] else None,
            "approval_rate": round(s["approved"] / decided, 4) if decided else None,
            "mean_review_s": round(sum(reviews) / len(reviews), 1) if reviews else None,
        })
    return out


def instruction_transfer_requests(session: Session, start: datetime, end: datetime) -> list[tuple[int, str]]:
    """(requesting department, state now) of each unit's transfer request of an instruction made
    in ``[start, end)`` (the ``request_transfer`` ledger entries; the state from the instruction's
    record: open, approved, rejected, withdrawn or superseded)."""
    out = []
    rows = session.execute(
        select(LedgerEntry.payload, Instruction.data).join(Instruction, Instruction.id == LedgerEntry.item_id)
        .where(LedgerEntry.item_type == "instruction", LedgerEntry.trigger == "request_transfer",
               LedgerEntry.at >= start, LedgerEntry.at < end)
    ).all()
    for payload, data in rows:
        payload = payload or {}
        dept, no = _int(payload.get("requesting_department_id")), _int(payload.get("transfer_request_no"))
        if dept is None:
            continue
        reqs = (data or {}).get("transfer_requests") or []
        state = reqs[no - 1].get("state", "open") if no is not None and 0 < no <= len(reqs) else "open"
        out.append((dept, str(state)))
    return out


# The on-time rule of returns (one definition: the SQL clauses below are the rule; the Python
# helpers run them for one case, and caseflow.analysis puts them into its aggregates):
#
# 1. A return takes the case off the requesting department's on-time record when it was
#    approved (or escalated by the return limit) and that department does not hold the case
#    again (:func:`returned_clause`). A rejected or withdrawn request changes nothing.
# 2. Such a return restarts the case's on-time clock at the re-dispatch (the request's
#    decision, or its creation for an escalated one): a handling limit that fell due at or
#    before that moment fell in a returned department's time and makes the case late for
#    nobody; limits due after it are the new holder's (:func:`fell_in_returned_time`).


def returned_at(rr: Any = ReturnRequest) -> ColumnElement[datetime]:
    """SQL: when a return took effect, i.e. the re-dispatch: its decision, else (escalated) its creation."""
    return func.coalesce(rr.decided_at, rr.created_at)


def returned_clause(rr: Any = ReturnRequest, holder_id: Any = Case.department_id,
                    as_of: datetime | None = None) -> ColumnElement[bool]:
    """SQL (rule 1): request ``rr`` took its case off ``rr.department_id``'s on-time record.

    ``holder_id`` is the case's current department (a column of the query's case row);
    ``as_of`` leaves out returns that took effect later (a report as of that time).
    """
    # IS DISTINCT FROM: a case escalated to the district by the return limit has no department.
    conds = [rr.state.in_(RETURNED_STATES), rr.department_id.is_distinct_from(holder_id)]
    if as_of is not None:
        conds.append(returned_at(rr) < as_of)
    return and_(*conds)


def fell_in_returned_time(case_id: Any, holder_id: Any, due_at: Any,
                          as_of: datetime | None = None) -> ColumnElement[bool]:
    """SQL (rule 2): a limit of case ``case_id`` due at ``due_at`` fell in a returned department's time.

    True when a return of the case (rule 1) took effect at or after ``due_at``; such a limit
    counts against nobody. An anti-join on ``return_request.case_id``: cheap per fired limit.
    """
    rr = aliased(ReturnRequest)
    # Everything but the request correlates to the enclosing queries (the case and the limit may
    # come from different levels, e.g. an EXISTS over deadlines inside a query of cases).
    return exists().where(rr.case_id == case_id, returned_clause(rr, holder_id, as_of),
                          returned_at(rr) >= due_at).correlate_except(rr)


def counts_against_on_time(session: Session, case_id: int, department_id: int) -> bool:
    """Whether ``case_id`` counts in ``department_id``'s on-time score (rule 1, :func:`returned_clause`).

    False only when the department's return of the case was approved (or escalated by the
    return limit) and the department does not hold the case again: the case was never its
    duty, so limits that ran out while it held the case are not its fault. A rejected request
    changes nothing (the case stays the department's and counts, late or not).
    """
    if session.get(Case, case_id) is None:
        raise NotFound(f"case {case_id} not found")
    returned = session.execute(
        select(ReturnRequest.id).join(Case, Case.id == ReturnRequest.case_id).where(
            ReturnRequest.case_id == case_id, ReturnRequest.department_id == department_id,
            returned_clause(ReturnRequest, Case.department_id)).limit(1)
    ).scalar()
    return returned is None


def returned_pairs(session: Session, case_ids: list[int] | None = None) -> set[tuple[int, int]]:
    """Every (case id, department id) for which :func:`counts_against_on_time` is False, in one query."""
    q = select(ReturnRequest.case_id, ReturnRequest.department_id).join(
        Case, Case.id == ReturnRequest.case_id).where(returned_clause(ReturnRequest, Case.department_id))
    if case_ids is not None:
        q = q.where(ReturnRequest.case_id.in_(case_ids))
    return {(c, d) for c, d in session.execute(q)}


def on_time_clock_from(session: Session, case_id: int, as_of: datetime | None = None) -> datetime | None:
    """When the case's on-time clock last restarted (rule 2): the latest re-dispatch by a return
    that counts (rule 1), or None when none did (the clock runs from the report)."""
    if session.get(Case, case_id) is None:
        raise NotFound(f"case {case_id} not found")
    return session.execute(
        select(func.max(returned_at(ReturnRequest))).join(Case, Case.id == ReturnRequest.case_id).where(
            ReturnRequest.case_id == case_id, returned_clause(ReturnRequest, Case.department_id, as_of))
    ).scalar()


def limit_counts_late(session: Session, case_id: int, due_at: datetime, as_of: datetime | None = None) -> bool:
    """Whether a handling limit of ``case_id`` that fired, due at ``due_at``, makes the case late
    for its current department: not when it fell in a returned department's time (rule 2, the
    clause the analysis uses; equivalently ``due_at`` is after :func:`on_time_clock_from`)."""
    _aware(due_at, "due_at")
    found = session.execute(
        select(~fell_in_returned_time(Case.id, Case.department_id, literal(due_at, UTCDateTime()), as_of))
        .where(Case.id == case_id)
    ).scalar()
    if found is None:
        raise NotFound(f"case {case_id} not found")
    return bool(found)


def period_of_month(now: datetime | None = None) -> tuple[datetime, datetime]:
    """``[start of this month, now + 1s)`` in the configured zone, as UTC: the report's default period."""
    now = now or utcnow()
    local = now.astimezone(_tz())
    start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(now.tzinfo), now + timedelta(seconds=1)
