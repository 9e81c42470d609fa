"""应急处置台账: one row per instruction, filtered, as rows, XLSX (openpyxl) or CSV.

Times are shown in the configured zone (Asia/Shanghai); XLSX cells hold real datetimes
(naive local time, since Excel has no zones) so they sort and filter as dates.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from caseflow.models import Category, Deadline, Department, Instruction, utcnow

# (key, Chinese header, English header)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("number", "指令编号", "Instruction number"),
    ("received_at", "接收时间", "Received"),
    ("signed_at", "签收时间", "Signed"),
    ("category", "事件类别", "Category"),
    ("area", "区域", "Area"),
    ("unit", "处置单位", "Unit"),
    ("dispatched_at", "派遣时间", "Dispatched"),
    ("arrival_due_at", "到场时限", "Arrival deadline"),
    ("arrived_at", "到场时间", "Arrived"),
    ("on_time", "按时到场", "On time"),
    ("place", "处置地点", "Place"),
    ("situation", "现场情况", "Situation"),
    ("result", "处置结果", "Result"),
    ("reported_to_110_at", "反馈110时间", "Reported to 110"),
    ("follow_up", "后续处理", "Follow-up"),
    ("transfer", "事件移交", "Transfer"),
    ("late_reason", "迟到原因", "Late reason"),
)
TIME_KEYS = {"received_at", "signed_at", "dispatched_at", "arrival_due_at", "arrived_at", "reported_to_110_at"}
AREA_LABELS = {"main_urban": "主城区", "other": "其它区域"}


@dataclass(frozen=True)
class LedgerFilter:
    """Which instructions: received in [start, end), of a unit, of a category, on time or not,
    of an area kind, a severity, in a state."""

    start: datetime | None = None
    end: datetime | None = None
    department_id: int | None = None
    category: str | None = None  # code
    on_time: bool | None = None
    area_kind: str | None = None  # main_urban | other
    severity: str | None = None  # ordinary | larger | major
    state: str | None = None


def arrival_due_expr() -> Any:
    """SQL: the due time of the instruction's latest arrival deadline (a transfer re-arms it), per row."""
    return (select(Deadline.due_at)
            .where(Deadline.item_type == "instruction", Deadline.item_id == Instruction.id, Deadline.key == "arrival")
            .order_by(Deadline.id.desc()).limit(1).correlate(Instruction).scalar_subquery())


def on_time_clause(on_time: bool, now: datetime) -> ColumnElement[bool]:
    """SQL for :func:`arrived_on_time` being ``on_time`` at ``now``.

    On time: arrived by the latest arrival deadline. Not on time: arrived after it, or not
    arrived and the deadline has passed. Still running or never armed matches neither.
    """
    due = arrival_due_expr()
    if on_time:
        return Instruction.arrived_at <= due
    return or_(Instruction.arrived_at > due, and_(Instruction.arrived_at.is_(None), due < now))


def ledger_query(flt: LedgerFilter, now: datetime) -> Select[tuple[Instruction]]:
    """The instructions ``flt`` selects at ``now``, every filter in SQL (so pages stay full), unordered."""
    q = select(Instruction)
    if flt.start is not None:
        q = q.where(Instruction.received_at >= flt.start)
    if flt.end is not None:
        q = q.where(Instruction.received_at < flt.end)
    if flt.department_id is not None:
        q = q.where(Instruction.department_id == flt.department_id)
    if flt.category:
        q = q.join(Category, Category.id == Instruction.category_id).where(Category.code == flt.category)
    if flt.area_kind:
        q = q.where(Instruction.area_kind == flt.area_kind)
    if flt.severity:
        q = q.where(Instruction.severity == flt.severity)
    if flt.state:
        q = q.where(Instruction.state == flt.state)
    if flt.on_time is not None:
        q = q.where(on_time_clause(flt.on_time, now))
    return q


def ledger_count(session: Session, flt: LedgerFilter | None = None, now: datetime | None = None) -> int:
    """How many instructions the ledger holds for ``flt`` at ``now``."""
    q = ledger_query(flt or LedgerFilter(), now or utcnow())
    return int(session.execute(select(func.count()).select_from(q.subquery())).scalar_one())


def _arrival_dues(session: Session, ids: list[int]) -> dict[int, datetime]:
    """The latest arrival deadline of each instruction (a transfer re-arms it)."""
    out: dict[int, tuple[int, datetime]] = {}
    if not ids:
        return {}
    for row_id, item_id, due in session.execute(
        select(Deadline.id, Deadline.item_id, Deadline.due_at).where(
            Deadline.item_type == "instruction", Deadline.key == "arrival", Deadline.item_id.in_(ids))
    ):
        if item_id not in out or row_id > out[item_id][0]:
            out[item_id] = (row_id, due)
    return {k: v[1] for k, v in out.items()}


def _transfer_text(session: Session, transfers: list[dict[str, Any]], names: dict[int, str]) -> str:
    parts = []
    for t in transfers:
        a, b = names.get(t.get("from_department_id") or 0, "?"), names.get(t.get("to_department_id") or 0, "?")
        parts.append(f"{a} → {b}：{t.get('reason', '')}")
    return "；".join(parts)


def arrived_on_time(arrived_at: datetime | None, due: datetime | None, now: datetime) -> bool | None:
    """按时到场: yes when on site by the due time; no once the due time passed without arrival
    (or arrival came after it); unknown (None) while the deadline still runs or none was armed."""
    if due is None:
        return None
    if arrived_at is None:
        return False if now > due else None
    return arrived_at <= due


def ledger_rows(session: Session, flt: LedgerFilter | None = None, now: datetime | None = None, *,
                newest_first: bool = False, offset: int = 0, limit: int | None = None) -> list[dict[str, Any]]:
    """The ledger's rows (aware UTC datetimes; ``to_local`` converts), oldest first unless
    ``newest_first``; ``offset``/``limit`` page them (the console's ledger page)."""
    flt = flt or LedgerFilter()
    now = now or utcnow()
    order = ((Instruction.received_at.desc(), Instruction.id.desc()) if newest_first
             else (Instruction.received_at, Instruction.id))
    q = ledger_query(flt, now).options(selectinload(Instruction.category)).order_by(*order).offset(offset)
    if limit is not None:
        q = q.limit(limit)
    items = list(session.execute(q).scalars())
    dues = _arrival_dues(session, [i.id for i in items])
    names: dict[int, str] = {r[0]: r[1] for r in session.execute(select(Department.id, Department.name))}
    rows = []
    for i in items:
        due = dues.get(i.id)
        on_time = arrived_on_time(i.arrived_at, due, now)
        unit = names.get(i.department_id or 0, "")
        if unit and i.to_action_group:
            unit += "（应急行动组）"
        rows.append({
            "id": i.id, "state": i.state, "severity": i.severity, "number": i.number, "received_at": i.received_at,
            "signed_at": i.signed_at, "category": i.category.name if i.category else "",
            "area": AREA_LABELS.get(i.area_kind, i.area_kind), "area_kind": i.area_kind, "unit": unit,
            "unit_name": names.get(i.department_id or 0, ""),
            "to_action_group": i.to_action_group, "dispatched_at": i.dispatched_at,
            "arrival_due_at": due, "arrived_at": i.arrived_at, "on_time": on_time,
            "place": i.record("place") or i.address, "situation": i.record("situation") or "",
            "result": i.record("result") or (i.record("decline_explanation") or ""),
            "reported_to_110_at": i.closed_at, "follow_up": i.record("follow_up") or "",
            "transfer": _transfer_text(session, i.record("transfers") or [], names),
            "late_reason": i.record("late_reason") or "",
        })
    return rows


def to_local(value: datetime | None, tz: str) -> datetime | None:
    """An aware UTC time as naive wall time in ``tz`` (for cells and text)."""
    return value.astimezone(ZoneInfo(tz)).replace(tzinfo=None) if value is not None else None


def _cell(key: str, value: Any, tz: str) -> Any:
    if key in TIME_KEYS:
        return to_local(value, tz)
    if key == "on_time":
        return "" if value is None else ("是" if value else "否")
    return value


def headers(lang: str = "zh") -> list[str]:
    """Column headers in ``lang`` (zh or en)."""
    return [zh if lang == "zh" else en for _, zh, en in COLUMNS]


def to_xlsx(rows: list[dict[str, Any]], tz: str = "Asia/Shanghai", lang: str = "zh") -> bytes:
    """The ledger as an XLSX workbook (one sheet, times as local datetimes)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "应急处置台账"
    ws.append(headers(lang))
    for row in rows:
        ws.append([_cell(k, row[k], tz) for k, _, _ in COLUMNS])
    for idx, (key, _, _) in enumerate(COLUMNS, start=1):
        if key in TIME_KEYS:
            for cells in ws.iter_cols(min_col=idx, max_col=idx, min_row=2):
                for c in cells:
                    c.number_format = "yyyy-mm-dd hh:mm:ss"
        ws.column_dimensions[ws.cell(row=1, column=idx).column_letter].width = 20
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_csv(rows: list[dict[str, Any]], tz: str = "Asia/Shanghai", lang: str = "zh") -> str:
    """The ledger as CSV text (UTF-8 with BOM added by the caller for Excel), local times."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(headers(lang))
    for row in rows:
        out = []
        for k, _, _ in COLUMNS:
            v = _cell(k, row[k], tz)
            out.append(v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, datetime) else ("" if v is None else v))
        w.writerow(out)
    return buf.getvalue()
