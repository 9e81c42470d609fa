"""Guards and actions of the case workflows (case_simple/general/complex/difficult).

Actions only touch ``ctx.session``, ``ctx.effects`` and ``ctx.ledger_extra``; they raise
``ValidationFailed`` naming the field for bad input (the transition then writes nothing).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select

from caseflow.deadlines.clock import item_calendar
from caseflow.deadlines.pausing import pause_running, resume_paused
from caseflow.deadlines.scheduling import schedule_deadline
from caseflow.errors import ValidationFailed
from caseflow.models import Case, CaseParticipant, Deadline, Department, Supervision
from caseflow.models.case_parts import SUPERVISION_METHODS
from caseflow.services.access import deny
from caseflow.services.active_records import require_active
from caseflow.worktime import parse_duration

from .context import TransitionContext
from .registry import action, guard

VOID_REASONS = ("duplicate", "out_of_scope", "not_registrable")
# Passed in ``data`` by the case services for triggers that must not be fired bare
# (a tier change re-starts the case; a merge moves reporters): JSON cannot forge it.
SERVICE_MARKER = "_via_case_service"
SERVICE_TOKEN = object()
MAX_EXTENSION = timedelta(days=60)
REQUEST_KINDS = ("extension", "deferral")  # a handler's requests to the dispatcher (延期 / 缓办·挂账)


def _set_data(item: Any, **changes: Any) -> dict[str, Any]:
    data = dict(item.data or {})
    data.update(changes)
    item.data = data
    return data


def _append(item: Any, key: str, entry: dict[str, Any]) -> None:
    data = dict(item.data or {})
    data[key] = list(data.get(key) or []) + [entry]
    item.data = data


def _who(ctx: TransitionContext) -> dict[str, Any]:
    return {"person_id": ctx.actor.person_id, "name": ctx.actor.name, "role": ctx.role,
            "at": ctx.now.isoformat()}


def _duration(ctx: TransitionContext, name: str = "duration") -> timedelta:
    raw = ctx.data.get(name)
    try:
        value = parse_duration(str(raw))
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must look like 4h, 1d or 30m", field=name) from None
    if value <= timedelta(0) or value > MAX_EXTENSION:
        raise ValidationFailed(f"{name} must be positive and at most 60 days", field=name)
    return value


def _parse_time(raw: Any, name: str) -> datetime | None:
    if raw in (None, ""):
        return None
    try:
        value = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{name} must be an ISO 8601 time", field=name) from None
    if value.tzinfo is None:
        raise ValidationFailed(f"{name} must carry a time zone", field=name)
    return value.astimezone(timezone.utc)


def _department_ids(raw: Any, name: str, session: Any) -> list[int]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, (list, tuple)):
        raw = [raw]
    ids: list[int] = []
    for value in raw:
        try:
            dept_id = int(value)
        except (TypeError, ValueError):
            raise ValidationFailed(f"{name} must list department ids", field=name) from None
        dept = _department(session, dept_id)
        if dept is None:
            raise ValidationFailed(f"department {dept_id} does not exist", field=name)
        require_active(dept, name)  # co-operating and joint-handling parts are new work
        if dept_id not in ids:
            ids.append(dept_id)
    return ids


def _department(session: Any, dept_id: int) -> Department | None:
    """Department ``dept_id``, if it exists. Its row does not depend on what the transition has
    changed so far, so no autoflush: the item's changes go out in the transition's one flush
    instead of an extra UPDATE here."""
    with session.no_autoflush:
        return session.get(Department, dept_id)


def _parts(ctx: TransitionContext, case_id: int) -> list[CaseParticipant]:
    """The case's participants in id order, as an autoflushed query would return them.

    The query runs without autoflush (which would write the item's pending state change in an
    UPDATE of its own, the transition's flush then writing a second): rows already loaded come
    back with their pending changes anyway, and parts added in this transaction but not yet
    flushed are appended (they get the next ids when flushed). Parts are never deleted.
    """
    session = ctx.session
    with session.no_autoflush:
        parts = list(session.execute(_parts_statement(), {"case_id": case_id}).scalars())
    parts += [p for p in session.new if isinstance(p, CaseParticipant) and p.case_id == case_id]
    return parts


@cache
def _parts_statement() -> Any:
    return select(CaseParticipant).where(CaseParticipant.case_id == bindparam("case_id")).order_by(CaseParticipant.id)


def _current_rows(ctx: TransitionContext, item: Any, statuses: tuple[str, ...]) -> list[Deadline]:
    return list(ctx.session.execute(
        select(Deadline).where(
            Deadline.item_type == item.item_type, Deadline.item_id == item.id, Deadline.state == item.state,
            Deadline.state_seq == item.state_seq, Deadline.status.in_(statuses),
        ).order_by(Deadline.id).with_for_update()
    ).scalars())


# --------------------------------------------------------------------------- guards


@guard("via_case_service")
def via_case_service(item: object, ctx: TransitionContext) -> bool:
    """Only the case services may fire this trigger (it changes more than the state)."""
    return ctx.data.get(SERVICE_MARKER) is SERVICE_TOKEN


@guard("actor_in_lead")
def actor_in_lead(item: object, ctx: TransitionContext) -> bool:
    """A handler acting for the whole case must belong to the lead (holding) department."""
    if ctx.role != "handler":
        return True
    return ctx.actor.department_id is not None and ctx.actor.department_id == getattr(item, "department_id", None)


@guard("actor_has_part")
def actor_has_part(item: object, ctx: TransitionContext) -> bool:
    """The acting handler's department takes part in the case (lead or co-operating)."""
    dept = ctx.actor.department_id
    return dept is not None and any(p.department_id == dept and p.state != "withdrawn"
                                    for p in _parts(ctx, item.id))  # type: ignore[attr-defined]


@guard("is_deferred")
def is_deferred(item: object, ctx: TransitionContext) -> bool:
    """The case is deferred / hung up (缓办/挂账): its time limits are paused."""
    return bool((item.data or {}).get("deferred"))  # type: ignore[attr-defined]


@guard("request_pending")
def request_pending(item: object, ctx: TransitionContext) -> bool:
    """A handler's request of the kind this trigger answers (extension / deferral) awaits a decision;
    for ``withdraw_request``, one of either kind."""
    pending = (item.data or {}).get("pending_request") or {}  # type: ignore[attr-defined]
    if ctx.trigger == "withdraw_request":
        return pending.get("kind") in REQUEST_KINDS
    kind = "deferral" if "deferral" in ctx.trigger else "extension"
    return pending.get("kind") == kind


@guard("no_pending_request")
def no_pending_request(item: object, ctx: TransitionContext) -> bool:
    """One request at a time: a new extension or deferral waits for the last decision."""
    return not (item.data or {}).get("pending_request")  # type: ignore[attr-defined]


@guard("joint_application_pending")
def joint_application_pending(item: object, ctx: TransitionContext) -> bool:
    """A department has applied for joint handling and no decision was taken yet."""
    return bool((item.data or {}).get("joint_application"))  # type: ignore[attr-defined]


@guard("unsatisfied_recent_callback")
def unsatisfied_recent_callback(item: object, ctx: TransitionContext) -> bool:
    """The last callback was unsatisfied (grade <= 2) and came within CALLBACK_REOPEN_DAYS of closing."""
    from caseflow.services.cases.config import setting

    callbacks = (item.data or {}).get("callbacks") or []  # type: ignore[attr-defined]
    closed_at = getattr(item, "closed_at", None)
    if not callbacks or closed_at is None:
        return False
    last = callbacks[-1]
    window = timedelta(days=float(setting("CALLBACK_REOPEN_DAYS")))
    return int(last.get("grade", 5)) <= 2 and ctx.now - closed_at <= window


# --------------------------------------------------------------------------- actions


@action("consume_service_marker")
def consume_service_marker(item: object, ctx: TransitionContext) -> None:
    """Drop the service marker before the data reaches the ledger."""
    ctx.data.pop(SERVICE_MARKER, None)


@action("check_void_reason")
def check_void_reason(item: object, ctx: TransitionContext) -> None:
    """A void (无效作废) names its reason: duplicate, out_of_scope or not_registrable."""
    reason = ctx.data.get("reason")
    if reason not in VOID_REASONS:
        raise ValidationFailed(f"reason must be one of {', '.join(VOID_REASONS)}", field="reason")
    _set_data(item, void_reason=reason, void_note=str(ctx.data.get("note") or ""))


@action("record_verification")
def record_verification(item: object, ctx: TransitionContext) -> None:
    """Keep the question sent out for verification (核实)."""
    _append(item, "verifications", {"question": str(ctx.data.get("question")), **_who(ctx)})


@action("apply_corrections")
def apply_corrections(item: object, ctx: TransitionContext) -> None:
    """On registering, take the corrected title, description or address the verification produced."""
    changed = {}
    for name, limit in (("title", 200), ("description", 10_000), ("address", 200)):
        value = ctx.data.get(name)
        if value is None:
            continue
        value = str(value).strip()
        if name == "title" and not value:
            raise ValidationFailed("title cannot be blank", field="title")
        if len(value) > limit:
            raise ValidationFailed(f"{name} is longer than {limit} characters", field=name)
        changed[name] = {"from": getattr(item, name), "to": value}
        setattr(item, name, value)
    if changed:
        ctx.ledger_extra["corrected"] = changed


@action("assign_participants")
def assign_participants(item: object, ctx: TransitionContext) -> None:
    """Make the holding department the lead part and add ``cooperating_department_ids``.

    A previous lead that is no longer the holder is withdrawn (a second dispatch).
    """
    case_id, lead = item.id, item.department_id  # type: ignore[attr-defined]
    coop = [d for d in _department_ids(ctx.data.get("cooperating_department_ids"), "cooperating_department_ids",
                                       ctx.session) if d != lead]
    parts = {p.department_id: p for p in _parts(ctx, case_id)}
    for part in parts.values():
        if part.role == "lead" and part.department_id != lead:
            part.role, part.state = "cooperating", "withdrawn"
    signed = ctx.trigger == "start_joint_handling"  # the center leads: the lead's part starts at once
    if lead in parts:
        parts[lead].role = "lead"
        parts[lead].state = "signed" if signed else "assigned"
    else:
        ctx.session.add(CaseParticipant(case_id=case_id, department_id=lead, role="lead", assigned_at=ctx.now,
                                        state="signed" if signed else "assigned",
                                        signed_at=ctx.now if signed else None))
    for dept in coop:
        if dept in parts:
            parts[dept].role, parts[dept].state = "cooperating", "assigned"
        else:
            ctx.session.add(CaseParticipant(case_id=case_id, department_id=dept, role="cooperating",
                                            assigned_at=ctx.now))
    ctx.ledger_extra["participants"] = {"lead": lead, "cooperating": coop}


@action("add_cooperating")
def add_cooperating(item: object, ctx: TransitionContext) -> None:
    """Approve a joint-handling application: the named departments join as co-operating parts."""
    ids = _department_ids(ctx.data.get("department_ids"), "department_ids", ctx.session)
    if not ids:
        raise ValidationFailed("name at least one department", field="department_ids")
    parts = {p.department_id: p for p in _parts(ctx, item.id)}  # type: ignore[attr-defined]
    for dept in ids:
        if dept == item.department_id:  # type: ignore[attr-defined]
            continue
        if dept in parts:
            parts[dept].state = "assigned" if parts[dept].state == "withdrawn" else parts[dept].state
        else:
            ctx.session.add(CaseParticipant(case_id=item.id, department_id=dept,  # type: ignore[attr-defined]
                                            role="cooperating", assigned_at=ctx.now))
    ctx.ledger_extra["added_department_ids"] = ids
    if ctx.trigger == "approve_joint_handling":
        application = (item.data or {}).get("joint_application")  # type: ignore[attr-defined]
        _append(item, "joint_decisions", {"application": application, "department_ids": ids, **_who(ctx)})
        _set_data(item, joint_application=None, joint=True)


@action("record_joint_application")
def record_joint_application(item: object, ctx: TransitionContext) -> None:
    """A department applies for joint handling (联合处置申请) with its reason."""
    suggested = _department_ids(ctx.data.get("department_ids"), "department_ids", ctx.session)
    _set_data(item, joint_application={"reason": str(ctx.data.get("reason")), "department_ids": suggested,
                                       "department_id": ctx.actor.department_id, **_who(ctx)})


@action("sign_lead_part")
def sign_lead_part(item: object, ctx: TransitionContext) -> None:
    """The lead department signs for the case (签收): its part is signed too."""
    item.data = {**(item.data or {}), "signed_at": ctx.now.isoformat()}  # type: ignore[attr-defined]
    for part in _parts(ctx, item.id):  # type: ignore[attr-defined]
        if part.role == "lead" and part.state == "assigned":
            part.state, part.signed_at, part.signed_by_id = "signed", ctx.now, ctx.actor.person_id


@action("sign_own_part")
def sign_own_part(item: object, ctx: TransitionContext) -> None:
    """A co-operating department signs for its own part."""
    part = _own_part(item, ctx)
    if part.role == "lead":
        raise ValidationFailed("the lead department signs the case with sign", field="trigger")
    if part.state != "assigned":
        raise ValidationFailed(f"your department's part is already {part.state}", field="trigger")
    part.state, part.signed_at, part.signed_by_id = "signed", ctx.now, ctx.actor.person_id
    ctx.ledger_extra["department_id"] = part.department_id


@action("report_own_part")
def report_own_part(item: object, ctx: TransitionContext) -> None:
    """A co-operating department reports the result of its own part (the lead reports the case)."""
    part = _own_part(item, ctx)
    if part.role == "lead":
        raise ValidationFailed("the lead department reports the case with report_result", field="trigger")
    if part.state != "signed":
        raise ValidationFailed(f"sign your part first (it is {part.state})", field="trigger")
    part.state, part.reported_at, part.reported_by_id = "reported", ctx.now, ctx.actor.person_id
    part.result = str(ctx.data.get("result"))
    ctx.ledger_extra["department_id"] = part.department_id


def _own_part(item: Any, ctx: TransitionContext) -> CaseParticipant:
    for part in _parts(ctx, item.id):
        if part.department_id == ctx.actor.department_id and part.state != "withdrawn":
            return part
    raise ValidationFailed("your department has no part in this case", field="department_id")


@action("record_case_result")
def record_case_result(item: object, ctx: TransitionContext) -> None:
    """Keep the reported result (and evidence references); the lead's part is reported with it."""
    evidence = ctx.data.get("evidence_refs") or []
    if not isinstance(evidence, list):
        raise ValidationFailed("evidence_refs must be a list", field="evidence_refs")
    _set_data(item, result={"text": str(ctx.data.get("result")), "evidence_refs": evidence, **_who(ctx)})
    for part in _parts(ctx, item.id):  # type: ignore[attr-defined]
        if part.role == "lead" and part.state != "withdrawn":
            part.state, part.reported_at, part.reported_by_id = "reported", ctx.now, ctx.actor.person_id
            part.result = str(ctx.data.get("result"))
            part.signed_at = part.signed_at or ctx.now


@action("reopen_lead_part")
def reopen_lead_part(item: object, ctx: TransitionContext) -> None:
    """Rework (返工) or a reopened case goes back to the lead department's part."""
    for part in _parts(ctx, item.id):  # type: ignore[attr-defined]
        if part.role == "lead" and part.state == "reported":
            part.state = "signed"


@action("record_supervision")
def record_supervision(item: object, ctx: TransitionContext) -> None:
    """A supervision (督办): by phone, in writing or on site; who, when, what is required, by when."""
    method = ctx.data.get("method")
    if method not in SUPERVISION_METHODS:
        raise ValidationFailed(f"method must be one of {', '.join(SUPERVISION_METHODS)}", field="method")
    due_by = _parse_time(ctx.data.get("due_by"), "due_by")
    if due_by is not None and due_by <= ctx.now:
        raise ValidationFailed("due_by must be in the future", field="due_by")
    row = Supervision(case_id=item.id, department_id=getattr(item, "department_id", None),  # type: ignore[attr-defined]
                      method=method,
                      by_id=ctx.actor.person_id, by_name=ctx.actor.name, at=ctx.now,
                      requirement=str(ctx.data.get("requirement")), due_by=due_by)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.ledger_extra["supervision_id"] = row.id
    data = dict(item.data or {})  # type: ignore[attr-defined]
    data["supervision_count"] = int(data.get("supervision_count", 0)) + 1
    item.data = data  # type: ignore[attr-defined]


@action("record_redispatch")
def record_redispatch(item: object, ctx: TransitionContext) -> None:
    """A second dispatch (二次派遣) to another department: counted, and the sign time restarts."""
    data = dict(item.data or {})  # type: ignore[attr-defined]
    data["redispatch_count"] = int(data.get("redispatch_count", 0)) + 1
    data.pop("signed_at", None)
    item.data = data  # type: ignore[attr-defined]
    if ctx.ledger_extra.get("previous_department_id") == getattr(item, "department_id", None):
        raise ValidationFailed("a second dispatch goes to another department", field="department_id")


@action("record_request")
def record_request(item: object, ctx: TransitionContext) -> None:
    """A handler asks for an extension (延期: ``duration``) or deferral (缓办/挂账), with a reason."""
    kind = "deferral" if "deferral" in ctx.trigger else "extension"
    entry = {"kind": kind, "reason": str(ctx.data.get("reason")), "department_id": ctx.actor.department_id,
             **_who(ctx)}
    if kind == "extension":
        entry["duration"] = str(ctx.data.get("duration"))
        _duration(ctx)
    _set_data(item, pending_request=entry)


@action("refuse_request")
def refuse_request(item: object, ctx: TransitionContext) -> None:
    """The dispatcher refuses the pending request, with a reason."""
    pending = (item.data or {}).get("pending_request")  # type: ignore[attr-defined]
    _append(item, "requests", {**(pending or {}), "decision": "refused", "decision_reason": str(ctx.data.get("reason")),
                               "decided_by": ctx.actor.person_id, "decided_at": ctx.now.isoformat()})
    _set_data(item, pending_request=None)


@action("record_withdrawal")
def record_withdrawal(item: object, ctx: TransitionContext) -> None:
    """The department that asked takes its undecided request back (撤回申请), with an optional reason.

    Kept like a refusal, with the decision ``withdrawn``; nothing was granted, so no time limit
    moves. Only the asking department may: a request kept before requests named their
    department counts as the holder's.
    """
    pending = dict((item.data or {}).get("pending_request") or {})  # type: ignore[attr-defined]
    asked_by = pending.get("department_id", getattr(item, "department_id", None))
    if ctx.actor.department_id is None or ctx.actor.department_id != asked_by:
        raise deny(ctx.actor, ctx.trigger, f"case {item.id}",  # type: ignore[attr-defined]
                   "only the department that asked may withdraw the request")
    _append(item, "requests", {**pending, "decision": "withdrawn", "decision_reason": str(ctx.data.get("reason") or ""),
                               "decided_by": ctx.actor.person_id, "decided_at": ctx.now.isoformat()})
    _set_data(item, pending_request=None)
    ctx.ledger_extra.update(request_kind=pending.get("kind"), requested_at=pending.get("at"),
                            requested_by=pending.get("person_id"), requesting_department_id=asked_by)


def _decide(item: Any, ctx: TransitionContext, extra: dict[str, Any]) -> dict[str, Any]:
    pending = dict((item.data or {}).get("pending_request") or {})
    entry = {**pending, "decision": "approved", "decision_reason": str(ctx.data.get("reason")),
             "decided_by": ctx.actor.person_id, "decided_at": ctx.now.isoformat(), **extra}
    _append(item, "requests", entry)
    _set_data(item, pending_request=None)
    return pending


@action("grant_extension")
def grant_extension(item: object, ctx: TransitionContext) -> None:
    """Approve an extension: the running time limits of the current state move by the granted duration.

    ``duration`` in the decision may grant less (or more) than was asked. A limit that has
    already expired is re-armed from now.
    """
    pending = (item.data or {}).get("pending_request") or {}  # type: ignore[attr-defined]
    if not ctx.data.get("duration"):
        ctx.data["duration"] = pending.get("duration")
    granted = _duration(ctx)
    cal = item_calendar(ctx.session, item)
    moved = []
    rows = _current_rows(ctx, item, ("pending",))
    if not rows:
        rows = _rearm_fired(item, ctx)
    for row in rows:
        before = row.due_at
        base = max(row.due_at, ctx.now) if row.status == "fired" else row.due_at
        row.due_at = (cal.add_working(base, parse_duration(str(ctx.data["duration"]), day_length=cal.day_length))
                      if row.clock == "working" else base + granted)
        row.status = "pending"
        moved.append({"deadline_id": row.id, "key": row.key, "from": before.isoformat(), "to": row.due_at.isoformat()})
        ctx.effects.add(f"reschedule deadline {row.key}", schedule_deadline, row.id, row.due_at)
    if not moved:
        raise ValidationFailed("no time limit runs in this state", field="duration")
    _decide(item, ctx, {"granted": str(ctx.data["duration"]), "moved": moved})
    ctx.ledger_extra["deadlines_moved"] = moved


def _rearm_fired(item: Any, ctx: TransitionContext) -> list[Deadline]:
    """Expired limits of this state visit get a new pending row (the fired one stays as history)."""
    fired = _current_rows(ctx, item, ("fired",))
    rows = []
    for old in fired:
        row = Deadline(item_type=old.item_type, item_id=old.item_id, key=old.key, state=old.state,
                       state_seq=old.state_seq, clock=old.clock, armed_at=ctx.now, due_at=ctx.now,
                       status="fired", on_expiry=dict(old.on_expiry))
        ctx.session.add(row)
        rows.append(row)
    ctx.session.flush()
    return rows


@action("pause_deadlines")
def pause_deadlines(item: object, ctx: TransitionContext) -> None:
    """Approve a deferral: the running limits pause and keep the (working) time they had left."""
    paused = pause_running(ctx.session, item, ctx.now)  # shared with return requests
    _decide(item, ctx, {"paused": paused})
    _set_data(item, deferred=True, deferred_at=ctx.now.isoformat())
    ctx.ledger_extra["deadlines_paused"] = paused


@action("resume_deadlines")
def resume_deadlines(item: object, ctx: TransitionContext) -> None:
    """End a deferral: paused limits are re-armed with the time they had left, from now."""
    resumed = resume_paused(ctx.session, item, ctx.now, ctx.effects)  # shared with return requests
    _set_data(item, deferred=False, deferred_at=None)
    ctx.ledger_extra["deadlines_resumed"] = resumed


@action("record_callback")
def record_callback(item: object, ctx: TransitionContext) -> None:
    """A callback (回访) to the reporter with a satisfaction grade 1 (very unsatisfied) to 5."""
    try:
        grade = int(ctx.data.get("grade"))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValidationFailed("grade must be a whole number from 1 to 5", field="grade") from None
    if not 1 <= grade <= 5:
        raise ValidationFailed("grade must be a whole number from 1 to 5", field="grade")
    ctx.data["grade"] = grade
    _append(item, "callbacks", {"grade": grade, "note": str(ctx.data.get("note") or ""), **_who(ctx)})


@action("reopen_case")
def reopen_case(item: object, ctx: TransitionContext) -> None:
    """An unsatisfied callback reopens the case with the same department."""
    data = dict(item.data or {})  # type: ignore[attr-defined]
    data["reopen_count"] = int(data.get("reopen_count", 0)) + 1
    item.data = data  # type: ignore[attr-defined]
    closed_at = getattr(item, "closed_at", None)
    ctx.ledger_extra["previous_closed_at"] = closed_at.isoformat() if closed_at else None
    item.closed_at = None  # type: ignore[attr-defined]
    reopen_lead_part(item, ctx)


@action("check_new_tier")
def check_new_tier(item: object, ctx: TransitionContext) -> None:
    """A tier change names a different tier (the case service then re-starts the case on it)."""
    from caseflow.models import TIERS

    tier = ctx.data.get("tier")
    if tier not in TIERS:
        raise ValidationFailed(f"tier must be one of {', '.join(TIERS)}", field="tier")
    if isinstance(item, Case) and tier == item.tier:
        raise ValidationFailed(f"the case is already {tier}", field="tier")


# The time-limit table drives case deadlines: importing it registers the clock hook.
from caseflow.services.cases import time_limits as _time_limits  # noqa: E402,F401
