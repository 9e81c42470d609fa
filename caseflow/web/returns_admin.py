"""The administrator's return report (退单分析): approved returns (and instruction transfers /
not-ours) by category and from/to department over a period, each with a one-click change of the
category's responsible department; and the per-department return indicators.

``GET /admin/returns?start=2025-03-01&end=2025-04-01`` (local dates; default: this month);
``POST /admin/returns/reassign`` calls :func:`caseflow.services.returns.reassign_category`
(ledgered on item type ``category``).
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, render_template, request
from werkzeug.wrappers import Response

from caseflow.errors import ValidationFailed
from caseflow.extensions import db
from caseflow.services import returns as svc

from .guards import ADMIN_ROLES, login_required
from .i18n import current_language
from .work import attempt, back, me, number

bp = Blueprint("returns_admin", __name__, url_prefix="/admin/returns")

TEXT: dict[str, dict[str, str]] = {
    "title": {"zh": "退单分析", "en": "Returns report"},
    "period": {"zh": "统计期间", "en": "Period"},
    "from": {"zh": "自", "en": "From"},
    "to": {"zh": "至（不含）", "en": "To (exclusive)"},
    "show": {"zh": "查询", "en": "Show"},
    "report": {"zh": "同意退单（含指令移交、非本局事项）", "en": "Approved returns (with instruction transfers and not-ours)"},
    "none": {"zh": "本期间没有退单。", "en": "No returns in this period."},
    "category": {"zh": "事项类别", "en": "Category"},
    "from_dept": {"zh": "退出部门", "en": "From"},
    "to_dept": {"zh": "转入部门", "en": "To"},
    "times": {"zh": "次数", "en": "Times"},
    "cases": {"zh": "案件", "en": "Cases"},
    "instructions": {"zh": "指令", "en": "Instructions"},
    "responsible": {"zh": "当前责任部门", "en": "Responsible now"},
    "summary": {"zh": "“{category}”本期由{src}转至{dst} {n} 次", "en": "{category} went from {src} to {dst} {n} times"},
    "not_ours": {"zh": "非本局事项", "en": "not the bureau's"},
    "reassign": {"zh": "改由{dst}负责", "en": "Make {dst} responsible"},
    "reassigned": {"zh": "已调整类别的责任部门。", "en": "The category's responsible department was changed."},
    "indicators": {"zh": "各部门退单指标", "en": "Return indicators per department"},
    "department": {"zh": "部门", "en": "Department"},
    "received": {"zh": "接收派单", "en": "Received"},
    "requests": {"zh": "申请退单", "en": "Requests"},
    "approved": {"zh": "同意", "en": "Approved"},
    "rejected": {"zh": "驳回", "en": "Rejected"},
    "pending": {"zh": "待审", "en": "Pending"},
    "escalated": {"zh": "转联合处置", "en": "Escalated"},
    "return_rate": {"zh": "退单率", "en": "Return rate"},
    "approval_rate": {"zh": "同意率", "en": "Approval rate"},
    "mean_review": {"zh": "平均审核用时", "en": "Mean review time"},
    "instruction_returns": {"zh": "指令移交/非本局", "en": "Instruction returns"},
    "instruction_requests": {"zh": "指令申请移交（同意/驳回）", "en": "Instruction transfer requests (approved/rejected)"},
    "review_note": {"zh": "审核用时按自然时间计（申请至审核决定），不扣除非工作时间。",
                    "en": "Review time is wall-clock time from the request to the decision, nights included."},
}


def tr(key: str, **kwargs: object) -> str:
    """This page's text in the session's language."""
    entry = TEXT[key]
    text = entry.get(current_language()) or entry["zh"]
    return text.format(**kwargs) if kwargs else text


def _zone() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))


def _day(name: str) -> date | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date like 2025-03-01", field=name) from None


def period() -> tuple[datetime, datetime, date, date]:
    """``[start, end)`` in UTC from the ``start``/``end`` local dates (default: this month to today)."""
    default_start, _ = svc.period_of_month()
    zone = _zone()
    start_day = _day("start") or default_start.astimezone(zone).date()
    end_day = _day("end") or (datetime.now(zone).date() + timedelta(days=1))
    if end_day <= start_day:
        raise ValidationFailed("end must come after start", field="end")
    start = datetime.combine(start_day, time(0), tzinfo=zone)
    end = datetime.combine(end_day, time(0), tzinfo=zone)
    return start, end, start_day, end_day


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _hours(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds / 3600:.1f} h"


@bp.get("")
@login_required(roles=ADMIN_ROLES)
def report() -> Any:
    """The report and the indicators for the chosen period."""
    error = None
    try:
        start, end, start_day, end_day = period()
    except ValidationFailed as exc:
        error = exc.message
        start, end = svc.period_of_month()
        start_day, end_day = start.astimezone(_zone()).date(), end.astimezone(_zone()).date()
    session = db.session()
    rows = svc.return_report(session, start, end)
    indicators = svc.return_indicators(session, start, end)
    return render_template("returns_admin/report.html", tr=tr, rows=rows, indicators=indicators, error=error,
                           start_day=start_day, end_day=end_day, percent=_percent, hours=_hours)


@bp.post("/reassign")
@login_required(roles=ADMIN_ROLES)
def reassign() -> Response:
    """One click: make the department the returns went to responsible for the category."""
    _, actor = me()

    def call() -> Any:
        return svc.reassign_category(db.session(), number("category_id", required=True),  # type: ignore[arg-type]
                                     number("department_id", required=True), actor)  # type: ignore[arg-type]

    attempt(call, tr("reassigned"))
    return back("returns_admin.report")
