"""Marshmallow schemas of the administration of areas, grids, departments, categories and people.

``*Create`` bodies name every required field; ``*Update`` bodies (PATCH) carry only the fields to
change. Codes and usernames are set once, at creation.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from caseflow.models import AREA_KINDS, ROLES, TIERS

from .pagination import PageQuerySchema
from .schemas import ID_RANGE

CODE = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$",
                       error="1-40 letters, digits, '_', '.' or '-', starting with a letter or digit")
NAME = validate.Length(min=1, max=120)
DEPARTMENT_KINDS = ("department", "unit")


class WarningSchema(Schema):
    """Something that still names the record, for the administrator to review (both languages)."""

    zh = fields.String()
    en = fields.String()


class _Record(Schema):
    """What every administered record shows."""

    id = fields.Integer()
    active = fields.Boolean()
    warnings = fields.List(fields.Nested(WarningSchema), metadata={"description": "after a change: what to review"})


class ActiveQuerySchema(PageQuerySchema):
    """Which records to list (per_page 100 by default)."""

    active = fields.Boolean(metadata={"description": "true: only active; false: only deactivated; left out: all"})


class PeopleQuerySchema(ActiveQuerySchema):
    """Which people to list (per_page 50 by default)."""

    role = fields.String(validate=validate.OneOf(ROLES))
    department_id = fields.Integer(validate=ID_RANGE)
    q = fields.String(validate=validate.Length(max=64),
                      metadata={"description": "part of the username or full name"})


class ActiveSchema(Schema):
    """Deactivate (false) or reactivate (true)."""

    active = fields.Boolean(required=True)


# --- areas -----------------------------------------------------------------------------------

class AreaSchema(_Record):
    """An area: its kind sets the arrival deadline (main_urban 30 min, other 60 min)."""

    code = fields.String()
    name = fields.String()
    kind = fields.String(validate=validate.OneOf(AREA_KINDS))
    grids = fields.Integer(metadata={"description": "grids in the area"})


class AreaUpdateSchema(Schema):
    """Fields of an area to change."""

    name = fields.String(validate=NAME)
    kind = fields.String(validate=validate.OneOf(AREA_KINDS))


class AreaCreateSchema(AreaUpdateSchema):
    """A new area."""

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)
    kind = fields.String(required=True, validate=validate.OneOf(AREA_KINDS))


# --- grids -----------------------------------------------------------------------------------

class GridQuerySchema(ActiveQuerySchema):
    """Which grids to list (per_page 100 by default)."""

    area_id = fields.Integer(validate=ID_RANGE, metadata={"description": "only the grids of this area"})


class GridUpdateSchema(Schema):
    """Fields of a grid to change."""

    name = fields.String(validate=NAME)
    area_id = fields.Integer(validate=ID_RANGE, metadata={"description": "an active area (its kind sets the "
                                                                         "arrival deadline of items on the grid)"})
    center_id = fields.Integer(allow_none=True, validate=ID_RANGE)
    leader_id = fields.Integer(allow_none=True, validate=ID_RANGE,
                               metadata={"description": "the grid leader (网格长), an active person"})
    shape = fields.Dict(allow_none=True, metadata={
        "description": "the boundary: a GeoJSON Polygon or MultiPolygon of [longitude, latitude] positions; "
                       "null for none"})


class GridCreateSchema(GridUpdateSchema):
    """A new grid."""

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)
    area_id = fields.Integer(required=True, validate=ID_RANGE, metadata={"description": "an active area"})


class GridSchema(_Record):
    """A grid (网格) with its area, center, grid leader and boundary."""

    code = fields.String()
    name = fields.String()
    area_id = fields.Integer()
    area_code = fields.String()
    area_kind = fields.String(metadata={"description": "the area's kind: main_urban (30 min) or other (60 min)"})
    center_id = fields.Integer(allow_none=True)
    leader_id = fields.Integer(allow_none=True)
    shape = fields.Dict(allow_none=True)
    centre = fields.List(fields.Float(), allow_none=True,
                         metadata={"description": "[longitude, latitude]: the mean of the boundary's corners"})


# --- departments -----------------------------------------------------------------------------

class DepartmentUpdateSchema(Schema):
    """Fields of a department to change."""

    name = fields.String(validate=NAME)
    kind = fields.String(validate=validate.OneOf(DEPARTMENT_KINDS))
    center_id = fields.Integer(allow_none=True, validate=ID_RANGE)
    head_id = fields.Integer(allow_none=True, validate=ID_RANGE, metadata={"description": "an active person"})
    working_hours = fields.String(validate=validate.Length(max=80),
                                  metadata={"description": "e.g. 08:30-12:00,13:30-17:30; empty: the default"})
    action_group_name = fields.String(validate=validate.Length(max=120),
                                      metadata={"description": "the emergency action group (应急行动组)"})
    action_group_leader_id = fields.Integer(allow_none=True, validate=ID_RANGE)


class DepartmentCreateSchema(DepartmentUpdateSchema):
    """A new department or unit."""

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)


class DepartmentSchema(_Record):
    """A department or unit with its head and emergency action group."""

    code = fields.String()
    name = fields.String()
    kind = fields.String()
    center_id = fields.Integer(allow_none=True)
    head_id = fields.Integer(allow_none=True)
    working_hours = fields.String()
    action_group_name = fields.String()
    action_group_leader_id = fields.Integer(allow_none=True)


# --- categories ------------------------------------------------------------------------------

class CategoryUpdateSchema(Schema):
    """Fields of a category to change."""

    name = fields.String(validate=NAME)
    field = fields.String(validate=validate.Length(max=40), metadata={"description": "the deputy leader's field"})
    in_scope = fields.Boolean(metadata={"description": "within the bureau's acceptance scope (受理范围)"})
    responsible_department_id = fields.Integer(allow_none=True, validate=ID_RANGE,
                                               metadata={"description": "an active department"})
    default_tier = fields.String(validate=validate.OneOf(TIERS))


class CategoryCreateSchema(CategoryUpdateSchema):
    """A new category."""

    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=NAME)


class CategoryAdminSchema(_Record):
    """A category: scope, responsible department, default tier."""

    code = fields.String()
    name = fields.String()
    field = fields.String()
    in_scope = fields.Boolean()
    responsible_department_id = fields.Integer(allow_none=True)
    default_tier = fields.String()


# --- people ----------------------------------------------------------------------------------

class PersonUpdateSchema(Schema):
    """Fields of a person to change."""

    full_name = fields.String(validate=NAME)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), validate=validate.Length(min=1, max=len(ROLES)))
    department_id = fields.Integer(allow_none=True, validate=ID_RANGE, metadata={"description": "handlers need one"})
    center_id = fields.Integer(allow_none=True, validate=ID_RANGE)
    phone = fields.String(validate=validate.Length(max=32))
    email = fields.String(validate=validate.Length(max=120))


class PersonCreateSchema(PersonUpdateSchema):
    """A new person; without ``password`` one is generated and returned once."""

    username = fields.String(required=True, validate=validate.Length(min=2, max=64))
    full_name = fields.String(required=True, validate=NAME)
    roles = fields.List(fields.String(validate=validate.OneOf(ROLES)), required=True,
                        validate=validate.Length(min=1, max=len(ROLES)))
    password = fields.String(validate=validate.Length(min=8, max=200), load_only=True)


class PersonSchema(_Record):
    """A person (never the password hash)."""

    username = fields.String()
    full_name = fields.String()
    roles = fields.List(fields.String())
    department_id = fields.Integer(allow_none=True)
    center_id = fields.Integer(allow_none=True)
    phone = fields.String()
    email = fields.String()
    created_at = fields.DateTime()
    password = fields.String(allow_none=True, metadata={"description": "the generated password, shown this once"})


class PasswordSchema(Schema):
    """A new password; left out, one is generated and returned once."""

    password = fields.String(validate=validate.Length(min=8, max=200), load_only=True)


class PasswordResultSchema(Schema):
    """Whose password was reset; ``password`` is the generated one (shown once), else null."""

    id = fields.Integer()
    username = fields.String()
    password = fields.String(allow_none=True)
