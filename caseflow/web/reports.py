"""Console pages of the period reports: the list, generating one, and a report with its charts.

Generating: a day's, week's or month's report is built in the request; a quarter's or year's
(``REPORTS_SYNC_KINDS``) by an RQ job, and the report page says "生成中…" and reloads itself
(``<meta http-equiv="refresh">``: no script) until the job has built it or failed.

Charts are inline SVG drawn on the server (trend, by type, by grid, by hour): no JavaScript,
no inline styles (the CSP forbids both), only SVG presentation attributes.

Pages and the XLSX download follow the console's language (``?lang=en``): fixed texts come from
:mod:`caseflow.web.i18n`, indicator names from :mod:`caseflow.analysis.labels`, and the stored
(Chinese) report's titles, labels and highlights pass through :func:`~caseflow.analysis.reports.in_language`.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from caseflow.analysis import report_requests, reports, xlsx
from caseflow.analysis.labels import CASE_COLUMNS, INSTRUCTION_COLUMNS, SLICES, STAGES, pick
from caseflow.analysis.periods import KINDS, parse_period
from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models.analysis import StoredReport

from .guards import REPORT_ROLES, current_person, login_required
from .i18n import current_language, t
from .work import describe

bp = Blueprint("reports_console", __name__, url_prefix="/reports")

ROLES = sorted(REPORT_ROLES)  # one set for the routes and the navigation link (guards.py)
REFRESH_S = 5  # how often a pending report's page reloads itself
BAR = "#3b6ea8"
BAR_ALT = "#d9822b"


def bar_chart(rows: list[dict[str, Any]], value: str = "reported", limit: int = 12, width: int = 640,
              bar_h: int = 20, label_w: int = 150) -> dict[str, Any]:
    """Horizontal bars of ``rows`` (largest first, at most ``limit``): geometry for the template."""
    rows = sorted([r for r in rows if r.get(value)], key=lambda r: -r[value])[:limit]
    top = max((r[value] for r in rows), default=0) or 1
    span = width - label_w - 60
    bars = [{"label": r["label"], "value": r[value], "x": label_w, "y": 10 + i * (bar_h + 6),
             "w": max(1, round(span * r[value] / top)), "h": bar_h} for i, r in enumerate(rows)]
    return {"width": width, "height": 20 + len(bars) * (bar_h + 6), "bars": bars, "label_w": label_w}


def column_chart(rows: list[dict[str, Any]], value: str = "reported", width: int = 640,
                 height: int = 200) -> dict[str, Any]:
    """Vertical columns for the 24 hours of the day (missing hours are 0)."""
    per_hour = {int(r["key"]): int(r.get(value) or 0) for r in rows if r.get("key") is not None}
    top = max(per_hour.values(), default=0) or 1
    plot_h, step = height - 40, (width - 40) / 24
    cols = []
    for h in range(24):
        v = per_hour.get(h, 0)
        hgt = round(plot_h * v / top)
        cols.append({"hour": h, "value": v, "x": round(30 + h * step, 1), "w": round(step - 3, 1),
                     "y": 10 + plot_h - hgt, "h": hgt, "label_y": height - 12})
    return {"width": width, "height": height, "cols": cols, "base_y": 10 + plot_h}


def line_chart(trend: list[dict[str, Any]], width: int = 640, height: int = 220) -> dict[str, Any]:
    """Two polylines (reported, closed) over the trend buckets, with a few x labels."""
    n = len(trend)
    top = max([max(t["reported"], t["closed"]) for t in trend] or [0]) or 1
    left, plot_w, plot_h = 40, width - 60, height - 50
    xs = [left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2) for i in range(n)]

    def points(key: str) -> str:
        return " ".join(f"{x:.1f},{10 + plot_h - plot_h * t[key] / top:.1f}" for x, t in zip(xs, trend))

    every = max(1, n // 8)
    ticks = [{"x": round(xs[i], 1), "label": trend[i]["bucket"][-5:]} for i in range(0, n, every)]
    return {"width": width, "height": height, "reported": points("reported"), "closed": points("closed"),
            "ticks": ticks, "top": top, "base_y": 10 + plot_h, "left": left, "right": left + plot_w}


def _titles(lang: str) -> dict[str, str]:
    return reports.TITLES_EN if lang == "en" else reports.TITLES


def _period_label(row: StoredReport, lang: str) -> str:
    period = (row.data or {}).get("period") or {}
    if lang == "en" or not period.get("label"):
        return reports.period_label(row.kind, row.period_start.isoformat(), lang)
    return str(period["label"])


def _stored(report_id: int) -> StoredReport:
    try:
        return reports.get_report(db.session(), report_id)
    except DomainError:
        abort(404)


@bp.get("/")
@login_required(roles=ROLES)
def index() -> str:
    """Stored reports, newest first, and the form to generate one."""
    lang = current_language()
    kind = request.args.get("kind") or None
    rows = reports.list_reports(db.session(), kind if kind in KINDS else None)
    return render_template("reports/index.html", rows=[(r, _period_label(r, lang), report_requests.state(r))
                                                       for r in rows],
                           kinds=KINDS, titles=_titles(lang), kind=kind)


@bp.post("/generate")
@login_required(roles=ROLES)
def generate() -> WerkzeugResponse:
    """Generate (or regenerate) the report of the chosen period: now, or by a job (the page then waits)."""
    person = current_person()
    try:
        period = parse_period(request.form.get("kind"), request.form.get("start") or None)
        asked = report_requests.request_report(db.session(), period, generated_by_id=person.id if person else None)
    except DomainError as exc:
        db.session.rollback()
        flash(describe(exc), "error")
        return redirect(url_for("reports_console.index"))
    if asked.enqueued:
        flash(t("reports.flash.queued"), "notice")
    elif not asked.generated and asked.row.status == "pending":
        flash(t("reports.flash.already_pending"), "notice")
    return redirect(url_for("reports_console.view", report_id=asked.row.id))


@bp.get("/<int:report_id>")
@login_required(roles=ROLES)
def view(report_id: int) -> str:
    """One report: highlights, figures, charts, tables, recurring problems and the ranking.

    While a job builds it the page says so and reloads itself; a failure shows its error. A report
    being regenerated shows its earlier data meanwhile.
    """
    row = _stored(report_id)
    lang = current_language()
    status = report_requests.state(row)
    title = _titles(lang).get(row.kind, row.kind)
    if not row.data:
        return render_template("reports/pending.html", row=row, status=status, title=title,
                               label=_period_label(row, lang), refresh_s=REFRESH_S)
    data = reports.in_language(row.data, lang)
    by = data["cases"]["by"]
    charts = {
        "trend": line_chart(data.get("trend", [])),
        "category": bar_chart(by.get("category", [])),
        "grid": bar_chart(by.get("grid", [])),
        "hour": column_chart(by.get("hour", [])),
    }
    # Names in the page's language: (key, name, kind) columns, {key: name} slices and stages.
    case_columns = [(key, pick((zh, en), lang), kind) for key, zh, en, kind in CASE_COLUMNS]
    instruction_columns = [(key, pick((zh, en), lang), kind) for key, zh, en, kind in INSTRUCTION_COLUMNS]
    return render_template("reports/view.html", row=row, status=status, refresh_s=REFRESH_S, data=data,
                           charts=charts, case_columns=case_columns,
                           instruction_columns=instruction_columns,
                           slices={k: pick(v, lang) for k, v in SLICES.items()},
                           stages={k: pick(v, lang) for k, v in STAGES.items()}, bar=BAR, bar_alt=BAR_ALT)


@bp.get("/<int:report_id>.xlsx")
@login_required(roles=ROLES)
def download(report_id: int) -> WerkzeugResponse:
    """The report as XLSX, in the console's language (a report not built yet: back to its page)."""
    row = _stored(report_id)
    if not row.data:
        return redirect(url_for("reports_console.view", report_id=row.id))
    return Response(xlsx.to_xlsx(row.data, current_language()),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f"attachment; filename=report-{row.kind}-{row.period_start}.xlsx"})
