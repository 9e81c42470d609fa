"""应急处置台账 in the console: every instruction with its ledger columns, filtered by date range,
area, unit, severity, on time and state, paged, with links to the XLSX and CSV exports of the API
(``/api/instructions/ledger.xlsx|csv``) carrying the same filters.

Rows, filters and the on-time rule all come from :mod:`caseflow.services.ledger_export`, so the
page and the exports never disagree. Dates are local (Asia/Shanghai) days, both ends included.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request, url_for
from sqlalchemy import select

from caseflow.errors import ValidationFailed
from caseflow.extensions import db
from caseflow.models import AREA_KINDS, SEVERITIES, Department, utcnow
from caseflow.services import ledger_export
from caseflow.workflow.engine import get_catalog

from .guards import LEDGER_ROLES, login_required
from .i18n import current_language
from .work import describe

bp = Blueprint("instruction_ledger", __name__, url_prefix="/ledger")

PER_PAGE = 50
ON_TIME = {"yes": True, "no": False}
# The ledger's time columns, shown to the minute like the rest of the console.
TIME_KEYS = ledger_export.TIME_KEYS


@dataclass
class LedgerArgs:
    """The page's filters as typed (``form``) and as the ledger service takes them (``flt``)."""

    form: dict[str, str] = field(default_factory=dict)
    flt: ledger_export.LedgerFilter = field(default_factory=ledger_export.LedgerFilter)
    page: int = 1


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))


def _day(name: str, raw: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date like 2026-03-10", field=name) from None


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_zone()).astimezone(timezone.utc)


def instruction_states() -> list[str]:
    """The states of the current instruction workflow, in their YAML order."""
    return list(get_catalog().latest("instruction").states)


def parse_args(args: Any) -> LedgerArgs:
    """Read the query string; ``ValidationFailed`` naming the field on bad input."""
    form = {k: (args.get(k) or "").strip() for k in
            ("from", "to", "area_kind", "department_id", "severity", "on_time", "state")}
    day_from, day_to = _day("from", form["from"]), _day("to", form["to"])
    if day_from and day_to and day_to < day_from:
        raise ValidationFailed("to must not be before from", field="to")
    if form["area_kind"] and form["area_kind"] not in AREA_KINDS:
        raise ValidationFailed(f"area_kind must be one of {', '.join(AREA_KINDS)}", field="area_kind")
    if form["severity"] and form["severity"] not in SEVERITIES:
        raise ValidationFailed(f"severity must be one of {', '.join(SEVERITIES)}", field="severity")
    if form["on_time"] and form["on_time"] not in ON_TIME:
        raise ValidationFailed("on_time must be yes or no", field="on_time")
    if form["state"] and form["state"] not in instruction_states():
        raise ValidationFailed(f"no instruction state {form['state']!r}", field="state")
    department_id = None
    if form["department_id"]:
        if not form["department_id"].isdigit() or db.session.get(Department, int(form["department_id"])) is None:
            raise ValidationFailed(f"no unit {form['department_id']!r}", field="department_id")
        department_id = int(form["department_id"])
    raw_page = (args.get("page") or "1").strip()
    if not raw_page.isdigit() or int(raw_page) < 1:
        raise ValidationFailed("page must be a whole number from 1", field="page")
    flt = ledger_export.LedgerFilter(
        start=_local_midnight_utc(day_from) if day_from else None,
        end=_local_midnight_utc(day_to + timedelta(days=1)) if day_to else None,  # the whole last day
        department_id=department_id, on_time=ON_TIME.get(form["on_time"]), area_kind=form["area_kind"] or None,
        severity=form["severity"] or None, state=form["state"] or None)
    return LedgerArgs(form=form, flt=flt, page=int(raw_page))


def export_params(flt: ledger_export.LedgerFilter) -> dict[str, Any]:
    """The API ledger export's query parameters for ``flt`` (its ``ListArgsSchema`` names)."""
    params: dict[str, Any] = {}
    zone = _zone()
    if flt.start is not None:
        params["from"] = flt.start.astimezone(zone).isoformat()
    if flt.end is not None:
        params["to"] = flt.end.astimezone(zone).isoformat()
    for key in ("department_id", "area_kind", "severity", "state"):
        if getattr(flt, key) is not None:
            params[key] = getattr(flt, key)
    if flt.on_time is not None:
        params["on_time"] = "true" if flt.on_time else "false"
    return params


def _page_url(form: dict[str, str], page: int) -> str:
    return url_for("instruction_ledger.page", **{k: v for k, v in form.items() if v}, page=page)


@bp.get("/instructions")
@login_required(roles=sorted(LEDGER_ROLES))
def page() -> Any:
    """The ledger page: filters, the rows of one page, paging and export links."""
    lang = current_language()
    definition = get_catalog().latest("instruction")
    context: dict[str, Any] = {
        "columns": [(key, zh if lang == "zh" else en) for key, zh, en in ledger_export.COLUMNS],
        "time_keys": TIME_KEYS, "area_kinds": AREA_KINDS, "severities": SEVERITIES,
        "states": [(s, definition.label(s, lang)) for s in instruction_states()],
        "departments": list(db.session.execute(select(Department).order_by(Department.code)).scalars()),
        "per_page": PER_PAGE,
    }
    try:
        args = parse_args(request.args)
    except ValidationFailed as exc:
        form = {k: (request.args.get(k) or "") for k in ("from", "to", "area_kind", "department_id", "severity",
                                                         "on_time", "state")}
        return render_template("ledger/instructions.html", error=describe(exc), form=form, rows=[], total=0,
                               page=1, pages=1, **context), 400
    now = utcnow()
    session = db.session()
    total = ledger_export.ledger_count(session, args.flt, now)
    pages = max(1, -(-total // PER_PAGE))
    page_no = min(args.page, pages)
    rows = ledger_export.ledger_rows(session, args.flt, now, newest_first=True, offset=(page_no - 1) * PER_PAGE,
                                     limit=PER_PAGE)
    for row in rows:
        row["state_label"] = definition.label(row["state"], lang)
    params = export_params(args.flt)
    return render_template(
        "ledger/instructions.html", error=None, form=args.form, rows=rows, total=total, page=page_no, pages=pages,
        xlsx_url=url_for("instructions.LedgerXlsx", **params), csv_url=url_for("instructions.LedgerCsv", **params),
        prev_url=_page_url(args.form, page_no - 1) if page_no > 1 else None,
        next_url=_page_url(args.form, page_no + 1) if page_no < pages else None, **context)
