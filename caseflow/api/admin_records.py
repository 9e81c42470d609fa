"""Administration of areas, grids, departments, categories and people over HTTP, one record at a time.

For each kind (``areas``, ``grids``, ``departments``, ``categories``, ``people``) under ``/api/admin``:

``GET    /<kind>``                 paged list (``?active=``, people also ``?role=&department_id=&q=``,
                                   grids also ``?area_id=``);
``POST   /<kind>``                 create (201); a new person without a password gets one, returned once;
``GET    /<kind>/<id>``            one record;
``PATCH  /<kind>/<id>``            change the fields given (codes and usernames stay);
``POST   /<kind>/<id>/active``     ``{"active": false}`` deactivates, ``true`` reactivates;
``GET    /<kind>/<id>/history``    the record's ledger, oldest first;
``POST   /people/<id>/password``   reset a password (given, or generated and returned once).

Administrators only. Routes translate: the services (:mod:`caseflow.services.admin_catalog` names them per kind)
check, change, ledger and commit; the console's pages call the same functions.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import NotFound
from caseflow.extensions import db
from caseflow.models import ActionGroup, Area, Category, Department, Grid, Person
from caseflow.security.actor import Actor
from caseflow.services import admin_areas, admin_people
from caseflow.services import admin_records as rec
from caseflow.services.admin_catalog import KINDS as CATALOG
from caseflow.services.admin_catalog import AdminKind
from caseflow.services.grid_shapes import centre

from . import admin_schemas as s
from .pagination import HEADERS_DOC as PAGE_HEADERS
from .pagination import answer, page_args
from .schemas import LedgerEntrySchema

Views = Callable[[Session, list[Any]], list[dict[str, Any]]]


def area_views(session: Session, rows: list[Area]) -> list[dict[str, Any]]:
    """Areas with the number of grids in each."""
    counts = admin_areas.grid_counts(session, [a.id for a in rows])
    return [{"id": a.id, "code": a.code, "name": a.name, "kind": a.kind, "active": a.active,
             "grids": counts.get(a.id, 0)} for a in rows]


def grid_views(session: Session, rows: list[Grid]) -> list[dict[str, Any]]:
    """Grids with their area's code and kind and the boundary's centre."""
    return [{"id": g.id, "code": g.code, "name": g.name, "area_id": g.area_id, "area_code": g.area.code,
             "area_kind": g.area.kind, "center_id": g.center_id, "leader_id": g.leader_id, "shape": g.shape,
             "centre": list(centre(g.shape) or ()) or None, "active": g.active} for g in rows]


def department_views(session: Session, rows: list[Department]) -> list[dict[str, Any]]:
    """Departments with their action group (one query for the page)."""
    ids = [d.id for d in rows]
    groups = {g.department_id: g for g in session.execute(
        select(ActionGroup).where(ActionGroup.department_id.in_(ids))).scalars()} if ids else {}
    return [{"id": d.id, "code": d.code, "name": d.name, "kind": d.kind, "center_id": d.center_id,
             "head_id": d.head_id, "working_hours": d.working_hours or "", "active": d.active,
             "action_group_name": groups[d.id].name if d.id in groups else "",
             "action_group_leader_id": groups[d.id].leader_id if d.id in groups else None} for d in rows]


def category_views(session: Session, rows: list[Category]) -> list[dict[str, Any]]:
    """Categories as administered."""
    return [{"id": c.id, "code": c.code, "name": c.name, "field": c.field or "", "in_scope": c.in_scope,
             "responsible_department_id": c.responsible_department_id, "default_tier": c.default_tier,
             "active": c.active} for c in rows]


def person_views(session: Session, rows: list[Person]) -> list[dict[str, Any]]:
    """People without any secret (their roles are loaded with them)."""
    return [{"id": p.id, "username": p.username, "full_name": p.full_name, "roles": sorted(p.roles),
             "department_id": p.department_id, "center_id": p.center_id, "phone": p.phone or "",
             "email": p.email or "", "active": p.active, "created_at": p.created_at} for p in rows]


@dataclass(frozen=True)
class Kind:
    """One administered kind as the API shows it: the service's operations, schemas and view."""

    ops: AdminKind
    schema: type[Schema]
    create_schema: type[Schema]
    update_schema: type[Schema]
    query_schema: type[Schema]
    per_page: int
    views: Views

    @property
    def plural(self) -> str:
        """The kind's name in URLs."""
        return self.ops.name


KINDS = (
    Kind(CATALOG["areas"], s.AreaSchema, s.AreaCreateSchema, s.AreaUpdateSchema, s.ActiveQuerySchema, 100, area_views),
    Kind(CATALOG["departments"], s.DepartmentSchema, s.DepartmentCreateSchema, s.DepartmentUpdateSchema,
         s.ActiveQuerySchema, 100, department_views),
    Kind(CATALOG["categories"], s.CategoryAdminSchema, s.CategoryCreateSchema, s.CategoryUpdateSchema,
         s.ActiveQuerySchema, 100, category_views),
    Kind(CATALOG["people"], s.PersonSchema, s.PersonCreateSchema, s.PersonUpdateSchema, s.PeopleQuerySchema, 50,
         person_views),
    Kind(CATALOG["grids"], s.GridSchema, s.GridCreateSchema, s.GridUpdateSchema, s.GridQuerySchema, 100, grid_views),
)
BY_PLURAL = {k.plural: k for k in KINDS}


def saved_view(kind: Kind, saved: rec.Saved, password: str | None = None) -> dict[str, Any]:
    """A record after a change, with the warnings (and a generated password) to show once."""
    out = kind.views(db.session(), [saved.record])[0]
    out["warnings"] = [{"zh": zh, "en": en} for zh, en in saved.warnings]
    if password is not None:
        out["password"] = password
    return out


def _one(kind: Kind, record_id: int) -> Any:
    row = db.session.get(kind.ops.model, record_id)
    if row is None:
        raise NotFound(f"{kind.ops.ledger_type} {record_id} not found")
    return row


def register(blp: Blueprint, require_admin: Callable[[str], Actor]) -> None:
    """Add the routes of every kind to the admin blueprint (``require_admin`` refuses non-admins)."""
    for kind in KINDS:
        _register_kind(blp, kind, require_admin)
    _register_history(blp, require_admin)
    _register_password(blp, require_admin)


def _register_kind(blp: Blueprint, kind: Kind, require_admin: Callable[[str], Actor]) -> None:
    what = kind.plural
    one = kind.ops.ledger_type

    class Listing(MethodView):
        @blp.arguments(kind.query_schema, location="query")
        @blp.response(200, kind.schema(many=True), headers=PAGE_HEADERS)
        def get(self, args: dict[str, Any]) -> Any:
            require_admin(f"list {what}")
            number, size = page_args(args, kind.per_page)
            filters = {k: v for k, v in args.items() if k not in ("page", "per_page", "limit")}
            page = kind.ops.listing(db.session(), **filters, page=number, per_page=size)
            return answer(page, lambda rows: kind.views(db.session(), rows))

        @blp.arguments(kind.create_schema)
        @blp.response(201, kind.schema)
        def post(self, body: dict[str, Any]) -> dict[str, Any]:
            actor = require_admin(f"create {one}")
            saved, password = kind.ops.create(db.session(), actor, body)
            return saved_view(kind, saved, password)

    class Record(MethodView):
        @blp.response(200, kind.schema)
        def get(self, record_id: int) -> dict[str, Any]:
            require_admin(f"view {one}")
            return kind.views(db.session(), [_one(kind, record_id)])[0]

        @blp.arguments(kind.update_schema)
        @blp.response(200, kind.schema)
        @blp.alt_response(409, response="CONFLICT")
        def patch(self, body: dict[str, Any], record_id: int) -> dict[str, Any]:
            actor = require_admin(f"update {one}")
            return saved_view(kind, kind.ops.update(db.session(), actor, record_id, body))

    class Active(MethodView):
        @blp.arguments(s.ActiveSchema)
        @blp.response(200, kind.schema)
        def post(self, body: dict[str, Any], record_id: int) -> dict[str, Any]:
            actor = require_admin(f"set {one} active")
            return saved_view(kind, kind.ops.set_active(db.session(), actor, record_id, body["active"]))

    Listing.get.__doc__ = f"The {what}, by code, paged; ``?active=true|false`` for only those."
    Listing.post.__doc__ = f"Create a {one} (ledgered). 422 names the field; a taken code or username too."
    Record.get.__doc__ = f"One {one}."
    Record.patch.__doc__ = f"Change the {one}'s fields given in the body (ledgered with each change)."
    Active.post.__doc__ = (f"Deactivate (``false``) or reactivate a {one} (ledgered); history keeps it. 422 on "
                           "``active`` when it is still needed (e.g. an area with active grids, a department with "
                           "open work) or, for a grid, when its area is inactive.")
    for cls, suffix in ((Listing, ""), (Record, "One"), (Active, "Active")):
        cls.__name__ = cls.__qualname__ = f"Admin{what.title()}{suffix}"
    blp.route(f"/{what}")(Listing)
    blp.route(f"/{what}/<int:record_id>")(Record)
    blp.route(f"/{what}/<int:record_id>/active")(Active)


def _register_history(blp: Blueprint, require_admin: Callable[[str], Actor]) -> None:
    @blp.route("/<any(areas, departments, categories, people, grids):kind>/<int:record_id>/history")
    class AdminRecordHistory(MethodView):
        @blp.response(200, LedgerEntrySchema(many=True))
        def get(self, kind: str, record_id: int) -> list[Any]:
            """The record's ledger, oldest first: who created and changed it, when, and what changed."""
            require_admin("view history")
            found = BY_PLURAL[kind]
            _one(found, record_id)
            return rec.history(db.session(), found.ops.ledger_type, record_id)


def _register_password(blp: Blueprint, require_admin: Callable[[str], Actor]) -> None:
    @blp.route("/people/<int:record_id>/password")
    class AdminPersonPassword(MethodView):
        @blp.arguments(s.PasswordSchema)
        @blp.response(200, s.PasswordResultSchema)
        def post(self, body: dict[str, Any], record_id: int) -> dict[str, Any]:
            """Reset the person's password (argon2): the one given, or a generated one returned this once.
            Ledgered without the password."""
            actor = require_admin("reset password")
            saved, generated = admin_people.reset_password(db.session(), actor, record_id, body.get("password"))
            return {"id": saved.record.id, "username": saved.record.username, "password": generated}
