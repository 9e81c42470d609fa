"""The time-limit table (处置时限) of cases: sign, handle and check limits per tier and category.

``GET    /api/time-limits[?category=CODE]``  the limits in force, each marked with where it comes from;
``POST   /api/time-limits``                  set the limit of a stage for a tier (and category): admins;
``DELETE /api/time-limits/<limit_id>``       remove an override (back to the default): admins.
Changes apply to deadlines armed from then on and are ledgered (item type ``time_limits``).
Every route only translates: :mod:`caseflow.services.cases.time_limits` checks, changes and commits.
"""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from caseflow.extensions import db
from caseflow.models import TIERS
from caseflow.models.case_parts import TIME_LIMIT_CLOCKS, TIME_LIMIT_STAGES
from caseflow.services.cases import time_limits as svc

from .auth import current_actor

blp = Blueprint("time_limits", __name__, url_prefix="/api/time-limits",
                description="Case time limits (处置时限) per tier and category")

CODE = validate.Length(min=1, max=40)


class TimeLimitQuerySchema(Schema):
    """Which limits to list."""

    category = fields.String(load_default=None, validate=CODE, metadata={
        "description": "a category code: the limit of every tier and stage for that category"})


class TimeLimitInSchema(Schema):
    """The limit of one stage for a tier, optionally for one category only."""

    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    stage = fields.String(required=True, validate=validate.OneOf(TIME_LIMIT_STAGES))
    duration = fields.String(required=True, validate=validate.Length(min=1, max=16), metadata={
        "description": "4h, 1d, 30m, 1h30m... (on the working clock d is one working day); at most 366d"})
    clock = fields.String(load_default="working", validate=validate.OneOf(TIME_LIMIT_CLOCKS))
    category = fields.String(load_default=None, allow_none=True, validate=CODE,
                             metadata={"description": "a category code; empty: the tier's own limit"})


class TimeLimitSchema(Schema):
    """A limit in force and where it comes from (``override``: a row of the table, with its id)."""

    id = fields.Integer(allow_none=True, metadata={"description": "the override's id (null for a default)"})
    tier = fields.String()
    stage = fields.String()
    category_id = fields.Integer(allow_none=True)
    category = fields.String(allow_none=True)
    duration = fields.String()
    clock = fields.String()
    source = fields.String(metadata={"enum": list(svc.SOURCES)})
    override = fields.Boolean()


def limit_view(e: svc.EffectiveLimit) -> dict[str, Any]:
    """The API view of an effective limit."""
    return {"id": e.limit_id, "tier": e.tier, "stage": e.stage, "category_id": e.category_id,
            "category": e.category_code, "duration": e.duration, "clock": e.clock, "source": e.source,
            "override": e.override}


@blp.route("")
class TimeLimits(MethodView):
    @blp.arguments(TimeLimitQuerySchema, location="query")
    @blp.response(200, TimeLimitSchema(many=True))
    def get(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        """The limits in force: each tier's, then every category's own (the table's overrides and the
        built-in urgent categories). With ``category``, every tier and stage for that category.
        The limits are the centre's published rules: any signed-in person may read them."""
        current_actor()
        return [limit_view(e) for e in svc.effective_limits(db.session(), args["category"])]

    @blp.arguments(TimeLimitInSchema)
    @blp.response(200, TimeLimitSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Set (create or change) the limit of a stage for a tier, or for one category in it.
        Administrators only; applies to deadlines armed from now on. 422 names the bad field."""
        actor = current_actor()
        db.session.rollback()  # the service owns its transaction
        return limit_view(svc.set_override(
            db.session(), actor=actor, tier=body["tier"], stage=body["stage"],  # type: ignore[arg-type]
            duration=body["duration"], clock=body["clock"], category_code=body["category"] or None))


@blp.route("/<int:limit_id>")
class TimeLimitDetail(MethodView):
    @blp.response(204)
    @blp.alt_response(409, response="CONFLICT")
    def delete(self, limit_id: int) -> None:
        """Remove an override: the stage falls back to the tier's limit or the built-in default.
        Administrators only."""
        actor = current_actor()
        db.session.rollback()
        svc.remove_override(db.session(), limit_id, actor=actor)  # type: ignore[arg-type]
