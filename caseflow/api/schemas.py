"""Marshmallow schemas shared by several API modules."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from .openapi import MAX_ID

# Ids in bodies and query strings: positive and within the database's integer range.
ID_RANGE = validate.Range(min=1, max=MAX_ID, error="must be an id between {min} and {max}")


class TransitionRequestSchema(Schema):
    """Fire a trigger on an item."""

    trigger = fields.String(required=True, validate=validate.Regexp(r"^[a-z][a-z0-9_]*$"))
    data = fields.Dict(keys=fields.String(), load_default=dict)
    comment = fields.String(load_default="", validate=validate.Length(max=2000))
    expected_state = fields.String(load_default=None, allow_none=True)


class LedgerEntrySchema(Schema):
    """One ledger entry."""

    seq = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_role = fields.String()
    client = fields.String()
    trigger = fields.String()
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    payload = fields.Dict()
    comment = fields.String()
    hash = fields.String()


class ItemSchema(Schema):
    """The workflow view of any item."""

    item_type = fields.String()
    id = fields.Integer()
    workflow = fields.String()
    workflow_version = fields.Integer()
    state = fields.String()
    state_label = fields.String()
    state_entered_at = fields.DateTime()
    version = fields.Integer()
    available_triggers = fields.List(fields.String())


class ErrorSchema(Schema):
    """The one error format of the API: ``{code, status, message, errors}``."""

    code = fields.Integer(required=True, metadata={"description": "HTTP status code, e.g. 404"})
    status = fields.String(required=True, metadata={"description": "Error name, e.g. not_found or Not Found"})
    message = fields.String(metadata={"description": "What went wrong, for people"})
    errors = fields.Dict(metadata={"description": "Per field (or header) messages, e.g. {\"title\": [\"...\"]}"})
