"""Indicator definitions: SQL aggregates over cases, the ledger, deadlines and instructions.

**Cases: the cohort of a period.** A period's case indicators follow the cases *reported in
the period* (``case.reported_at`` in ``[start, end)``) through their ledger entries written
before ``as_of`` (default: now; a stored report records its ``as_of``). Per case, its
ledger folded gives its first time of each step (kept per case in ``case_fact`` and reused
while the case's ledger has not moved: :mod:`caseflow.analysis.case_facts`); the aggregates
then GROUP BY the slice. Definitions (trigger names are the case workflows'):

=========================  ===============================================================
reported                   cases reported in the period
registered (立案)           a ``register`` entry, or a simple case's ``report`` entry (a simple
                           case is handled on the spot without review, so it is registered
                           when reported)
voided (作废)               a ``void`` entry
dispatched (派遣)           a ``dispatch`` or ``start_joint_handling`` entry
closed (结案)               a ``check_pass`` entry
closed_on_time (按期结案)   closed, and no handling time limit (deadline keys ``sign``,
                           ``handle``, ``check``, ``coordinate``) of the case fired, except
                           limits that fell in a returned department's time (below)
closure_rate (结案率)       closed / registered (target >= 95 %, seed 003)
on_time_closure_rate       closed_on_time / registered
void_rate                  voided / reported
rework_rate (返工率)        cases with a ``check_fail`` / cases checked (``check_pass`` or
                           ``check_fail``)
return_requests (申请退单)  ``return_request`` rows of the cohort's cases; approvals and
                           rejections are ``approve_return`` / ``reject_return`` ledger
                           entries of those requests; return_rate = requests / dispatched;
                           return_approval_rate = approved / (approved + rejected)
return_review_mean_s       mean review time of those requests reviewed before ``as_of``
                           (``returns_reviewed`` of them): request to decision on the wall
                           clock, :func:`caseflow.services.returns.review_seconds`, the same
                           definition as the returns report's ``mean_review_s``; a mean over
                           requests, not of per-case means
extension_rate (延期率)     cases with an ``approve_extension`` / dispatched
deferral_rate (缓办率)      cases with an ``approve_deferral`` / dispatched
supervisions (督办)         ``supervision`` rows of the cohort's cases
callbacks (回访)            ``callback`` entries; grade 1-5 from the entry's payload;
                           satisfied = grade >= 4, unsatisfied = grade <= 2
=========================  ===============================================================

Stages (mean and median seconds; a case without both ends is left out of that stage):
review = reported -> register, dispatch = register -> first dispatch, sign = dispatch ->
first sign, handle = sign (or dispatch, or report for simple cases) -> first result,
check = the last result report -> the last ``check_pass`` after it (the check that closed
the case; a rework's earlier round is handling time), total = reported -> first close.

Slices: department (the case's holder), category, grid, channel, tier (the case's current
values) and hour (local hour of day of the report).

**Returns (退单) and on-time counts.** The rule of :mod:`caseflow.services.returns` ("counting
fairly"), through its SQL clauses: a department whose return of a case was approved no longer
holds it, so the case is not in its slice; and the approved return restarts the case's
on-time clock at the re-dispatch, so a limit that fell due at or before it
(:func:`~caseflow.services.returns.fell_in_returned_time`) makes the case late for nobody —
the new holder is judged on the limits due after it.

**Instructions** (应急联动指令) received in the period: dispatched, arrived, arrived on time
(arrival within 30 min of dispatch in the main urban area, 60 min elsewhere, seed 001 篇三),
closed, mean/median sign and arrival times; sliced by department, category, grid, hour,
severity and area.

Medians: ``percentile_cont(0.5)`` on PostgreSQL; on SQLite a window-function query (the
middle one or two values of each group, averaged).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Float,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import (
    Case,
    Category,
    Department,
    Grid,
    Instruction,
    LedgerEntry,
    ReturnRequest,
    Supervision,
    utcnow,
)
from caseflow.services import returns

from . import case_facts
from .periods import Period
from .sql import Dialect, dialect_for, no_jit

CASE_SLICES = ("department", "category", "grid", "channel", "tier", "hour")
INSTRUCTION_SLICES = ("department", "category", "grid", "hour", "severity", "area")
STAGES = ("review", "dispatch", "sign", "handle", "check", "total")
# Slices whose stage medians are computed by default (the total always has them).
CASE_MEDIAN_SLICES = ("department",)
INSTRUCTION_MEDIAN_SLICES = ("department", "area")
ARRIVAL_LIMIT_S = {"main_urban": 30 * 60, "other": 60 * 60}
CLOSURE_TARGET = 0.95

CASE_COUNTS = (
    "reported", "registered", "voided", "dispatched", "redispatched", "closed", "closed_on_time",
    "checked", "reworked", "rework_count", "return_requests", "returns_approved", "returns_rejected",
    "extension_requests", "extended", "deferral_requests", "deferred", "supervisions", "supervised",
    "callbacks", "satisfied", "unsatisfied", "returns_reviewed",
)
INSTRUCTION_COUNTS = ("received", "declined", "dispatched", "arrived", "arrived_on_time", "closed")
INSTRUCTION_STAGES = ("sign", "arrival")


@dataclass(frozen=True)
class Filters:
    """Optional restriction of the cohort to one department, category, grid, channel or tier."""

    department_id: int | None = None
    category_id: int | None = None
    grid_id: int | None = None
    channel: str | None = None
    tier: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The set filters only."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Context:
    """What every indicator query of one period shares."""

    period: Period
    as_of: datetime
    dialect: Dialect
    filters: Filters = field(default_factory=Filters)


def make_context(session: Session, period: Period, as_of: datetime | None = None,
                 filters: Filters | None = None) -> Context:
    """A :class:`Context` for the session's backend; ``as_of`` defaults to now."""
    return Context(period, as_of or utcnow(), dialect_for(session, period.tz, period.utc_offset_s),
                   filters or Filters())


def _ratio(num: Any, den: Any) -> float | None:
    return round(float(num) / float(den), 4) if den else None


def _secs(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


def _flag(cond: Any) -> Any:
    return case((cond, 1), else_=0)


def _check_slices(slices: tuple[str, ...] | list[str], allowed: tuple[str, ...]) -> tuple[str, ...]:
    bad = [s for s in slices if s not in allowed]
    if bad:
        raise ValidationFailed(f"unknown slice {bad[0]!r}; slices are {', '.join(allowed)}", field="slices")
    return tuple(slices)


# --------------------------------------------------------------------------- the case timeline


def case_timeline(ctx: Context) -> Any:
    """One row per case reported in the period: its slice values and the times of its steps (a CTE)."""
    p, d, f = ctx.period, ctx.dialect, ctx.filters
    conds = [Case.reported_at >= p.start_at, Case.reported_at < p.end_at, Case.reported_at < ctx.as_of]
    for col, value in ((Case.department_id, f.department_id), (Case.category_id, f.category_id),
                       (Case.grid_id, f.grid_id), (Case.channel, f.channel), (Case.tier, f.tier)):
        if value is not None:
            conds.append(col == value)
    cohort = select(
        Case.id.label("case_id"), Case.department_id, Case.category_id, Case.grid_id, Case.channel, Case.tier,
        Case.reported_at, d.local_hour(Case.reported_at).label("hour"), Case.ledger_seq,
    ).where(*conds).subquery("cohort")

    # Each case's step times and counts: its current case_fact row, or its ledger folded.
    pc_table = case_facts.per_case(cohort, p, ctx.as_of)
    pc = pc_table.c

    sup = select(Supervision.case_id, func.count().label("n")).join(
        cohort, Supervision.case_id == cohort.c.case_id).where(Supervision.at < ctx.as_of).group_by(
        Supervision.case_id).subquery()

    decisions = select(
        LedgerEntry.item_id,
        func.sum(_flag(LedgerEntry.trigger == "approve_return")).label("approved"),
        func.sum(_flag(LedgerEntry.trigger == "reject_return")).label("rejected"),
    ).where(LedgerEntry.item_type == "return_request", LedgerEntry.trigger.in_(("approve_return", "reject_return")),
            LedgerEntry.at >= p.start_at, LedgerEntry.at < ctx.as_of).group_by(LedgerEntry.item_id).subquery()
    review_s = returns.review_seconds(d.seconds, ReturnRequest, ctx.as_of)
    ret = select(
        ReturnRequest.case_id, func.count().label("requests"),
        func.sum(func.coalesce(decisions.c.approved, 0)).label("approved"),
        func.sum(func.coalesce(decisions.c.rejected, 0)).label("rejected"),
        func.count(review_s).label("reviewed"), func.sum(review_s).label("review_s_sum"),
    ).join(cohort, ReturnRequest.case_id == cohort.c.case_id).outerjoin(
        decisions, decisions.c.item_id == ReturnRequest.id).where(
        ReturnRequest.created_at < ctx.as_of).group_by(ReturnRequest.case_id).subquery()

    overdue = pc.late > 0  # a handling limit fired (case_facts: not in a returned department's time)

    closed = pc.closed_at.is_not(None)
    handle_from = func.coalesce(pc.signed_at, pc.dispatched_at, cohort.c.reported_at)
    return select(
        cohort.c.case_id, cohort.c.department_id, cohort.c.category_id, cohort.c.grid_id, cohort.c.channel,
        cohort.c.tier, cohort.c.hour,
        _flag(pc.registered_at.is_not(None)).label("registered"),
        _flag(pc.voids > 0).label("voided"),
        _flag(pc.dispatched_at.is_not(None)).label("dispatched"),
        _flag(pc.redispatches > 0).label("redispatched"),
        _flag(closed).label("closed"),
        _flag(and_(closed, ~overdue)).label("closed_on_time"),
        _flag(pc.checks > 0).label("checked"),
        _flag(pc.reworks > 0).label("reworked"),
        func.coalesce(pc.reworks, 0).label("rework_count"),
        func.coalesce(ret.c.requests, 0).label("return_requests"),
        func.coalesce(ret.c.approved, 0).label("returns_approved"),
        func.coalesce(ret.c.rejected, 0).label("returns_rejected"),
        func.coalesce(ret.c.reviewed, 0).label("returns_reviewed"),
        func.coalesce(ret.c.review_s_sum, 0).label("return_review_s_sum"),
        func.coalesce(pc.ext_requests, 0).label("extension_requests"),
        _flag(pc.ext_approved > 0).label("extended"),
        func.coalesce(pc.def_requests, 0).label("deferral_requests"),
        _flag(pc.def_approved > 0).label("deferred"),
        func.coalesce(sup.c.n, 0).label("supervisions"),
        _flag(sup.c.n > 0).label("supervised"),
        func.coalesce(pc.callbacks, 0).label("callbacks"),
        func.coalesce(pc.satisfied, 0).label("satisfied"),
        func.coalesce(pc.unsatisfied, 0).label("unsatisfied"),
        func.coalesce(pc.grade_sum, 0).label("grade_sum"),
        func.coalesce(pc.graded, 0).label("graded"),
        d.seconds(pc.register_at, cohort.c.reported_at).label("review_s"),
        d.seconds(pc.dispatched_at, pc.register_at).label("dispatch_s"),
        d.seconds(pc.signed_at, pc.dispatched_at).label("sign_s"),
        d.seconds(pc.result_at, handle_from).label("handle_s"),
        case((pc.last_pass_at > pc.last_result_at, d.seconds(pc.last_pass_at, pc.last_result_at))).label("check_s"),
        d.seconds(pc.closed_at, cohort.c.reported_at).label("total_s"),
    ).select_from(cohort).outerjoin(pc_table, pc.item_id == cohort.c.case_id).outerjoin(
        sup, sup.c.case_id == cohort.c.case_id).outerjoin(ret, ret.c.case_id == cohort.c.case_id).cte("timeline")


# --------------------------------------------------------------------------- grouping


def _slice_column(dim: str) -> str:
    return {"department": "department_id", "category": "category_id", "grid": "grid_id",
            "area": "area_kind"}.get(dim, dim)


def _slice_key(t: Any, dim: str) -> Any:
    if dim == "total":
        return cast(null(), String)
    return cast(t.c[_slice_column(dim)], String)


def _grouped(t: Any, dims: tuple[str, ...], aggregates: list[Any], dialect: Dialect,
             stage_cols: tuple[str, ...], median_dims: tuple[str, ...]) -> Any:
    """One row per slice key (plus the total), with medians on PostgreSQL.

    PostgreSQL: two GROUPING SETS passes over the timeline, one with medians (the total and
    ``median_dims``, sorted) and one without (the other slices, hashed), instead of a pass per
    slice. Elsewhere: UNION ALL of one GROUP BY per slice.
    """
    if dialect.postgres:
        with_medians = [d for d in dims if d in median_dims]
        plain = [d for d in dims if d not in median_dims]
        passes = [_grouping_sets(t, ["total", *with_medians], aggregates, stage_cols, True)]
        if plain:
            passes.append(_grouping_sets(t, plain, aggregates, stage_cols, False))
        return union_all(*passes) if len(passes) > 1 else passes[0]
    branches = []
    for dim in ("total", *dims):
        key = _slice_key(t, dim)
        q = select(literal(dim).label("dim"), key.label("key"), *aggregates).select_from(t)
        branches.append(q if dim == "total" else q.group_by(key))
    return union_all(*branches)


def _grouping_sets(t: Any, dims: list[str], aggregates: list[Any], stage_cols: tuple[str, ...],
                   medians: bool) -> Any:
    """A ``GROUP BY GROUPING SETS`` over ``dims`` ("total" is the empty set); ``dim`` and ``key``
    of each row from ``GROUPING()``: the one grouped column of its set, none for the total."""
    columns = {d: t.c[_slice_column(d)] for d in dims if d != "total"}
    which = [(func.grouping(col) == 0, d, col) for d, col in columns.items()]
    dim = case(*[(cond, literal(d)) for cond, d, _ in which], else_=literal("total")) if which else literal("total")
    key = (case(*[(cond, cast(col, String)) for cond, _, col in which], else_=cast(null(), String))
           if which else cast(null(), String))
    sets = [tuple_(col) for col in columns.values()] + ([tuple_()] if "total" in dims else [])
    cols = [dim.label("dim"), key.label("key"), *aggregates]
    cols += [(func.percentile_cont(0.5).within_group(t.c[f"{s}_s"]) if medians
              else cast(null(), Float)).label(f"{s}_median") for s in stage_cols]
    q = select(*cols).select_from(t)
    return q.group_by(func.grouping_sets(*sets)) if sets else q


def _medians_portable(session: Session, t: Any, dims: tuple[str, ...],
                      stage_cols: tuple[str, ...]) -> dict[tuple[str, str | None, str], float]:
    """Medians without percentile_cont: per (dim, key, stage), the average of the middle one or two values."""
    parts = []
    for dim in ("total", *dims):
        key = _slice_key(t, dim)
        for s in stage_cols:
            v = t.c[f"{s}_s"]
            parts.append(select(literal(dim).label("dim"), key.label("key"), literal(s).label("stage"),
                                cast(v, Float).label("v")).where(v.is_not(None)))
    values = union_all(*parts).subquery()
    ranked = select(
        values.c.dim, values.c.key, values.c.stage, values.c.v,
        func.row_number().over(partition_by=(values.c.dim, values.c.key, values.c.stage), order_by=values.c.v)
        .label("rn"),
        func.count().over(partition_by=(values.c.dim, values.c.key, values.c.stage)).label("n"),
    ).subquery()
    mid = select(ranked.c.dim, ranked.c.key, ranked.c.stage, func.avg(ranked.c.v)).where(
        or_(ranked.c.rn == (ranked.c.n + 1) // 2, ranked.c.rn == (ranked.c.n + 2) // 2)
    ).group_by(ranked.c.dim, ranked.c.key, ranked.c.stage)
    return {(dim, key, stage): float(m) for dim, key, stage, m in session.execute(mid)}


def _collect(session: Session, t: Any, dims: tuple[str, ...], aggregates: list[Any], dialect: Dialect,
             stage_cols: tuple[str, ...], median_dims: tuple[str, ...]) -> dict[tuple[str, str | None], dict[str, Any]]:
    no_jit(session)
    median_dims = tuple(d for d in dims if d in median_dims)
    rows = session.execute(_grouped(t, dims, aggregates, dialect, stage_cols, median_dims)).mappings().all()
    out: dict[tuple[str, str | None], dict[str, Any]] = {}
    for r in rows:
        out[(r["dim"], r["key"])] = dict(r)
    if not dialect.postgres:
        for (dim, key, stage), m in _medians_portable(session, t, median_dims, stage_cols).items():
            if (dim, key) in out:
                out[(dim, key)][f"{stage}_median"] = m
    return out


# --------------------------------------------------------------------------- labels


def _labels(session: Session) -> dict[str, dict[str, str]]:
    """Display names of slice keys (small reference tables)."""
    from caseflow.models import CHANNELS, TIERS

    channel_zh = {"patrol": "巡查", "hotline": "12345", "app": "随手拍/App", "sensor": "物联感知",
                  "linkage_110": "110 联动", "referral": "部门转办"}
    tier_zh = {"simple": "简单", "general": "一般", "complex": "复杂", "difficult": "疑难"}
    return {
        "department": {str(i): n for i, n in session.execute(select(Department.id, Department.name))},
        "category": {str(i): n for i, n in session.execute(select(Category.id, Category.name))},
        "grid": {str(i): n for i, n in session.execute(select(Grid.id, Grid.name))},
        "channel": {c: channel_zh.get(c, c) for c in CHANNELS},
        "tier": {t: tier_zh.get(t, t) for t in TIERS},
        "hour": {str(h): f"{h:02d}:00-{h:02d}:59" for h in range(24)},
        "severity": {"ordinary": "一般", "larger": "较大", "major": "重大"},
        "area": {"main_urban": "主城区", "other": "其它区域"},
    }


def _label(labels: dict[str, dict[str, str]], dim: str, key: str | None) -> str:
    if key is None:
        return "合计" if dim == "total" else "（未指定）"
    return labels.get(dim, {}).get(key, key)


def _sort_key(dim: str, row: dict[str, Any]) -> Any:
    if dim == "hour":
        return (0, int(row["key"]) if row["key"] is not None else 99)
    return (-(row.get("reported") or row.get("received") or 0), row["label"])


# --------------------------------------------------------------------------- case indicators


def _case_metrics(r: dict[str, Any]) -> dict[str, Any]:
    m: dict[str, Any] = {k: int(r.get(k) or 0) for k in CASE_COUNTS}
    m.update(
        closure_rate=_ratio(m["closed"], m["registered"]),
        on_time_closure_rate=_ratio(m["closed_on_time"], m["registered"]),
        void_rate=_ratio(m["voided"], m["reported"]),
        rework_rate=_ratio(m["reworked"], m["checked"]),
        return_rate=_ratio(m["return_requests"], m["dispatched"]),
        return_approval_rate=_ratio(m["returns_approved"], m["returns_approved"] + m["returns_rejected"]),
        return_review_mean_s=(_secs(float(r.get("return_review_s_sum") or 0) / m["returns_reviewed"])
                              if m["returns_reviewed"] else None),
        extension_rate=_ratio(m["extended"], m["dispatched"]),
        deferral_rate=_ratio(m["deferred"], m["dispatched"]),
        satisfaction=_ratio(r.get("grade_sum") or 0, r.get("graded") or 0),
        satisfied_rate=_ratio(m["satisfied"], m["callbacks"]),
        closure_target_met=(None if not m["registered"] else m["closed"] / m["registered"] >= CLOSURE_TARGET),
        stages={s: {"n": int(r.get(f"{s}_n") or 0), "mean_s": _secs(r.get(f"{s}_mean")),
                    "median_s": _secs(r.get(f"{s}_median"))} for s in STAGES},
    )
    return m


def case_indicators(session: Session, ctx: Context, slices: tuple[str, ...] | list[str] = CASE_SLICES,
                    median_slices: tuple[str, ...] | list[str] = CASE_MEDIAN_SLICES,
                    refresh_facts: bool = True) -> dict[str, Any]:
    """The case indicators of the period: ``{"total": {...}, "by": {slice: [{key, label, ...}]}}``.

    Stage medians are computed for the total and for ``median_slices`` (each median is a sort
    per group); other slices carry ``median_s: None`` and their means.
    """
    dims = _check_slices(slices, CASE_SLICES)
    median_slices = _check_slices(median_slices, CASE_SLICES)
    if refresh_facts:  # only the cases whose ledger moved since; the query reads any other from the ledger
        case_facts.refresh(session, ctx.period, ctx.as_of)
    t = case_timeline(ctx)
    aggregates = [func.count().label("reported")]
    aggregates += [func.coalesce(func.sum(t.c[k]), 0).label(k) for k in CASE_COUNTS if k != "reported"]
    for s in STAGES:
        aggregates += [func.avg(t.c[f"{s}_s"]).label(f"{s}_mean"), func.count(t.c[f"{s}_s"]).label(f"{s}_n")]
    aggregates += _grade_aggregates(t)
    aggregates.append(func.coalesce(func.sum(t.c.return_review_s_sum), 0).label("return_review_s_sum"))
    grouped = _collect(session, t, dims, aggregates, ctx.dialect, STAGES, tuple(median_slices))
    session.rollback()  # a read: end the transaction (and SQLite's read snapshot)
    labels = _labels(session)
    session.rollback()
    total = _case_metrics(grouped.get(("total", None), {}))
    by: dict[str, list[dict[str, Any]]] = {}
    for dim in dims:
        rows = [{"key": key, "label": _label(labels, dim, key), **_case_metrics(r)}
                for (d, key), r in grouped.items() if d == dim]
        by[dim] = sorted(rows, key=lambda row: _sort_key(dim, row))
    return {"total": total, "by": by}


def _grade_aggregates(t: Any) -> list[Any]:
    # Mean satisfaction = all grades / graded callbacks (not a mean of per-case means).
    return [func.coalesce(func.sum(t.c.grade_sum), 0).label("grade_sum"),
            func.coalesce(func.sum(t.c.graded), 0).label("graded")]


# --------------------------------------------------------------------------- instructions


def instruction_timeline(ctx: Context) -> Any:
    """One row per instruction received in the period, with its slice values and step times (a CTE)."""
    p, d, f = ctx.period, ctx.dialect, ctx.filters
    i = Instruction
    limit = case((i.area_kind == "other", ARRIVAL_LIMIT_S["other"]), else_=ARRIVAL_LIMIT_S["main_urban"])
    dispatched = and_(i.dispatched_at.is_not(None), i.dispatched_at < ctx.as_of)
    arrived = and_(i.arrived_at.is_not(None), i.arrived_at < ctx.as_of)
    conds = [i.received_at >= p.start_at, i.received_at < p.end_at, i.received_at < ctx.as_of]
    for col, value in ((i.department_id, f.department_id), (i.category_id, f.category_id), (i.grid_id, f.grid_id)):
        if value is not None:
            conds.append(col == value)
    return select(
        i.id, i.department_id, i.category_id, i.grid_id, i.severity, i.area_kind,
        d.local_hour(i.received_at).label("hour"),
        _flag(i.state == "declined").label("declined"),
        _flag(dispatched).label("dispatched"),
        _flag(and_(dispatched, arrived)).label("arrived"),
        _flag(and_(dispatched, arrived, d.seconds(i.arrived_at, i.dispatched_at) <= limit)).label("arrived_on_time"),
        _flag(and_(i.closed_at.is_not(None), i.closed_at < ctx.as_of)).label("closed"),
        case((and_(i.signed_at.is_not(None), i.signed_at < ctx.as_of), d.seconds(i.signed_at, i.received_at))
             ).label("sign_s"),
        case((and_(dispatched, arrived), d.seconds(i.arrived_at, i.dispatched_at))).label("arrival_s"),
    ).where(*conds).cte("itimeline")


def _instruction_metrics(r: dict[str, Any]) -> dict[str, Any]:
    m: dict[str, Any] = {k: int(r.get(k) or 0) for k in INSTRUCTION_COUNTS}
    m.update(
        arrival_on_time_rate=_ratio(m["arrived_on_time"], m["dispatched"]),
        late_or_missing=m["dispatched"] - m["arrived_on_time"],
        stages={s: {"n": int(r.get(f"{s}_n") or 0), "mean_s": _secs(r.get(f"{s}_mean")),
                    "median_s": _secs(r.get(f"{s}_median"))} for s in INSTRUCTION_STAGES},
    )
    return m


def instruction_indicators(session: Session, ctx: Context,
                           slices: tuple[str, ...] | list[str] = INSTRUCTION_SLICES,
                           median_slices: tuple[str, ...] | list[str] = INSTRUCTION_MEDIAN_SLICES) -> dict[str, Any]:
    """Instructions received in the period: counts, arrival on time, sign and arrival times, by slice."""
    if ctx.filters.channel not in (None, "linkage_110") or ctx.filters.tier is not None:
        return {"total": _instruction_metrics({}), "by": {s: [] for s in slices}}
    dims = _check_slices(slices, INSTRUCTION_SLICES)
    t = instruction_timeline(ctx)
    aggregates = [func.count().label("received")]
    aggregates += [func.coalesce(func.sum(t.c[k]), 0).label(k) for k in INSTRUCTION_COUNTS if k != "received"]
    for s in INSTRUCTION_STAGES:
        aggregates += [func.avg(t.c[f"{s}_s"]).label(f"{s}_mean"), func.count(t.c[f"{s}_s"]).label(f"{s}_n")]
    grouped = _collect(session, t, dims, aggregates, ctx.dialect, INSTRUCTION_STAGES, tuple(median_slices))
    labels = _labels(session)
    session.rollback()
    by: dict[str, list[dict[str, Any]]] = {}
    for dim in dims:
        rows = [{"key": key, "label": _label(labels, dim, key), **_instruction_metrics(r)}
                for (d, key), r in grouped.items() if d == dim]
        by[dim] = sorted(rows, key=lambda row: _sort_key(dim, row))
    return {"total": _instruction_metrics(grouped.get(("total", None), {})), "by": by}


# --------------------------------------------------------------------------- trend


def trend(session: Session, ctx: Context) -> list[dict[str, Any]]:
    """Per trend bucket (hour/day/week/month): cases reported, and cases closed (``check_pass``) in it."""
    p, d, f = ctx.period, ctx.dialect, ctx.filters
    unit = p.trend_unit
    case_conds = [(Case.department_id, f.department_id), (Case.category_id, f.category_id),
                  (Case.grid_id, f.grid_id), (Case.channel, f.channel), (Case.tier, f.tier)]
    rep_b = d.local_text(Case.reported_at, unit)
    rep = select(rep_b.label("b"), func.count().label("n")).where(
        Case.reported_at >= p.start_at, Case.reported_at < p.end_at, Case.reported_at < ctx.as_of,
        *[c == v for c, v in case_conds if v is not None]).group_by(rep_b)
    clo_b = d.local_text(LedgerEntry.at, unit)
    clo = select(clo_b.label("b"), func.count(func.distinct(LedgerEntry.item_id)).label("n")).where(
        LedgerEntry.trigger == "check_pass", LedgerEntry.item_type == "case",
        LedgerEntry.at >= p.start_at, LedgerEntry.at < p.end_at, LedgerEntry.at < ctx.as_of)
    if any(v is not None for _, v in case_conds):
        clo = clo.join(Case, Case.id == LedgerEntry.item_id).where(
            *[c == v for c, v in case_conds if v is not None])
    clo = clo.group_by(clo_b)
    no_jit(session)
    reported = {b: int(n) for b, n in session.execute(rep)}
    closed = {b: int(n) for b, n in session.execute(clo)}
    session.rollback()
    return [{"bucket": b, "reported": reported.get(b, 0), "closed": closed.get(b, 0)}
            for b in buckets(p)]


def buckets(p: Period) -> list[str]:
    """Every trend bucket of the period, in order, as the SQL renders them."""
    from datetime import timedelta

    unit, out = p.trend_unit, []
    if unit == "hour":
        return [f"{p.first_day:%Y-%m-%d} {h:02d}" for h in range(24)]
    day = p.first_day
    while day <= p.last_day:
        if unit == "day":
            out.append(f"{day:%Y-%m-%d}")
            day += timedelta(days=1)
        elif unit == "week":
            monday = day - timedelta(days=day.weekday())
            if f"{monday:%Y-%m-%d}" not in out:
                out.append(f"{monday:%Y-%m-%d}")
            day = monday + timedelta(days=7)
        else:
            out.append(f"{day:%Y-%m}")
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return out


def indicators(session: Session, period: Period, *, case_slices: tuple[str, ...] | list[str] = CASE_SLICES,
               instruction_slices: tuple[str, ...] | list[str] = INSTRUCTION_SLICES,
               median_slices: tuple[str, ...] | list[str] | None = None,
               as_of: datetime | None = None, filters: Filters | None = None,
               with_trend: bool = True, with_instructions: bool = True,
               refresh_facts: bool = True) -> dict[str, Any]:
    """Every indicator of ``period``: cases, and (optionally) instructions and the trend.

    ``refresh_facts``: fold the period's cases whose ledger moved into ``case_fact`` first
    (:func:`caseflow.analysis.case_facts.refresh`); without it the numbers are the same, read
    from the ledger for those cases.

    ``median_slices`` (default: department and tier for cases, department and area for
    instructions) names the slices whose stage medians are computed besides the total.
    """
    ctx = make_context(session, period, as_of, filters)
    case_medians = CASE_MEDIAN_SLICES if median_slices is None else tuple(
        m for m in median_slices if m in CASE_SLICES)
    inst_medians = INSTRUCTION_MEDIAN_SLICES if median_slices is None else tuple(
        m for m in median_slices if m in INSTRUCTION_SLICES)
    out: dict[str, Any] = {
        "period": period.as_dict(), "as_of": ctx.as_of.isoformat(), "filters": ctx.filters.as_dict(),
        "closure_target": CLOSURE_TARGET, "median_slices": list(case_medians),
        "cases": case_indicators(session, ctx, case_slices, case_medians, refresh_facts),
    }
    if with_instructions:
        out["instructions"] = instruction_indicators(session, ctx, instruction_slices, inst_medians)
    if with_trend:
        out["trend"] = trend(session, ctx)
    return out


__all__ = [
    "CASE_SLICES", "INSTRUCTION_SLICES", "CASE_MEDIAN_SLICES", "STAGES", "CLOSURE_TARGET", "Context", "Filters", "make_context",
    "case_indicators", "instruction_indicators", "trend", "indicators", "buckets",
]
