"""Marshmallow schemas of the case API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from caseflow.api.schemas import ID_RANGE
from caseflow.models import CHANNELS, TIERS

TEXT = validate.Length(max=4000)


class ReporterSchema(Schema):
    """Who reported: a citizen's name and phone, a sensor's device id."""

    name = fields.String(validate=validate.Length(max=120))
    phone = fields.String(validate=validate.Length(max=40))
    device_id = fields.String(validate=validate.Length(max=80))
    evidence_refs = fields.List(fields.String(validate=validate.Length(max=200)), validate=validate.Length(max=50))


class CaseCreateSchema(Schema):
    """A report from a patrol, the hotline, the citizen app, a sensor, 110 diversion or a referral."""

    channel = fields.String(load_default=None, validate=validate.OneOf(CHANNELS))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    description = fields.String(load_default="", validate=TEXT)
    category = fields.String(load_default=None, validate=validate.Length(min=1, max=40))
    category_id = fields.Integer(validate=ID_RANGE, load_default=None)
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    address = fields.String(load_default="", validate=validate.Length(max=200))
    external_ref = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=1, max=80))
    grid = fields.String(load_default=None, allow_none=True)
    grid_id = fields.Integer(validate=ID_RANGE, load_default=None, allow_none=True)
    urgent = fields.Boolean(load_default=False)
    reporter = fields.Nested(ReporterSchema, load_default=None, allow_none=True)


class CaseActionSchema(Schema):
    """The fields any step may take; each step checks the ones it needs."""

    comment = fields.String(load_default="", validate=validate.Length(max=2000))
    question = fields.String(validate=TEXT)
    reason = fields.String(validate=TEXT)
    note = fields.String(validate=TEXT)
    result = fields.String(validate=TEXT)
    opinion = fields.String(validate=TEXT)
    method = fields.String(validate=validate.Length(max=40))
    requirement = fields.String(validate=TEXT)
    due_by = fields.AwareDateTime()
    duration = fields.String(validate=validate.Length(max=16))
    tier = fields.String(validate=validate.OneOf(TIERS))
    grade = fields.Integer(validate=validate.Range(1, 5))
    title = fields.String(validate=validate.Length(min=1, max=200))
    description = fields.String(validate=TEXT)
    address = fields.String(validate=validate.Length(max=200))
    department_id = fields.Integer(validate=ID_RANGE)
    department_ids = fields.List(fields.Integer(validate=ID_RANGE), validate=validate.Length(max=20))
    cooperating_department_ids = fields.List(fields.Integer(validate=ID_RANGE), validate=validate.Length(max=20))
    original_id = fields.Integer(validate=ID_RANGE)
    evidence_refs = fields.List(fields.String(validate=validate.Length(max=200)), validate=validate.Length(max=50))


class CaseReclassifySchema(Schema):
    """Reclassification at registration (立案改类): the new category and/or grid, by id or code."""

    category_id = fields.Integer(validate=ID_RANGE)
    category = fields.String(validate=validate.Length(min=1, max=40))
    grid_id = fields.Integer(validate=ID_RANGE)
    grid = fields.String(validate=validate.Length(min=1, max=40))
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class CasePublicSchema(Schema):
    """Show (``public: true``) or hide a case on the public Open311 GET endpoints."""

    public = fields.Boolean(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class CaseUrgentSchema(Schema):
    """Mark a case urgent (紧急, ``urgent: true``) or take the flag off (a reason is then required)."""

    urgent = fields.Boolean(required=True)
    reason = fields.String(load_default="", validate=validate.Length(max=2000))
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class CaseListArgsSchema(Schema):
    """Filters and paging of the case list."""

    state = fields.String()
    tier = fields.String(validate=validate.OneOf(TIERS))
    category = fields.String()
    department_id = fields.Integer(validate=ID_RANGE)
    channel = fields.String(validate=validate.OneOf(CHANNELS))
    overdue = fields.Boolean()
    urgent = fields.Boolean()
    # The district center's queues (caseflow.services.cases.district.QUEUES).
    queue = fields.String(validate=validate.OneOf(("escalated", "joint")),
                          metadata={"description": "escalated: awaiting the district center; joint: in joint handling"})
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class CaseSchema(Schema):
    """A case as the API shows it."""

    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    state_label = fields.String()
    tier = fields.String()
    workflow = fields.String()
    workflow_version = fields.Integer()
    urgent = fields.Boolean()
    channel = fields.String()
    external_ref = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    grid = fields.String(allow_none=True)
    area_kind = fields.String()
    department_id = fields.Integer(allow_none=True)
    title = fields.String()
    description = fields.String()
    address = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    reported_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    overdue = fields.Boolean()
    read_only = fields.Boolean()
    record = fields.Dict()
    available_actions = fields.List(fields.String())


class CaseDetailSchema(CaseSchema):
    """One case with its deadlines (time left), parts, supervisions, reporters and ledger."""

    deadlines = fields.List(fields.Dict())
    participants = fields.List(fields.Dict())
    supervisions = fields.List(fields.Dict())
    reporters = fields.List(fields.Dict())
    ledger = fields.List(fields.Dict())


class CasePageSchema(Schema):
    """A page of cases."""

    items = fields.List(fields.Nested(CaseSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()

