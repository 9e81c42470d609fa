"""Marshmallow schemas of the instruction API."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from caseflow.api.schemas import ID_RANGE
from caseflow.models import AREA_KINDS, SEVERITIES

NUMBER = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_\-./]{0,39}$", error="1-40 letters, digits or - _ . /")


class InstructionCreateSchema(Schema):
    """An instruction from the 110 linkage center."""

    number = fields.String(required=True, validate=NUMBER)
    received_at = fields.AwareDateTime(load_default=None)
    category = fields.String(required=True, validate=validate.Length(min=1, max=40))
    address = fields.String(load_default="", validate=validate.Length(max=200))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))
    grid = fields.String(load_default=None, allow_none=True)
    area_kind = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(AREA_KINDS))
    description = fields.String(load_default="", validate=validate.Length(max=4000))
    caller_contact = fields.String(load_default="", validate=validate.Length(max=120))
    severity = fields.String(load_default="ordinary", validate=validate.OneOf(SEVERITIES))
    leader_on_site = fields.Boolean(load_default=False)


class ActionSchema(Schema):
    """The fields any step may take; each step checks the ones it needs."""

    explanation = fields.String(validate=validate.Length(max=4000))
    reason = fields.String(validate=validate.Length(max=4000))
    situation = fields.String(validate=validate.Length(max=4000))
    place = fields.String(load_default="", validate=validate.Length(max=200))
    result = fields.String(validate=validate.Length(max=4000))
    note = fields.String(validate=validate.Length(max=4000))
    severity = fields.String(validate=validate.OneOf(("larger", "major")))
    department_id = fields.Integer(validate=ID_RANGE)
    responsible_arrived = fields.Boolean(load_default=False)
    comment = fields.String(load_default="", validate=validate.Length(max=2000))


class ListArgsSchema(Schema):
    """Filters and paging of the instruction list and the ledger exports."""

    state = fields.String()
    department_id = fields.Integer(validate=ID_RANGE)
    category = fields.String()
    start = fields.AwareDateTime(data_key="from")
    end = fields.AwareDateTime(data_key="to")
    on_time = fields.Boolean()
    area_kind = fields.String(validate=validate.OneOf(AREA_KINDS))
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class DeadlineViewSchema(Schema):
    """A deadline with the time left."""

    key = fields.String()
    state = fields.String()
    due_at = fields.DateTime()
    status = fields.String()
    seconds_left = fields.Float(allow_none=True)


class InstructionSchema(Schema):
    """An instruction as the API shows it."""

    id = fields.Integer()
    number = fields.String()
    state = fields.String()
    state_label = fields.String()
    received_at = fields.DateTime()
    category = fields.String(allow_none=True)
    category_in_scope = fields.Boolean()
    area_kind = fields.String()
    grid = fields.String(allow_none=True)
    address = fields.String()
    lat = fields.Float(allow_none=True)
    lon = fields.Float(allow_none=True)
    description = fields.String()
    caller_contact = fields.String()
    severity = fields.String()
    leader_on_site = fields.Boolean()
    department_id = fields.Integer(allow_none=True)
    to_action_group = fields.Boolean()
    signed_at = fields.DateTime(allow_none=True)
    dispatched_at = fields.DateTime(allow_none=True)
    arrived_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    on_time = fields.Boolean(allow_none=True)
    record = fields.Dict()
    available_actions = fields.List(fields.String())


class InstructionDetailSchema(InstructionSchema):
    """One instruction with its deadlines, ledger and the answers sent to 110."""

    deadlines = fields.List(fields.Nested(DeadlineViewSchema))
    ledger = fields.List(fields.Dict())
    answers_110 = fields.List(fields.Dict())


class InstructionPageSchema(Schema):
    """A page of instructions."""

    items = fields.List(fields.Nested(InstructionSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
