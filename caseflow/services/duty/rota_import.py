"""Import a rota (排班表) from CSV: one line per shift.

Columns (row 1 is the header, Chinese or English; UTF-8 with or without BOM):

=============  =================  ==================================================================
``日期``        ``date``           local day the shift starts at 08:30, ``2026-03-10`` (required)
``中心代码``     ``center``         center code (may be left out when the caller gives a default)
``值班长``       ``lead``           username of the shift lead (required)
``值班员``       ``officers``       usernames of the duty officers, separated by ``,`` ``，`` ``、`` ``;`` or spaces
``带班领导``     ``leader``         username of the leader on shift
``特殊时段``     ``special``        holiday / major_event / sensitive / emergency (or 节假日 / 重大活动 / 敏感时期 / 应急)
=============  =================  ==================================================================

Every line is checked before anything is written; any problem rejects the whole file with every
problem listed as ``line N: field: problem`` (N is the CSV line, the header being line 1) and
nothing is saved. A day without a shift gets a new planned shift; a day whose shift is still
planned gets its places replaced by the file's (ledgered on the shift); a shift that has started
or ended is refused (use swaps and assignments for those).
"""
from __future__ import annotations

import csv
import io
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
from caseflow.services.unit_of_work import unit_of_work
from caseflow.workflow.engine import WorkflowCatalog

from .common import ledger_note, require_role, shift_bounds
from .rota import QUALIFIES, ROTA_ROLES, SPECIAL_KINDS, _mark_special, _set_place

# column key -> (Chinese header, English header, required)
COLUMNS: dict[str, tuple[str, str, bool]] = {
    "date": ("日期", "Date", True),
    "center": ("中心代码", "Center code", False),
    "lead": ("值班长", "Lead", True),
    "officers": ("值班员", "Officers", False),
    "leader": ("带班领导", "Leader on shift", False),
    "special": ("特殊时段", "Special period", False),
}
SPECIAL_NAMES_ZH = {"holiday": "节假日", "major_event": "重大活动", "sensitive": "敏感时期", "emergency": "应急"}
_SPECIAL = {**{k: k for k in SPECIAL_KINDS}, **{zh: k for k, zh in SPECIAL_NAMES_ZH.items()}}
_SEPARATORS = re.compile(r"[,，、;；\s]+")
MAX_LINES = 1000


@dataclass(frozen=True)
class LineError:
    """One problem on one CSV line (the header is line 1)."""

    line: int
    field: str
    en: str
    zh: str

    def text(self, lang: str = "en") -> str:
        """``line N: field: problem`` (``第 N 行: 字段 X: 问题`` in Chinese)."""
        if lang == "zh":
            return f"第 {self.line} 行: 字段 {COLUMNS.get(self.field, (self.field,))[0]}: {self.zh}"
        return f"line {self.line}: {self.field}: {self.en}"


class RotaImportRejected(ValidationFailed):
    """Some lines are invalid; nothing was saved. ``errors`` lists every problem."""

    def __init__(self, errors: list[LineError]) -> None:
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"rota not imported, nothing saved: {errors[0].text()}{more}", field="file", details={
            "lines": [{"line": e.line, "field": e.field, "message": e.en, "message_zh": e.zh} for e in errors],
            "report": [e.text() for e in errors], "report_zh": [e.text("zh") for e in errors]})
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


def read_csv(data: bytes | str) -> list[tuple[int, dict[str, str]]]:
    """``(line number, {column key: text})`` per non-empty data line; ``ValidationFailed`` naming
    ``file`` for an unreadable file or a bad header (line 1)."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed("the CSV file must be UTF-8 (CSV 文件必须是 UTF-8 编码)", field="file") from None
    data = data.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(data))
    by_header = {name.strip().lower(): key for key, (zh, en, _) in COLUMNS.items() for name in (zh, en, key)}
    header: list[str | None] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    try:
        for cells in reader:
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = [by_header.get(c.strip().lower()) for c in cells]
                unknown = [c.strip() for c, k in zip(cells, header) if k is None and c.strip()]
                missing = [k for k, (_, _, required) in COLUMNS.items() if required and k not in header]
                if unknown or missing:
                    parts = ([f"unknown column {', '.join(unknown)}"] if unknown else []) + \
                        ([f"missing column {', '.join(missing)}"] if missing else [])
                    raise ValidationFailed(f"line {reader.line_num}: header: {'; '.join(parts)}", field="file",
                                           details={"report": [f"line {reader.line_num}: header: {p}" for p in parts]})
                continue
            values = {k: (cells[i].strip() if i < len(cells) else "") for i, k in enumerate(header) if k}
            rows.append((reader.line_num, values))
    except csv.Error as exc:
        raise ValidationFailed(f"line {reader.line_num}: not readable as CSV: {exc}", field="file") from None
    if header is None:
        raise ValidationFailed("the file is empty (文件是空的)", field="file")
    if len(rows) > MAX_LINES:
        raise ValidationFailed(f"at most {MAX_LINES} shifts per import", field="file")
    return rows


class _Checker:
    """Checks every line against the database and the other lines of the file."""

    def __init__(self, session: Session, default_center: str | None, now: Any) -> None:
        self.s = session
        self.default_center = default_center
        self.now = now
        self.errors: list[LineError] = []
        self.seen: dict[tuple[int, date], int] = {}

    def bad(self, line: int, column: str, en: str, zh: str) -> None:
        self.errors.append(LineError(line, column, en, zh))

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
    if checker.errors:
        session.rollback()
        raise RotaImportRejected(sorted(checker.errors, key=lambda e: e.line))
    result = RotaImportResult(lines=lines, dry_run=dry_run)
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
