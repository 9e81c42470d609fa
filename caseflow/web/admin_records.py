"""Console pages to administer areas, grids, departments, categories and people one record at a time.

``GET /admin/<kind>`` the list (``?active=1|0``, ``?page=``; people also ``?q=`` and ``?role=``);
``/admin/<kind>/new`` and ``/admin/<kind>/<id>`` the form (GET shows it, POST saves), the edit page
also shows the record's ledger; ``POST /admin/<kind>/<id>/active`` deactivates or reactivates;
``POST /admin/people/<id>/password`` resets a password. ``<kind>``: areas, grids, departments,
categories, people. Administrators only.

The pages only translate: the services named in :mod:`caseflow.services.admin_catalog` check,
change, ledger and commit, as for the API. A refused save shows the form again with what was
typed and the problem naming the field; a generated password is shown on the page that made it,
once, and never put in a redirect or the session.
"""
from __future__ import annotations

from collections.abc import Callable
import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import ROLES, Area, Center, Department, Person
from caseflow.security.actor import Actor
from caseflow.services import admin_areas, admin_people
from caseflow.services import admin_records as rec
from caseflow.services.admin_catalog import KINDS
from caseflow.services.grid_shapes import centre

from .admin_forms import FORMS, fields_for, read_form, shape_text
from .guards import ADMIN_ROLES, login_required
from .i18n import current_language, t
from .work import describe, me

bp = Blueprint("admin_records", __name__, url_prefix="/admin")

KIND = "<any(areas, departments, categories, people, grids):kind>"
PER_PAGE = 50
# Each kind's field labels (i18n keys), for error messages and the ledger's changes.
LABELS = {kind: {f.name: f.label for f in form.fields} for kind, form in FORMS.items()}


def _label(kind: str, name: str) -> str:
    key = LABELS[kind].get(name)
    return t(key) if key else name


def _error(kind: str, exc: DomainError) -> str:
    return describe(exc, {name: _label(kind, name) for name in LABELS[kind]})


def _warn(saved: rec.Saved) -> None:
    lang = current_language()
    for zh, en in saved.warnings:
        flash(en if lang == "en" else zh, "error")


# --- lists -------------------------------------------------------------------------------------

def _flag(name: str) -> bool | None:
    raw = request.args.get(name, "")
    return True if raw == "1" else False if raw == "0" else None


def _page_number() -> int:
    raw = request.args.get("page", "1")
    return max(1, int(raw)) if raw.isdigit() and len(raw) < 7 else 1


def list_page(kind: str) -> str:
    """One kind's list: filters, a page of rows, links to each record."""
    session = db.session()
    filters: dict[str, Any] = {"active": _flag("active")}
    if kind == "people":
        role = request.args.get("role") or None
        filters.update(role=role if role in ROLES else None, q=(request.args.get("q") or "").strip()[:64] or None)
    page = KINDS[kind].listing(session, **filters, page=_page_number(), per_page=PER_PAGE)
    extra = admin_areas.grid_counts(session, [a.id for a in page.items]) if kind == "areas" else {}
    pages = max(1, -(-page.total // page.per_page))
    return render_template("admin/records.html", kind=kind, page=page, pages=pages, columns=FORMS[kind].columns,
                           filters=filters, roles=ROLES, grids=extra)


def _list_view(kind: str) -> Any:
    @login_required(roles=ADMIN_ROLES)
    def view() -> str:
        return list_page(kind)

    view.__name__ = view.__qualname__ = kind
    view.__doc__ = f"The list of {kind}."
    return view


for _kind in KINDS:
    # One endpoint per kind (admin_records.areas, ...): the admin page links them without arguments.
    bp.add_url_rule(f"/{_kind}", endpoint=_kind, view_func=_list_view(_kind))


# --- one record --------------------------------------------------------------------------------

def _record(kind: str, record_id: int) -> Any:
    row = db.session.get(KINDS[kind].model, record_id)
    if row is None:
        abort(404)
    return row


def _shown(kind: str, record: Any) -> dict[str, Any]:
    """The form's values for a record as stored."""
    values: dict[str, Any] = {}
    for f in fields_for(kind, record is None):
        if record is None:
            values[f.name] = {"in_scope": True, "roles": [], "kind": "department" if kind == "departments" else ""}.get(
                f.name, None if f.name.endswith("_id") else "")
        elif f.name == "roles":
            values[f.name] = sorted(record.roles)
        elif f.kind == "json":
            value = getattr(record, f.name)
            values[f.name] = json.dumps(value, ensure_ascii=False) if value else ""
        elif f.name.startswith("action_group_"):
            group = record.action_group
            values[f.name] = (getattr(group, f.name.removeprefix("action_group_")) if group else
                              ("" if f.name == "action_group_name" else None))
        else:
            values[f.name] = getattr(record, f.name)
    return values


def _history(kind: str, record: Any) -> list[dict[str, Any]]:
    """The record's ledger with names instead of ids, newest first."""
    session = db.session()
    entries = rec.history(session, KINDS[kind].ledger_type, record.id)
    names = _names(session, entries)
    out = []
    for e in reversed(entries):
        changes = [(_label(kind, name), _show(name, pair[0], names), _show(name, pair[1], names))
                   for name, pair in ((e.payload or {}).get("changes") or {}).items()]
        out.append({"at": e.at, "actor": names["person"].get(e.actor_id, e.client or ""), "trigger": e.trigger,
                    "action": _action(e.trigger), "changes": changes, "source": (e.payload or {}).get("source", "")})
    return out


def _action(trigger: str) -> str:
    verb = trigger.split("_", 1)[0]
    label = t(f"adm.action.{verb}")
    return trigger if label == f"adm.action.{verb}" else label


def _names(session: Any, entries: list[Any]) -> dict[str, dict[int, str]]:
    """Names of the people, departments and centers the entries mention, one query each."""
    ids: dict[str, set[int]] = {"person": set(), "department": set(), "center": set(), "area": set()}
    for e in entries:
        if e.actor_id:
            ids["person"].add(e.actor_id)
        for name, pair in ((e.payload or {}).get("changes") or {}).items():
            bucket = _bucket(name)
            if bucket:
                ids[bucket] |= {v for v in pair if isinstance(v, int)}
    models = {"person": (Person, Person.full_name), "department": (Department, Department.name),
              "center": (Center, Center.name), "area": (Area, Area.name)}
    out: dict[str, dict[int, str]] = {}
    for bucket, (model, column) in models.items():
        found = ids[bucket]
        out[bucket] = dict(session.execute(select(model.id, column).where(model.id.in_(found))).all()) if found else {}
    return out


def _bucket(name: str) -> str | None:
    if name in ("head_id", "action_group_leader_id", "leader_id"):
        return "person"
    if name == "area_id":
        return "area"
    if name in ("department_id", "responsible_department_id"):
        return "department"
    return "center" if name == "center_id" else None


def _show(name: str, value: Any, names: dict[str, dict[int, str]]) -> str:
    if value is None or value == "":
        return "—"
    bucket = _bucket(name)
    if bucket and isinstance(value, int):
        return names[bucket].get(value, str(value))
    if name == "shape":
        return shape_text(value)
    if name == "roles" and isinstance(value, list):
        return ", ".join(t(f"role.{r}") for r in value)
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if name == "kind":
        return t(f"area.{value}") if value in ("main_urban", "other") else t(f"kind.{value}")
    if name == "default_tier":
        return t(f"tier.{value}")
    return str(value)


def form_page(kind: str, record: Any, values: dict[str, Any], *, error: str = "", status: int = 200,
              password: str | None = None) -> tuple[str, int]:
    """The create or edit form with ``values``, the error naming the field, and the record's ledger."""
    session = db.session()
    fields = fields_for(kind, record is None)
    choices = {f.name: f.choices(session, record, values.get(f.name)) for f in fields if f.choices}
    point = centre(record.shape) if kind == "grids" and record is not None else None
    return render_template("admin/record.html", kind=kind, record=record, fields=fields, values=values,
                           choices=choices, roles=ROLES, error=error, password=password, centre=point,
                           history=_history(kind, record) if record is not None else []), status


def _submit(kind: str, record_id: int | None, save: Callable[[Actor, dict[str, Any]], Any]) -> tuple[Any, Any]:
    """Read the form and save it: ``(what save returned, None)``, or on a domain error ``(None, the form
    again with what was typed and the problem naming the field)``."""
    _, actor = me()
    values: dict[str, Any] = {}
    try:
        values = read_form(kind, record_id is None)
        return save(actor, dict(values)), None
    except DomainError as exc:
        db.session.rollback()
        record = _record(kind, record_id) if record_id is not None else None
        shown = {**_shown(kind, record), **values, "password": ""}
        return None, form_page(kind, record, shown, error=_error(kind, exc), status=exc.status)


@bp.route(f"/{KIND}/new", methods=["GET", "POST"])
@login_required(roles=ADMIN_ROLES)
def create(kind: str) -> Any:
    """The empty form; POST creates the record (a new person's generated password is shown once)."""
    if request.method == "GET":
        return form_page(kind, None, _shown(kind, None))
    result, refused = _submit(kind, None, lambda actor, values: KINDS[kind].create(db.session(), actor, values))
    if refused is not None:
        return refused
    saved, password = result
    flash(t("adm.created"), "ok")
    if password is not None:
        return form_page(kind, saved.record, _shown(kind, saved.record), password=password, status=201)
    return redirect(url_for("admin_records.edit", kind=kind, record_id=saved.record.id))


@bp.route(f"/{KIND}/<int:record_id>", methods=["GET", "POST"])
@login_required(roles=ADMIN_ROLES)
def edit(kind: str, record_id: int) -> Any:
    """The record's form and ledger; POST saves the changes."""
    record = _record(kind, record_id)
    if request.method == "GET":
        return form_page(kind, record, _shown(kind, record))
    saved, refused = _submit(kind, record_id,
                             lambda actor, values: KINDS[kind].update(db.session(), actor, record_id, values))
    if refused is not None:
        return refused
    flash(t("adm.saved") if saved.changes else t("adm.unchanged"), "ok")
    _warn(saved)
    return redirect(url_for("admin_records.edit", kind=kind, record_id=record_id))


@bp.post(f"/{KIND}/<int:record_id>/active")
@login_required(roles=ADMIN_ROLES)
def set_active(kind: str, record_id: int) -> Response:
    """Deactivate (``active=0``) or reactivate (``active=1``); a refusal names what still needs it."""
    _record(kind, record_id)
    _, actor = me()
    active = request.form.get("active") == "1"
    try:
        saved = KINDS[kind].set_active(db.session(), actor, record_id, active)
    except DomainError as exc:
        db.session.rollback()
        flash(_error(kind, exc), "error")
    else:
        flash(t("adm.reactivated") if active else t("adm.deactivated"), "ok")
        _warn(saved)
    return redirect(url_for("admin_records.edit", kind=kind, record_id=record_id))


@bp.post("/people/<int:record_id>/password")
@login_required(roles=ADMIN_ROLES)
def password(record_id: int) -> Any:
    """Reset a password: the one typed, or a generated one shown on this page once."""
    record = _record("people", record_id)
    _, actor = me()
    try:
        _, generated = admin_people.reset_password(db.session(), actor, record_id,
                                                   request.form.get("new_password") or None)
    except DomainError as exc:
        db.session.rollback()
        record = _record("people", record_id)
        return form_page("people", record, _shown("people", record), error=_error("people", exc), status=exc.status)
    flash(t("adm.password_reset"), "ok")
    if generated is None:
        return redirect(url_for("admin_records.edit", kind="people", record_id=record_id))
    return form_page("people", record, _shown("people", record), password=generated)
