"""Department assessment (部门考核): scoring rules as data, a score and a ranking per period.

Each rule gives ``points`` (negative deducts) per event a department caused in the period,
as seed 001 篇二 scores "回复不及时的每件扣 2 分" and "每少报一样扣 1 分". A rule's ``cap``
bounds how far it can move one department's score in one period. The score is
``base_score`` plus every rule's points, never below ``min_score``. Where the assessment
config says so (``apply_share``), the street's score weighs ``street_share`` (at least one
third, seed 001 篇一) of the department's whole assessment: ``weighted = score * share``.

Events (counted in SQL, GROUP BY department, over the period ``[start, end)``):

=====================  ========================================================================
late_reply             a sign or handle time limit of a case fell due in the period and fired
                       (the case's department), unless it fell in a returned department's time
overdue_arrival        an instruction dispatched in the period whose unit arrived after 30/60 min,
                       or had not arrived when that time had passed by ``as_of``
missing_ledger         an instruction dispatched in the period still without its result
                       (``closed_at``) 24 hours after dispatch — the ledger (台账) is incomplete
rework                 a ``check_fail`` (返工) in the period
rejected_return        a ``reject_return`` in the period of the department's return request
supervised             a supervision (督办) row in the period naming the department
unsatisfied_callback   a callback in the period with grade <= 2
closed_on_time         a case closed (``check_pass``) in the period without a fired time limit
                       (again leaving out limits of a returned department's time)
=====================  ========================================================================

Returns (退单) follow the rule of :mod:`caseflow.services.returns` (its SQL clauses, as the
indicators do): events go to the case's current department, which a department whose return
was approved no longer is; and a limit that fell due before the approved return's re-dispatch
(:func:`~caseflow.services.returns.fell_in_returned_time`) is nobody's late reply.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from caseflow.errors import NotFound, ValidationFailed
from caseflow.models import (
    Case,
    Deadline,
    Department,
    Instruction,
    LedgerEntry,
    ReturnRequest,
    Supervision,
    utcnow,
)
from caseflow.models.analysis import MIN_STREET_SHARE, AssessmentConfig, ScoringRule
from caseflow.services import returns

from .case_facts import HANDLING_DEADLINES, UNSATISFIED_MAX_GRADE
from .indicators import ARRIVAL_LIMIT_S
from .periods import Period
from .sql import dialect_for, no_jit

EVENTS: dict[str, str] = {
    "late_reply": "回复（签收/处置）超时",
    "overdue_arrival": "应急指令到场超时",
    "missing_ledger": "台账缺项（指令未反馈结果）",
    "rework": "核查不通过返工",
    "rejected_return": "退单申请被驳回",
    "supervised": "被督办",
    "unsatisfied_callback": "回访不满意",
    "closed_on_time": "按期结案",
}
MISSING_LEDGER_AFTER = timedelta(hours=24)


@dataclass(frozen=True)
class RuleSpec:
    """A rule as data (what the ``scoring_rule`` table holds)."""

    code: str
    event: str
    points: float
    description: str = ""
    cap: float | None = None


# Used while the scoring_rule table is empty; an administrator's rows replace them all.
DEFAULT_RULES: tuple[RuleSpec, ...] = (
    RuleSpec("late_reply", "late_reply", -2.0, "回复不及时的每件扣 2 分（篇二）"),
    RuleSpec("missing_ledger", "missing_ledger", -1.0, "台账每少报一样扣 1 分（篇二）"),
    RuleSpec("overdue_arrival", "overdue_arrival", -2.0, "未在 30/60 分钟内到场的每件扣 2 分"),
    RuleSpec("rework", "rework", -1.0, "核查不通过返工的每次扣 1 分"),
    RuleSpec("rejected_return", "rejected_return", -1.0, "退单被驳回的每件扣 1 分"),
    RuleSpec("supervised", "supervised", -0.5, "被督办的每次扣 0.5 分", cap=10.0),
    RuleSpec("unsatisfied_callback", "unsatisfied_callback", -1.0, "回访不满意的每件扣 1 分"),
)


def rules(session: Session) -> list[RuleSpec]:
    """The active scoring rules (the defaults while the table holds none)."""
    rows = list(session.execute(select(ScoringRule).order_by(ScoringRule.code)).scalars())
    if not rows:
        return list(DEFAULT_RULES)
    return [RuleSpec(r.code, r.event, float(r.points), r.description, r.cap) for r in rows if r.active]


def save_rule(session: Session, *, code: str, event: str, points: float, description: str = "",
              cap: float | None = None, active: bool = True) -> ScoringRule:
    """Create or change the rule ``code`` and commit. Raises ``ValidationFailed`` naming the field."""
    code = (code or "").strip()
    if not code or len(code) > 40:
        raise ValidationFailed("code must be 1-40 characters", field="code")
    if event not in EVENTS:
        raise ValidationFailed(f"event must be one of {', '.join(EVENTS)}", field="event")
    if cap is not None and cap < 0:
        raise ValidationFailed("cap must not be negative", field="cap")
    row = session.execute(select(ScoringRule).where(ScoringRule.code == code)).scalar_one_or_none()
    if row is None:
        row = ScoringRule(code=code)
        session.add(row)
    row.event, row.points, row.description, row.cap, row.active = event, float(points), description, cap, active
    session.commit()
    return row


def configure(session: Session, *, department_id: int | None, base_score: float = 100.0, min_score: float = 0.0,
              street_share: float = MIN_STREET_SHARE, apply_share: bool = True) -> AssessmentConfig:
    """Set the assessment config of a department (``None``: the default) and commit.

    ``street_share`` must be at least one third (seed 001 篇一) and at most 1.
    """
    if not MIN_STREET_SHARE - 1e-9 <= street_share <= 1:
        raise ValidationFailed("street_share must be between 1/3 and 1", field="street_share")
    if min_score > base_score:
        raise ValidationFailed("min_score must not exceed base_score", field="min_score")
    if department_id is not None and session.get(Department, department_id) is None:
        raise NotFound(f"department {department_id} not found")
    row = session.execute(select(AssessmentConfig).where(
        AssessmentConfig.department_id.is_(None) if department_id is None
        else AssessmentConfig.department_id == department_id)).scalar_one_or_none()
    if row is None:
        row = AssessmentConfig(department_id=department_id)
        session.add(row)
    row.base_score, row.min_score = float(base_score), float(min_score)
    row.street_share, row.apply_share = float(street_share), bool(apply_share)
    session.commit()
    return row


# --------------------------------------------------------------------------- event counts


def event_counts(session: Session, period: Period, as_of: datetime | None = None) -> dict[str, dict[int, int]]:
    """``{event: {department_id: count}}`` for the period (SQL GROUP BY department)."""
    as_of = as_of or utcnow()
    s, e = period.start_at, min(period.end_at, as_of)
    d = dialect_for(session, period.tz, period.utc_offset_s)
    out: dict[str, dict[int, int]] = {}
    no_jit(session)

    def run(name: str, q: Any) -> None:
        out[name] = {int(dept): int(n) for dept, n in session.execute(q) if dept is not None}

    def in_returned_time(case_id: Any) -> Any:
        return returns.fell_in_returned_time(case_id, Case.department_id, Deadline.due_at, as_of)

    run("late_reply", select(Case.department_id, func.count()).join(
        Deadline, and_(Deadline.item_type == "case", Deadline.item_id == Case.id)).where(
        Deadline.status == "fired", Deadline.key.in_(("sign", "handle")), Deadline.due_at >= s, Deadline.due_at < e,
        ~in_returned_time(Case.id)).group_by(Case.department_id))

    i = Instruction
    limit = _arrival_limit(i)
    late = or_(and_(i.arrived_at.is_not(None), i.arrived_at < as_of, d.seconds(i.arrived_at, i.dispatched_at) > limit),
               and_(or_(i.arrived_at.is_(None), i.arrived_at >= as_of), d.seconds(_lit(session, as_of), i.dispatched_at) > limit))
    run("overdue_arrival", select(i.department_id, func.count()).where(
        i.dispatched_at >= s, i.dispatched_at < e, late).group_by(i.department_id))
    run("missing_ledger", select(i.department_id, func.count()).where(
        i.dispatched_at >= s, i.dispatched_at < e, i.dispatched_at < as_of - MISSING_LEDGER_AFTER,
        or_(i.closed_at.is_(None), i.closed_at >= as_of)).group_by(i.department_id))

    le = LedgerEntry
    run("rework", select(Case.department_id, func.count()).select_from(le).join(Case, Case.id == le.item_id).where(
        le.trigger == "check_fail", le.item_type == "case", le.at >= s, le.at < e).group_by(Case.department_id))
    run("rejected_return", select(ReturnRequest.department_id, func.count()).select_from(le).join(
        ReturnRequest, ReturnRequest.id == le.item_id).where(
        le.trigger == "reject_return", le.item_type == "return_request", le.at >= s, le.at < e
    ).group_by(ReturnRequest.department_id))
    run("supervised", select(Supervision.department_id, func.count()).where(
        Supervision.at >= s, Supervision.at < e).group_by(Supervision.department_id))
    run("unsatisfied_callback", select(Case.department_id, func.count()).select_from(le).join(Case, Case.id == le.item_id).where(
        le.trigger == "callback", le.item_type == "case", le.at >= s, le.at < e,
        le.payload["grade"].as_integer() <= UNSATISFIED_MAX_GRADE).group_by(Case.department_id))
    late_limit = exists().where(Deadline.item_type == "case", Deadline.item_id == le.item_id,
                                Deadline.status == "fired", Deadline.key.in_(HANDLING_DEADLINES),
                                Deadline.due_at < e, ~in_returned_time(le.item_id))
    # One per case: a case closed twice in the period (reopened) counts once.
    run("closed_on_time", select(Case.department_id, func.count(func.distinct(le.item_id))).select_from(le).join(
        Case, Case.id == le.item_id).where(
        le.trigger == "check_pass", le.item_type == "case", le.at >= s, le.at < e, ~late_limit
    ).group_by(Case.department_id))
    session.rollback()
    return out


def _arrival_limit(i: Any) -> Any:
    from sqlalchemy import case

    return case((i.area_kind == "other", ARRIVAL_LIMIT_S["other"]), else_=ARRIVAL_LIMIT_S["main_urban"])


def _lit(session: Session, when: datetime) -> Any:
    from sqlalchemy import literal

    from caseflow.models.base import UTCDateTime

    return literal(when, UTCDateTime())


# --------------------------------------------------------------------------- scores


def _configs(session: Session) -> tuple[AssessmentConfig | None, dict[int, AssessmentConfig]]:
    rows = list(session.execute(select(AssessmentConfig)).scalars())
    default = next((r for r in rows if r.department_id is None), None)
    return default, {r.department_id: r for r in rows if r.department_id is not None}


def assess(session: Session, period: Period, as_of: datetime | None = None) -> dict[str, Any]:
    """Every department's score and rank for the period, with the points per rule.

    Ranks are competition ranks (equal scores share a rank; the next rank skips).
    """
    counts = event_counts(session, period, as_of)
    active = rules(session)
    default, own = _configs(session)
    departments = list(session.execute(select(Department.id, Department.code, Department.name)
                                       .order_by(Department.code)))
    rows: list[dict[str, Any]] = []
    for dept_id, code, name in departments:
        cfg = own.get(dept_id) or default
        base = float(cfg.base_score) if cfg else 100.0
        floor = float(cfg.min_score) if cfg else 0.0
        details, total = [], 0.0
        for rule in active:
            n = counts.get(rule.event, {}).get(dept_id, 0)
            pts = rule.points * n
            if rule.cap is not None and abs(pts) > rule.cap:
                pts = rule.cap if pts > 0 else -rule.cap
            total += pts
            details.append({"code": rule.code, "event": rule.event, "count": n, "points": round(pts, 2)})
        score = round(max(base + total, floor), 2)
        share = max(float(cfg.street_share), MIN_STREET_SHARE) if cfg and cfg.apply_share else None
        rows.append({"department_id": dept_id, "code": code, "name": name, "base_score": base,
                     "points": round(total, 2), "score": score, "street_share": round(share, 4) if share else None,
                     "weighted": round(score * share, 2) if share else None, "rules": details})
    rows.sort(key=lambda r: (-r["score"], r["code"]))
    for idx, row in enumerate(rows):
        row["rank"] = rows[idx - 1]["rank"] if idx and row["score"] == rows[idx - 1]["score"] else idx + 1
    session.rollback()
    return {"period": period.as_dict(), "rules": [r.__dict__ for r in active], "events": EVENTS, "ranking": rows}
