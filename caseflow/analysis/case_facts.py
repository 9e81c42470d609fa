"""Per-case facts: each case's step times and counts as folded from its ledger, kept in
``case_fact`` so a period's report aggregates one row per case instead of re-reading every
ledger entry of the period's cases (a 1,000,000-case year: ~420,000 entries a month).

The table is a cache and never the source of truth. A case's row is *current* for a report
when its ``ledger_seq`` equals the case's ledger head (nothing was appended since it was
folded) and its ``last_at`` (the latest entry folded in) lies before the report's ``as_of``;
:func:`current` yields those rows and :func:`from_ledger` computes any other case from the
ledger exactly as before, so a report reads the same numbers with or without the cache.
:func:`refresh` brings the facts of a period's cases up to date (an upsert of the cases whose
row is missing or behind); the reports call it first, so a report pays only for the cases
whose ledger moved since the last one.

Trigger names are the case workflows' (see :mod:`caseflow.analysis.indicators`).
"""
from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from caseflow.models import Case, Deadline, LedgerEntry
from caseflow.models.analysis import CaseFact
from caseflow.services import returns

from .periods import Period
from .sql import no_jit

DISPATCH_TRIGGERS = ("dispatch", "start_joint_handling")
# The handling limits whose firing makes a closure late (on-time closure, see indicators).
HANDLING_DEADLINES = ("sign", "handle", "check", "coordinate")
# The ledger triggers the facts fold (others, e.g. archive or supervise, are skipped).
TIMELINE_TRIGGERS = ("report", "register", "void", *DISPATCH_TRIGGERS, "redispatch", "sign", "report_result",
                     "check_pass", "check_fail", "request_extension", "approve_extension", "request_deferral",
                     "approve_deferral")
# The advisory lock key of a refresh (a stable 31-bit number derived from its name).
REFRESH_LOCK_KEY = zlib.crc32(b"caseflow.case_facts") & 0x7FFFFFFF
SATISFIED_MIN_GRADE = 4
UNSATISFIED_MAX_GRADE = 2
# The fact columns, in the order both sources select them (after ``item_id``).
COLUMNS = ("register_at", "registered_at", "voids", "dispatched_at", "redispatches", "signed_at", "result_at",
           "closed_at", "last_result_at", "last_pass_at", "checks", "reworks", "ext_requests", "ext_approved",
           "def_requests", "def_approved", "callbacks", "satisfied", "unsatisfied", "grade_sum", "graded", "late")
COUNTS = frozenset(c for c in COLUMNS if not c.endswith("_at"))


def _flag(cond: Any) -> Any:
    return case((cond, 1), else_=0)


def from_ledger(ids: Any, as_of: datetime | None, *extra: Any) -> Any:
    """``item_id``, the fact columns, ``last_at`` and ``extra`` columns of ``ids`` for the cases in
    ``ids`` (a subquery with ``case_id`` and ``department_id``, the case's holder), folded from
    their ledger entries before ``as_of`` (all when None).

    ``late`` (1/0): a handling limit of the case fired, leaving out limits that fell in a
    returned department's time (:func:`caseflow.services.returns.fell_in_returned_time`).
    ``last_at`` is the case's latest ledger entry of any kind: a limit's firing, a return's
    decision and a supervision are ledgered on the case too, so a row whose ``last_at`` lies
    before a report's ``as_of`` holds nothing that happened after it.

    The entries are read with the columns of the covering index ``ix_ledger_entry_timeline``
    only (index-only on PostgreSQL); callbacks, which need their payload's grade, come from
    the partial index ``ix_ledger_entry_callback``.
    """
    le = LedgerEntry
    before = [le.at < as_of] if as_of is not None else []
    rows = select(le.item_id, le.trigger, le.workflow, le.at).join(
        ids, and_(le.item_type == "case", le.item_id == ids.c.case_id)).where(
        le.trigger.in_(TIMELINE_TRIGGERS), *before).subquery()

    def first(*triggers: str) -> Any:
        return func.min(case((rows.c.trigger.in_(triggers), rows.c.at)))

    def count(*triggers: str) -> Any:
        return func.sum(_flag(rows.c.trigger.in_(triggers)))

    steps = select(
        rows.c.item_id,
        first("register").label("register_at"),
        # A simple case is handled on the spot without review: registered when reported.
        func.min(case((or_(rows.c.trigger == "register",
                           and_(rows.c.trigger == "report", rows.c.workflow == "case_simple")), rows.c.at))
                 ).label("registered_at"),
        count("void").label("voids"),
        first(*DISPATCH_TRIGGERS).label("dispatched_at"),
        count("redispatch").label("redispatches"),
        first("sign").label("signed_at"),
        first("report_result").label("result_at"),
        first("check_pass").label("closed_at"),
        func.max(case((rows.c.trigger == "report_result", rows.c.at))).label("last_result_at"),
        func.max(case((rows.c.trigger == "check_pass", rows.c.at))).label("last_pass_at"),
        count("check_pass", "check_fail").label("checks"),
        count("check_fail").label("reworks"),
        count("request_extension").label("ext_requests"),
        count("approve_extension").label("ext_approved"),
        count("request_deferral").label("def_requests"),
        count("approve_deferral").label("def_approved"),
    ).group_by(rows.c.item_id).subquery()

    grade = LedgerEntry.payload["grade"].as_integer()
    cb = select(
        LedgerEntry.item_id, func.count().label("callbacks"),
        func.sum(_flag(grade >= SATISFIED_MIN_GRADE)).label("satisfied"),
        func.sum(_flag(grade <= UNSATISFIED_MAX_GRADE)).label("unsatisfied"),
        func.sum(grade).label("grade_sum"), func.count(grade).label("graded"),
    ).join(ids, and_(LedgerEntry.item_type == "case", LedgerEntry.item_id == ids.c.case_id)).where(
        LedgerEntry.trigger == "callback", *([LedgerEntry.at < as_of] if as_of is not None else [])
    ).group_by(LedgerEntry.item_id).subquery()

    # Probes of the partial index ix_deadline_fired (INCLUDE key: index-only), with an anti-join
    # on the few return_request rows of those cases.
    late = select(Deadline.item_id).join(ids, and_(Deadline.item_type == "case", Deadline.item_id == ids.c.case_id)
                                         ).where(
        Deadline.status == "fired", Deadline.key.in_(HANDLING_DEADLINES),
        *([Deadline.due_at < as_of] if as_of is not None else []),
        ~returns.fell_in_returned_time(Deadline.item_id, ids.c.department_id, Deadline.due_at, as_of),
    ).group_by(Deadline.item_id).subquery()
    latest = select(le.item_id, func.max(le.at).label("at")).join(
        ids, and_(le.item_type == "case", le.item_id == ids.c.case_id)).where(*before).group_by(le.item_id).subquery()

    def col(name: str) -> Any:
        if name in ("callbacks", "satisfied", "unsatisfied", "grade_sum", "graded"):
            return func.coalesce(cb.c[name], 0).label(name)
        if name == "late":
            return _flag(late.c.item_id.is_not(None)).label(name)
        value = steps.c[name]
        return (func.coalesce(value, 0) if name in COUNTS else value).label(name)

    return select(ids.c.case_id.label("item_id"), *[col(c) for c in COLUMNS], latest.c.at.label("last_at"), *extra
                  ).select_from(ids).outerjoin(steps, steps.c.item_id == ids.c.case_id).outerjoin(
        cb, cb.c.item_id == ids.c.case_id).outerjoin(late, late.c.item_id == ids.c.case_id).outerjoin(
        latest, latest.c.item_id == ids.c.case_id).where(
        # A WHERE of its own: SQLite reads "INSERT ... SELECT ... ON CONFLICT" only after one.
        ids.c.case_id.is_not(None))


def _period_rows(period: Period, as_of: datetime | None = None) -> Any:
    """The fact rows of cases reported in ``period`` (by the rows' copy of ``reported_at``),
    with only entries before ``as_of`` folded in when it is given."""
    facts = CaseFact.__table__.c
    conds = [facts.reported_at >= period.start_at, facts.reported_at < period.end_at]
    if as_of is not None:
        conds.append(or_(facts.last_at.is_(None), facts.last_at < as_of))
    return select(CaseFact).where(*conds).subquery("facts")


def per_case(cohort: Any, period: Period, as_of: datetime) -> Any:
    """``item_id`` and the fact columns of every case in ``cohort`` (a subquery with ``case_id``
    and ``ledger_seq``, the cases reported in ``period``) as of ``as_of``: its current fact row,
    or else its ledger folded."""
    # The period's facts are found by their own copy of reported_at (rows a refresh wrote
    # together lie together); a row whose copy disagrees is simply not current. The cohort
    # is joined to them once (a CTE read twice): the cases found there, and the few without
    # a current row, which are folded from the ledger.
    in_period = _period_rows(period, as_of)
    joined = select(cohort.c.case_id, cohort.c.department_id, in_period.c.case_id.label("fact_id"),
                    *[in_period.c[c] for c in COLUMNS]
                    ).select_from(cohort).outerjoin(in_period, and_(
                        in_period.c.case_id == cohort.c.case_id,
                        in_period.c.ledger_seq == cohort.c.ledger_seq)).cte("cohort_facts")
    current = select(joined.c.case_id.label("item_id"), *[joined.c[c] for c in COLUMNS]).where(
        joined.c.fact_id.is_not(None))
    stale = select(joined.c.case_id, joined.c.department_id).where(joined.c.fact_id.is_(None)).subquery("stale")
    live = from_ledger(stale, as_of).subquery()
    return union_all(current, select(live.c.item_id, *[live.c[c] for c in COLUMNS])).subquery("per_case")


def refresh(session: Session, period: Period, as_of: datetime | None = None) -> int:
    """Fold the ledger of the period's cases whose fact row is missing or behind; commits.

    Returns the number of rows written. Safe to run concurrently: each statement reads the
    case's ledger head and its entries in one snapshot, and a row written from an older
    snapshot is merely behind (the reports then read that case's ledger).
    """
    conds = [Case.reported_at >= period.start_at, Case.reported_at < period.end_at]
    if as_of is not None:
        conds.append(Case.reported_at < as_of)
    # A case is behind unless the period's rows hold it at its ledger head (a CTE: computed
    # once although the fold below reads it three times).
    held = _period_rows(period)
    # A fact row also holds whether the case was late, which depends on its holder: a new
    # holder comes with a ledger entry (dispatch, return), so the row is behind then too.
    behind = select(Case.id.label("case_id"), Case.department_id, Case.ledger_seq, Case.reported_at).outerjoin(
        held, and_(held.c.case_id == Case.id, held.c.ledger_seq == Case.ledger_seq)).where(
        *conds, held.c.case_id.is_(None)).cte("behind")
    # Columns in the order of from_ledger's select (item_id is the case id).
    source = from_ledger(behind, None, behind.c.ledger_seq, behind.c.reported_at)
    names = ["case_id", *COLUMNS, "last_at", "ledger_seq", "reported_at"]
    postgres = session.get_bind().dialect.name == "postgresql"
    stmt = (pg_insert if postgres else sqlite_insert)(CaseFact).from_select(names, source)
    stmt = stmt.on_conflict_do_update(index_elements=["case_id"],
                                      set_={n: stmt.excluded[n] for n in names if n != "case_id"})
    # Counted from RETURNING: the drivers report no rowcount for an upsert from a SELECT.
    ids = stmt.returning(CaseFact.case_id)
    if not postgres:
        written = len(session.connection().execute(ids).all())
    else:
        no_jit(session)
        # One refresh at a time: two upserting overlapping cases in different orders could deadlock.
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": REFRESH_LOCK_KEY})
        # Counted in the server: a year's first refresh writes a million rows.
        written = session.connection().execute(select(func.count()).select_from(ids.cte("written"))).scalar_one()
    session.commit()
    return int(written)


__all__ = ["COLUMNS", "TIMELINE_TRIGGERS", "DISPATCH_TRIGGERS", "from_ledger", "per_case", "refresh"]
