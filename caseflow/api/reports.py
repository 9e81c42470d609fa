"""Analysis and assessment over HTTP: indicators, period reports (JSON and XLSX), the ranking,
scoring rules. For leaders, administrators and dispatchers; routes only translate.

``POST /api/reports`` answers 201 with the report when its kind is built inside the request
(``REPORTS_SYNC_KINDS``: day, week, month), else 202 Accepted with ``Location`` naming the report,
whose ``status`` is ``pending`` until a job has built it (``ready``) or failed (``failed``,
``error``); ``stalled`` means its job is gone: POST again.
"""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from caseflow.analysis import assessment, indicators, report_requests, reports, xlsx
from caseflow.analysis.labels import LANGUAGES
from caseflow.analysis.periods import KINDS, RANGE, Period, parse_period, parse_range
from caseflow.errors import Conflict, ValidationFailed
from caseflow.extensions import db
from caseflow.models import CHANNELS, TIERS
from caseflow.models.analysis import StoredReport
from caseflow.security.actor import Actor
from caseflow.services.access import deny, record_audit

from .auth import current_actor

blp = Blueprint("reports", __name__, url_prefix="/api/reports",
                description="Analysis, reports and assessment (分析研判、报表与考核)")

READ_ROLES = ("leader", "admin", "dispatcher")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _reader(action: str, admin_only: bool = False) -> Actor:
    actor = current_actor()
    assert actor is not None
    roles = ("admin",) if admin_only else READ_ROLES
    if actor.client or not actor.has_any(*roles):
        err = deny(actor, action, "reports", f"{action} needs one of the roles {', '.join(roles)}")
        db.session.rollback()
        record_audit(db.session(), err)
        raise err
    return actor


class PeriodQuery(Schema):
    period = fields.String(load_default="month", validate=validate.OneOf((*KINDS, RANGE)),
                           metadata={"description": "a report period, or `range` for the days from start to end"})
    start = fields.String(load_default=None, metadata={
        "description": "any day in the period: 2025-03-01, 2025-03, 2025; a range's first day: 2025-03-05"})
    end = fields.String(load_default=None, metadata={
        "description": "a range's last day, included (period=range only): 2025-03-20"})


class IndicatorQuery(PeriodQuery):
    slices = fields.String(load_default=",".join(indicators.CASE_SLICES),
                           metadata={"description": "comma-separated: " + ", ".join(indicators.CASE_SLICES)})
    medians = fields.String(load_default=",".join(indicators.CASE_MEDIAN_SLICES),
                            metadata={"description": "slices that also get stage medians (the total always does)"})
    department_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    category_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    grid_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    tier = fields.String(load_default=None, validate=validate.OneOf(TIERS))
    as_of = fields.AwareDateTime(load_default=None)


class XlsxQuery(Schema):
    lang = fields.String(load_default=None, validate=validate.OneOf(LANGUAGES),
                         metadata={"description": "language of sheet names and headers (default: LANGUAGE, zh)"})


class ListQuery(Schema):
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class GenerateIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    start = fields.String(load_default=None)


class ReportSummary(Schema):
    id = fields.Integer()
    kind = fields.String()
    period_start = fields.Date()
    start_at = fields.DateTime()
    end_at = fields.DateTime()
    generated_at = fields.DateTime()
    generated_by_id = fields.Integer(allow_none=True)
    duration_ms = fields.Integer()
    status = fields.Function(lambda row: report_requests.state(row), metadata={
        "description": "ready; pending (a job is building it; data is {} or the earlier report's); "
                       "failed (see error); stalled (pending, but its job is gone: ask again)",
        "type": "string", "enum": list(report_requests.STATES)})
    error = fields.String(allow_none=True, metadata={"description": "why the last generation failed"})
    requested_at = fields.DateTime(allow_none=True, metadata={"description": "when the last generation was asked for"})


class ReportOut(ReportSummary):
    data = fields.Dict()


class RuleIn(Schema):
    event = fields.String(required=True, validate=validate.OneOf(list(assessment.EVENTS)))
    points = fields.Float(required=True)
    description = fields.String(load_default="", validate=validate.Length(max=2000))
    cap = fields.Float(load_default=None, allow_none=True, validate=validate.Range(min=0))
    active = fields.Boolean(load_default=True)


class ConfigIn(Schema):
    department_id = fields.Integer(load_default=None, allow_none=True)
    base_score = fields.Float(load_default=100.0)
    min_score = fields.Float(load_default=0.0)
    street_share = fields.Float(load_default=1 / 3)
    apply_share = fields.Boolean(load_default=True)


def _period(args: dict[str, Any]) -> Period:
    if args["period"] == RANGE:
        return parse_range(args["start"], args["end"])
    if args.get("end"):
        raise ValidationFailed("end is only for period=range", field="end")
    return parse_period(args["period"], args["start"])


def _slices(raw: str, field: str = "slices") -> list[str]:
    names = [s.strip() for s in (raw or "").split(",") if s.strip()]
    bad = [s for s in names if s not in indicators.CASE_SLICES]
    if bad:
        raise ValidationFailed(f"unknown slice {bad[0]!r}; slices are {', '.join(indicators.CASE_SLICES)}",
                               field=field)
    return names


@blp.route("/indicators")
class Indicators(MethodView):
    @blp.arguments(IndicatorQuery, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The indicators of a period or a range of days, sliced (department, category, grid, channel, tier, hour)."""
        _reader("view indicators")
        period = _period(args)
        case_slices = _slices(args["slices"])
        filters = indicators.Filters(department_id=args["department_id"], category_id=args["category_id"],
                                     grid_id=args["grid_id"], channel=args["channel"], tier=args["tier"])
        inst = [s for s in case_slices if s in indicators.INSTRUCTION_SLICES]
        medians = _slices(args["medians"], "medians")
        return indicators.indicators(db.session(), period, case_slices=case_slices, instruction_slices=inst,
                                     median_slices=medians, as_of=args["as_of"], filters=filters)


@blp.route("")
class Reports(MethodView):
    @blp.arguments(ListQuery, location="query")
    @blp.response(200, ReportSummary(many=True))
    def get(self, args: dict[str, Any]) -> list[StoredReport]:
        """Stored reports, newest period first."""
        _reader("list reports")
        return reports.list_reports(db.session(), args["kind"], args["limit"])

    @blp.arguments(GenerateIn)
    @blp.response(201, ReportOut, description="built now (the kinds in REPORTS_SYNC_KINDS)")
    @blp.alt_response(202, schema=ReportOut, success=True,
                      description="accepted: a job builds it; poll the Location until status is ready or failed. "
                                  "Asking again while pending queues nothing more.",
                      headers={"Location": {"description": "the report: GET it for its status",
                                            "schema": {"type": "string"}}})
    def post(self, body: dict[str, Any]) -> Any:
        """Generate (or regenerate) the report of a period and store it: now, or by a job (202)."""
        actor = _reader("generate report")
        period = parse_period(body["kind"], body["start"])
        asked = report_requests.request_report(db.session(), period, generated_by_id=actor.person_id)
        if asked.generated:
            return asked.row
        return asked.row, 202, {"Location": url_for("reports.Report", report_id=asked.row.id)}


@blp.route("/<int:report_id>")
class Report(MethodView):
    @blp.response(200, ReportOut)
    def get(self, report_id: int) -> StoredReport:
        """One stored report with its data."""
        _reader("view report")
        return reports.get_report(db.session(), report_id)


@blp.route("/<int:report_id>.xlsx")
class ReportXlsx(MethodView):
    @blp.arguments(XlsxQuery, location="query")
    @blp.response(200, content_type=XLSX_MIME)
    @blp.alt_response(409, response="CONFLICT")
    def get(self, args: dict[str, Any], report_id: int) -> Response:
        """One stored report as an XLSX workbook (the same numbers as its data), in Chinese or English.
        409 while a report has never been built (pending, failed or stalled)."""
        _reader("export report")
        row = reports.get_report(db.session(), report_id)
        if not row.data:
            raise Conflict(f"report {report_id} is not generated yet ({report_requests.state(row)})")
        lang = args["lang"] or current_app.config.get("LANGUAGE", "zh")
        name = f"report-{row.kind}-{row.period_start.isoformat()}.xlsx"
        return Response(xlsx.to_xlsx(row.data, lang if lang in LANGUAGES else "zh"), mimetype=XLSX_MIME,
                        headers={"Content-Disposition": f"attachment; filename={name}"})


@blp.route("/assessment")
class Assessment(MethodView):
    @blp.arguments(PeriodQuery, location="query")
    @blp.response(200)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Every department's score and rank for a period or a range of days, with the points per rule."""
        _reader("view assessment")
        return assessment.assess(db.session(), _period(args))


@blp.route("/scoring-rules")
class Rules(MethodView):
    @blp.response(200)
    def get(self) -> dict[str, Any]:
        """The active scoring rules (the defaults while none are configured) and the events they count."""
        _reader("view scoring rules")
        return {"rules": [r.__dict__ for r in assessment.rules(db.session())], "events": assessment.EVENTS}


@blp.route("/scoring-rules/<string:code>")
class Rule(MethodView):
    @blp.arguments(RuleIn)
    @blp.response(200)
    def put(self, body: dict[str, Any], code: str) -> dict[str, Any]:
        """Create or change a scoring rule (administrators)."""
        _reader("configure scoring rules", admin_only=True)
        row = assessment.save_rule(db.session(), code=code, **body)
        return {"code": row.code, "event": row.event, "points": row.points, "description": row.description,
                "cap": row.cap, "active": row.active}


@blp.route("/assessment-config")
class Config(MethodView):
    @blp.arguments(ConfigIn)
    @blp.response(200)
    def put(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set the base score, floor and street share of a department (or the default; administrators)."""
        _reader("configure assessment", admin_only=True)
        row = assessment.configure(db.session(), **body)
        return {"department_id": row.department_id, "base_score": row.base_score, "min_score": row.min_score,
                "street_share": row.street_share, "apply_share": row.apply_share}
