"""Import a rota (排班表) from CSV: one line per shift.

Columns (row 1 is the header, Chinese or English; UTF-8 with or without BOM):

=============  =================  ==================================================================
``日期``        ``date``           local day the shift starts at 08:30, ``2026-03-10`` (required)
``中心代码``     ``center``         center code (may be left out when the caller gives a default)
``值班长``       ``lead``           username of the shift lead (required)
``值班员``       ``officers``       usernames of the duty officers, separated by ``,`` ``，`` ``、`` ``;`` or spaces
``带班领导``     ``leader``         username of the leader on shift
``特殊时段``     ``special``        holiday / major_event / sensitive / weather / emergency
                                 (or 节假日 / 重大活动 / 敏感时期 / 灾害天气 / 应急)
=============  =================  ==================================================================

Every line is checked before anything is written; any problem rejects the whole file with every
problem listed as ``line N: field: problem`` (N is the CSV line, the header being line 1) and
nothing is saved. A shift that needs a leader on shift (a statutory or local holiday, a declared
special period, a ``special`` column, emergency mode: :mod:`.rules`) without a ``leader`` is such
a problem; a shift under its minimum staff is only a warning (the result's ``warnings``), as it
is a gap warned to the center's leaders later. A day without a shift gets a new planned shift; a
day whose shift is still planned gets its places replaced by the file's (ledgered on the shift); a
shift that has started or ended is refused (use swaps and assignments for those).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, ValidationFailed
from caseflow.models import Center, DutyAssignment, DutyShift, Person, utcnow
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.tabular import Column, LineError, Rows, csv_lines, decode, read_table
from caseflow.services.unit_of_work import unit_of_work
from caseflow.workflow.engine import WorkflowCatalog

from .common import ledger_note, require_role, shift_bounds
from .rota import QUALIFIES, ROTA_ROLES, SPECIAL_KINDS, _mark_special, _set_place, emergency_horizon
from .rules import rules_for_days

COLUMNS = (
    Column("date", "日期", "Date", True),
    Column("center", "中心代码", "Center code"),
    Column("lead", "值班长", "Lead", True),
    Column("officers", "值班员", "Officers"),
    Column("leader", "带班领导", "Leader on shift"),
    Column("special", "特殊时段", "Special period"),
)
_LABELS = {c.key: c.zh for c in COLUMNS}
SPECIAL_NAMES_ZH = {"holiday": "节假日", "major_event": "重大活动", "sensitive": "敏感时期", "weather": "灾害天气",
                    "emergency": "应急"}
_SPECIAL = {**{k: k for k in SPECIAL_KINDS}, **{zh: k for k, zh in SPECIAL_NAMES_ZH.items()}}
_SEPARATORS = re.compile(r"[,，、;；\s]+")
MAX_LINES = 1000


class RotaImportRejected(ValidationFailed):
    """Some lines are invalid; nothing was saved. ``errors`` lists every problem."""

    def __init__(self, errors: list[LineError]) -> None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"rota not imported, nothing saved: {errors[0].text('en')}{more}", field="file", details={
            "lines": [{"line": e.line, "field": e.field, "message": e.en, "message_zh": e.zh} for e in errors],
            "report": [e.text("en") for e in errors], "report_zh": [e.text("zh") for e in errors]})
        self.errors = errors


@dataclass
class RotaLine:
    """One valid line: the shift it sets and the people in each place."""

    line: int
    center: Center
    day: date
    lead: Person
    officers: list[Person]
    leader: Person | None
    special: str | None
    shift: DutyShift | None = None  # the existing planned shift of that day, if any


@dataclass
class RotaImportResult:
    """What an import did (or, on a dry run, would do)."""

    created: list[DutyShift] = field(default_factory=list)
    updated: list[DutyShift] = field(default_factory=list)
    lines: list[RotaLine] = field(default_factory=list)
    dry_run: bool = False
    warnings: list[LineError] = field(default_factory=list)  # shifts under their minimum staff


def read_csv(data: bytes | str) -> Rows:
    """``(line number, {column key: text})`` per non-empty data line; ``ValidationFailed`` naming
    ``file`` (and the line) for an unreadable file or a bad header."""
    return read_table(csv_lines(decode(data)), COLUMNS, max_rows=MAX_LINES, lang="en")


class _Checker:
    """Checks every line against the database and the other lines of the file."""

    def __init__(self, session: Session, default_center: str | None, now: Any) -> None:
        self.s = session
        self.default_center = default_center
        self.now = now
        self.errors: list[LineError] = []
        self.seen: dict[tuple[int, date], int] = {}

    def bad(self, line: int, column: str, en: str, zh: str) -> None:
        self.errors.append(LineError(line, column, _LABELS[column], zh, en))

    def person(self, line: int, column: str, username: str, place: str) -> Person | None:
        p = self.s.execute(select(Person).where(Person.username == username.lower())).scalar_one_or_none()
        if p is None or not p.active:
            self.bad(line, column, f"no active person {username!r}", f"没有在用的人员 {username}")
            return None
        if not p.roles & QUALIFIES[place]:
            self.bad(line, column, f"{username} cannot serve as {place} (needs role {' or '.join(sorted(QUALIFIES[place]))})",
                     f"{username} 不能担任此岗位")
            return None
        return p

    def check(self, line: int, row: dict[str, str]) -> RotaLine | None:
        errors_before = len(self.errors)
        day = None
        text = row.get("date", "")
        try:
            day = date.fromisoformat(text.replace("/", "-"))
        except ValueError:
            self.bad(line, "date", f"{text!r} is not a date like 2026-03-10" if text else "is required",
                     "应为 2026-03-10 格式的日期" if text else "必填")
        code = row.get("center") or self.default_center or ""
        center = self.s.execute(select(Center).where(Center.code == code)).scalar_one_or_none() if code else None
        if center is None:
            self.bad(line, "center", f"no center with code {code!r}" if code else "is required (or give a default center)",
                     f"没有代码为 {code} 的中心" if code else "必填")
        lead = None
        if row.get("lead"):
            lead = self.person(line, "lead", row["lead"], "duty_lead")
        else:
            self.bad(line, "lead", "is required", "必填")
        officers: list[Person] = []
        for name in [n for n in _SEPARATORS.split(row.get("officers", "")) if n]:
            p = self.person(line, "officers", name, "duty_officer")
            if p is None:
                continue
            if (lead is not None and p.id == lead.id) or any(o.id == p.id for o in officers):
                self.bad(line, "officers", f"{name} is named twice on this shift", f"{name} 在本班次重复")
                continue
            officers.append(p)
        leader = self.person(line, "leader", row["leader"], "leader_on_shift") if row.get("leader") else None
        if leader is not None and any(leader.id == p.id for p in [*officers, *([lead] if lead else [])]):
            self.bad(line, "leader", f"{row['leader']} is named twice on this shift", f"{row['leader']} 在本班次重复")
        special = None
        if row.get("special"):
            special = _SPECIAL.get(row["special"].strip().lower()) or _SPECIAL.get(row["special"].strip())
            if special is None:
                self.bad(line, "special", f"must be one of {', '.join(SPECIAL_KINDS)}",
                         f"应为 {'、'.join(SPECIAL_NAMES_ZH.values())} 之一")
        shift = None
        if day is not None and center is not None:
            key = (center.id, day)
            if key in self.seen:
                self.bad(line, "date", f"{day} at {center.code} repeats line {self.seen[key]}",
                         f"与第 {self.seen[key]} 行重复")
            self.seen.setdefault(key, line)
            starts_at, ends_at = shift_bounds(day)
            shift = self.s.execute(select(DutyShift).where(
                DutyShift.center_id == center.id, DutyShift.starts_at == starts_at)).scalar_one_or_none()
            if ends_at <= self.now:
                self.bad(line, "date", f"the shift of {day} is over", "该班次已结束")
            elif shift is not None and shift.state != "planned":
                self.bad(line, "date", f"the shift of {day} has started ({shift.state}); change it with swaps "
                         "or assignments", "该班次已上岗, 请用换班或调整岗位")
        if len(self.errors) > errors_before:
            return None
        assert day is not None and center is not None and lead is not None
        return RotaLine(line, center, day, lead, officers, leader, special, shift)

    def check_needs(self, lines: list[RotaLine]) -> list[LineError]:
        """Refuse lines whose shift needs a leader on shift and names none; return warnings for
        lines under their shift's minimum staff. One rules lookup per center."""
        warnings: list[LineError] = []
        by_center: dict[int, list[RotaLine]] = {}
        for ln in lines:
            by_center.setdefault(ln.center.id, []).append(ln)
        for center_id, group in by_center.items():
            horizon = emergency_horizon(self.s, center_id, self.now)
            days = [ln.day for ln in group]
            rules = rules_for_days(
                self.s, center_id, days, marks={ln.day: ln.special for ln in group if ln.special},
                emergency_days=[d for d in days if horizon is not None and shift_bounds(d)[0] < horizon])
            for ln in group:
                rule = rules[ln.day]
                if rule.needs_leader and ln.leader is None:
                    why = f" [{rule.label}]" if rule.label else ""
                    self.bad(ln.line, "leader", f"the shift of {ln.day}{why} needs a leader on shift (带班领导)",
                             f"{ln.day} 班次{why}须有带班领导")
                staff = 1 + len(ln.officers)
                if staff < rule.minimum:
                    warnings.append(LineError(
                        ln.line, "officers", _LABELS["officers"], f"{ln.day} 班次在岗 {staff} 人, 最少 {rule.minimum} 人",
                        f"{staff} on the shift of {ln.day}, its minimum is {rule.minimum}"))
        return warnings


def import_rota(session: Session, catalog: WorkflowCatalog, data: bytes | str, *, actor: Actor,
                default_center: str | None = None, dry_run: bool = False) -> RotaImportResult:
    """Check every line of a rota CSV, then write all shifts in one transaction (commits).

    Rota planners only (admin, leader, duty lead; or the system for the command line).
    ``default_center`` is the center code of lines without one. Raises
    ``RotaImportRejected`` listing every bad line (nothing saved), ``ValidationFailed`` naming
    ``file`` for an unreadable file.
    """
    role = require_role(actor, (*ROTA_ROLES, "system"), "rota import")
    rows = read_csv(data)
    checker = _Checker(session, default_center, utcnow())
    lines = [checked for number, row in rows if (checked := checker.check(number, row)) is not None]
    warnings = checker.check_needs(lines)
    if checker.errors:
        session.rollback()
        raise RotaImportRejected(sorted(checker.errors, key=lambda e: e.line))
    result = RotaImportResult(lines=lines, dry_run=dry_run, warnings=warnings)
    if dry_run:
        session.rollback()
        return result
    with unit_of_work(session, what="rota") as effects:
        now = utcnow()
        for ln in lines:
            if ln.shift is not None:
                shift = _clear(session, ln, actor, role, now)
                result.updated.append(shift)
            else:
                starts_at, ends_at = shift_bounds(ln.day)
                shift = DutyShift(center_id=ln.center.id, starts_at=starts_at, ends_at=ends_at,
                                  data={"day": ln.day.isoformat()})
                transition.start(session, catalog, shift, workflow="duty_shift", actor=actor, role=role,
                                 trigger="plan", payload={"source": "import", "line": ln.line}, effects=effects,
                                 commit=False)
                result.created.append(shift)
            _set_place(session, shift, ln.lead, "duty_lead")
            for officer in ln.officers:
                _set_place(session, shift, officer, "duty_officer")
            if ln.special is not None:
                _mark_special(session, shift, ln.special, ln.leader.id if ln.leader else None)
            elif ln.leader is not None:
                _set_place(session, shift, ln.leader, "leader_on_shift")
    return result


def _clear(session: Session, ln: RotaLine, actor: Actor, role: str, now: Any) -> DutyShift:
    """Lock a planned shift and empty its places for the file's people (ledgered on the shift)."""
    assert ln.shift is not None
    shift = transition.lock_item(session, "duty_shift", ln.shift.id)
    assert isinstance(shift, DutyShift)
    if shift.state != "planned":
        raise Conflict(f"line {ln.line}: the shift of {ln.day} has started meanwhile; nothing saved",
                       details={"state": shift.state, "line": ln.line})
    for a in session.execute(select(DutyAssignment).where(DutyAssignment.shift_id == shift.id)).scalars():
        session.delete(a)
    shift.lead_id = shift.leader_on_shift_id = None
    shift.data = {k: v for k, v in (shift.data or {}).items() if k not in ("special", "requires_leader")}
    session.flush()
    ledger_note(session, shift, "import_rota", actor, role, now, {
        "line": ln.line, "lead_id": ln.lead.id, "officer_ids": [p.id for p in ln.officers],
        "leader_id": ln.leader.id if ln.leader else None, "special": ln.special})
    return shift
