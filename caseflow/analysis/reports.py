"""The five period reports (seed 001 篇五 六(五)): 日研判、周提示、月通报、季分析、年总结.

A report is plain data (JSON-ready): the period's case and instruction indicators by type,
area, channel, tier and time of day, the trend, the recurring problems it found, the
department ranking and a few highlight sentences. The console renders it with charts, the
XLSX export writes the same numbers, and ``stored_report`` keeps each generated report.
"""
from __future__ import annotations

import copy
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow.errors import NotFound
from caseflow.models import Case, utcnow
from caseflow.models.analysis import StoredReport

from . import assessment, case_facts, indicators, recurring
from .labels import key_label
from .periods import DEFAULT_TZ, KINDS, Period, last_completed, period_of

TITLES = {"day": "日研判", "week": "周提示", "month": "月通报", "quarter": "季分析", "year": "年总结"}
TITLES_EN = {"day": "Daily judgement", "week": "Weekly hints", "month": "Monthly report",
             "quarter": "Quarterly analysis", "year": "Yearly summary"}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _top(rows: list[dict[str, Any]], key: str = "reported") -> dict[str, Any] | None:
    rows = [r for r in rows if r.get("key") is not None and r.get(key)]
    return max(rows, key=lambda r: r[key]) if rows else None


# The highlight sentences, (zh, en): str.format templates filled by :func:`highlights`.
PHRASES: dict[str, tuple[str, str]] = {
    "totals": ("本期上报 {reported} 件，立案 {registered} 件，结案 {closed} 件，结案率 {rate}（目标 ≥ {target}%）",
               "Reported {reported}, registered {registered}, closed {closed}; closure rate {rate} "
               "(target ≥ {target}%)"),
    "below": ("，未达标。", ", below the target."),
    "end": ("。", "."),
    "change": ("上报量较上期（{label}，{n} 件）{dir} {pct}%。",
               "Reports {dir} {pct}% on the previous period ({label}: {n})."),
    "up": ("增加", "up"),
    "down": ("减少", "down"),
    "category": ("高发问题类型：{label}（{n} 件）。", "Most frequent category: {label} ({n})."),
    "grid": ("高发网格：{label}（{n} 件）。", "Busiest grid: {label} ({n})."),
    "hour": ("高发时段：{label}（{n} 件）。", "Busiest hour: {label} ({n})."),
    "instructions": ("应急指令 {received} 件，派遣 {dispatched} 件，按时到场率 {rate}。",
                     "Emergency instructions: {received} received, {dispatched} dispatched; arrived on time {rate}."),
    "recurring": ("发现反复发生问题 {grid} 处（同类同地）、{hour} 个（同类同时段），宜探索长效机制，从源头解决。",
                  "Recurring problems found: {grid} (same category, same grid) and {hour} (same category, same "
                  "hour); look for a lasting fix at the source."),
    "ranking": ("部门考核：{first} 居首（{first_score} 分），{last} 居末（{last_score} 分）。",
                "Department assessment: {first} first ({first_score} points), {last} last ({last_score} points)."),
}


def highlights(data: dict[str, Any], lang: str = "zh") -> list[str]:
    """Short findings for the head of the report, in Chinese (stored) or English."""
    def say(key: str, **values: Any) -> str:
        return PHRASES[key][1 if lang == "en" else 0].format(**values)

    total = data["cases"]["total"]
    out = [say("totals", reported=total["reported"], registered=total["registered"], closed=total["closed"],
               rate=_pct(total["closure_rate"]), target=f"{data['closure_target'] * 100:.0f}")
           + say("below" if total["closure_target_met"] is False else "end")]
    prev = data.get("previous") or {}
    if prev.get("reported"):
        change = (total["reported"] - prev["reported"]) / prev["reported"]
        out.append(say("change", label=prev["label"], n=prev["reported"], dir=say("up" if change >= 0 else "down"),
                       pct=f"{abs(change) * 100:.1f}"))
    by = data["cases"]["by"]
    for dim in ("category", "grid", "hour"):
        top = _top(by.get(dim, []))
        if top:
            out.append(say(dim, label=top["label"], n=top["reported"]))
    ins = data["instructions"]["total"]
    if ins["dispatched"]:
        out.append(say("instructions", received=ins["received"], dispatched=ins["dispatched"],
                       rate=_pct(ins["arrival_on_time_rate"])))
    rec = data["recurring"]
    if rec["by_grid"] or rec["by_hour"]:
        out.append(say("recurring", grid=len(rec["by_grid"]), hour=len(rec["by_hour"])))
    ranking = data["assessment"]["ranking"]
    if ranking:
        out.append(say("ranking", first=ranking[0]["name"], first_score=ranking[0]["score"],
                       last=ranking[-1]["name"], last_score=ranking[-1]["score"]))
    return out


def period_label(kind: str, start: str, lang: str = "zh") -> str:
    """The label of the period of ``kind`` starting on ``start`` (ISO date) in ``lang``."""
    return period_of(kind, date.fromisoformat(start), DEFAULT_TZ).label(lang)


def in_language(data: dict[str, Any], lang: str) -> dict[str, Any]:
    """The report ``data`` with its titles, period labels, enumerated slice names and highlights in
    ``lang``; the numbers are untouched. Chinese (what is stored) comes back as it is."""
    if lang != "en":
        return data
    out = copy.deepcopy(data)
    out["title"] = TITLES_EN.get(out.get("kind", ""), out.get("title_en") or out["title"])
    period = out["period"]
    if out.get("kind") in KINDS:
        period["label"] = period_label(out["kind"], period["start"], lang)
        if out.get("previous"):
            out["previous"]["label"] = period_label(out["kind"], out["previous"]["start"], lang)
    for part in ("cases", "instructions"):
        for dim, rows in out[part]["by"].items():
            for row in rows:
                row["label"] = key_label(dim, row.get("key"), row["label"], lang)
    out["highlights"] = highlights(out, lang)
    return out


def build_report(session: Session, period: Period, *, as_of: datetime | None = None) -> dict[str, Any]:
    """The report of ``period`` as data (nothing is stored).

    On PostgreSQL the parts besides the case indicators (instructions, trend, recurring
    problems, assessment) run meanwhile on a second connection: the case indicators keep one
    server process busy, and the server has more cores than that.
    """
    started = time.perf_counter()
    as_of = as_of or utcnow()
    others = _beside(session, lambda s: _other_parts(s, period, as_of))
    # The facts are refreshed by the other parts, after them: the case indicators read any case
    # whose ledger moved from its ledger meanwhile (the same numbers; a period's first report,
    # with none folded yet, pays for reading them all).
    data = indicators.indicators(session, period, as_of=as_of, with_instructions=False, with_trend=False,
                                 refresh_facts=False)
    data.update(others(), kind=period.kind, title=TITLES[period.kind], title_en=TITLES_EN[period.kind],
                generated_at=utcnow().isoformat())
    data["highlights"] = highlights(data)
    data["duration_ms"] = int((time.perf_counter() - started) * 1000)
    return data


def _other_parts(session: Session, period: Period, as_of: datetime) -> dict[str, Any]:
    """Everything of a report but the case indicators; then the period's case facts refreshed."""
    ctx = indicators.make_context(session, period, as_of)
    prev = period.previous()
    prev_n = session.execute(select(func.count()).select_from(Case).where(
        Case.reported_at >= prev.start_at, Case.reported_at < prev.end_at)).scalar() or 0
    session.rollback()
    out = {
        "instructions": indicators.instruction_indicators(session, ctx),
        "trend": indicators.trend(session, ctx),
        "previous": {"label": prev.label(), "start": prev.first_day.isoformat(), "reported": int(prev_n)},
        "recurring": recurring.recurring_problems(session, period, as_of=as_of),
        "assessment": assessment.assess(session, period, as_of),
    }
    case_facts.refresh(session, period, as_of)
    return out


def _beside(session: Session, work: Callable[[Session], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Start ``work`` on a session of its own in a thread when the session's bind is a
    PostgreSQL engine; returns what waits for its result. Elsewhere (SQLite, or a session
    bound to one connection, as in tests) the work runs on ``session`` when its result is asked for.
    """
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.dialect.name != "postgresql":
        return lambda: work(session)

    def run() -> dict[str, Any]:
        with Session(bind) as own:
            return work(own)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="report")
    future = pool.submit(run)
    pool.shutdown(wait=False)  # the thread ends with its one task

    return future.result


def store_report(session: Session, period: Period, *, as_of: datetime | None = None,
                 generated_by_id: int | None = None) -> StoredReport:
    """Build the report of ``period`` and keep it (replacing an earlier one of that period); commits.

    This builds inside the caller's request or process; the console and the API go through
    :func:`caseflow.analysis.report_requests.request_report`, which hands big periods to a job.
    """
    data = build_report(session, period, as_of=as_of)
    return save_report(session, period, data, generated_by_id=generated_by_id)


def save_report(session: Session, period: Period, data: dict[str, Any], *,
                generated_by_id: int | None = None) -> StoredReport:
    """Keep ``data`` (from :func:`build_report`) as the report of ``period``, replacing an earlier
    one and marking the row ready (a pending request is fulfilled, a failure forgotten); commits."""
    for attempt in range(2):
        row = session.execute(select(StoredReport).where(
            StoredReport.kind == period.kind, StoredReport.period_start == period.first_day)
            .with_for_update()).scalar_one_or_none()
        if row is None:
            row = StoredReport(kind=period.kind, period_start=period.first_day)
            session.add(row)
        row.start_at, row.end_at = period.start_at, period.end_at
        row.generated_at, row.generated_by_id = utcnow(), generated_by_id
        row.duration_ms, row.data = data["duration_ms"], data
        row.status, row.error = "ready", None
        try:
            session.commit()
            return row
        except IntegrityError:  # another process stored the same period first: replace its row
            session.rollback()
            if attempt:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def get_report(session: Session, report_id: int) -> StoredReport:
    """A stored report or ``NotFound``."""
    row = session.get(StoredReport, report_id)
    if row is None:
        raise NotFound(f"report {report_id} not found")
    return row


def list_reports(session: Session, kind: str | None = None, limit: int = 50) -> list[StoredReport]:
    """Stored reports, newest period first."""
    q = select(StoredReport).order_by(StoredReport.period_start.desc(), StoredReport.kind).limit(limit)
    if kind:
        q = q.where(StoredReport.kind == kind)
    return list(session.execute(q).scalars())


# A pending on-demand generation older than this lost its job (the job's timeout is 30 minutes):
# the schedule then makes the report itself.
PENDING_STALE_AFTER = timedelta(hours=1)


def due_periods(session: Session, now: datetime, tz: str | None = None) -> list[Period]:
    """The last completed period of each kind that has no stored report yet.

    A row whose on-demand generation failed, or has been pending for over an hour, does not
    count as stored; one pending for less is left to its job.
    """
    out = []
    for kind in KINDS:
        p = last_completed(kind, now, tz)
        found = session.execute(select(StoredReport.status, StoredReport.requested_at).where(
            StoredReport.kind == kind, StoredReport.period_start == p.first_day)).first()
        stale = found is not None and found.status == "pending" and (
            found.requested_at is None or now - found.requested_at > PENDING_STALE_AFTER)
        if found is None or found.status == "failed" or stale:
            out.append(p)
    session.rollback()
    return out


def generate_due_reports(session: Session, now: datetime | None = None) -> list[str]:
    """Generate and store every report that is due (idempotent); returns ``kind:start`` of each made.

    A day's report is due from local midnight after it, a week's from Monday, and so on.
    """
    now = now or utcnow()
    made = []
    for p in due_periods(session, now):
        store_report(session, p, as_of=now)
        made.append(f"{p.kind}:{p.first_day.isoformat()}")
    return made


__all__ = ["TITLES", "TITLES_EN", "highlights", "in_language", "period_label", "build_report", "store_report",
           "save_report", "get_report", "list_reports", "due_periods", "generate_due_reports", "period_of"]
