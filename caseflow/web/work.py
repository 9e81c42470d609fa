"""What every work page of the console shares: who is acting, running one service call from a
form (a domain error becomes a flash message naming the field), reading form fields, and
going back to the page the form came from.

Forms post to console routes, which call the same service functions the API uses; the services
decide, lock and commit. Nothing here writes to the database itself.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, flash, redirect, request, url_for
from werkzeug.wrappers import Response

from caseflow.errors import DomainError, ValidationFailed
from caseflow.extensions import db
from caseflow.models import Person
from caseflow.security.actor import Actor

from .guards import current_person, safe_next
from .i18n import t


def me() -> tuple[Person, Actor]:
    """The signed-in person (the route's ``login_required`` guarantees one) and their actor."""
    person = current_person()
    assert person is not None
    return person, Actor.from_person(person)


def describe(exc: DomainError, labels: dict[str, str] | None = None) -> str:
    """The message a person reads: the field's name first when the error names one.

    ``labels`` overrides the shared field labels where a page means something more specific.
    """
    if exc.field:
        label = (labels or {}).get(exc.field) or t("field." + exc.field)
        label = exc.field if label == "field." + exc.field else f"{label} ({exc.field})"
        return t("flash.field_error", field=label, message=exc.message)
    return exc.message


def attempt(call: Callable[[], Any], ok: str) -> Any:
    """Run one service call; flash ``ok`` on success, the domain error otherwise (returns None)."""
    try:
        result = call()
    except DomainError as exc:
        db.session.rollback()  # the service rolled back already; leave no half-read transaction
        flash(describe(exc), "error")
        return None
    flash(ok, "ok")
    return result if result is not None else True


def text(name: str, *, required: bool = False, max_len: int = 4000) -> str:
    """A text field of the form, stripped; ``ValidationFailed`` naming it when required and empty."""
    value = (request.form.get(name) or "").strip()
    if required and not value:
        raise ValidationFailed(f"{name} is required", field=name)
    if len(value) > max_len:
        raise ValidationFailed(f"{name} is longer than {max_len} characters", field=name)
    return value


def number(name: str, *, required: bool = False) -> int | None:
    """An id field of the form; ``ValidationFailed`` naming it when missing or not a number."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            raise ValidationFailed(f"{name} is required", field=name)
        return None
    if not raw.isdigit():
        raise ValidationFailed(f"{name} must be a number", field=name)
    return int(raw)


def local_time(name: str, *, message: str | None = None) -> datetime | None:
    """A ``datetime-local`` field, read as local time of the configured zone (Asia/Shanghai), in UTC.

    Empty: None. A value with its own offset keeps it. ``ValidationFailed`` naming the field otherwise
    (``message``, or an English one).
    """
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(message or f"{name} must be a date and time like 2025-03-01T17:30",
                               field=name) from None
    if value.tzinfo is None:  # what the person typed is the wall clock they live by
        value = value.replace(tzinfo=ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai")))
    return value.astimezone(timezone.utc)


def back(endpoint: str, **values: Any) -> Response:
    """Redirect to the form's ``next`` (a path on this site) or to ``endpoint``."""
    target = safe_next(request.form.get("next") or request.args.get("next"))
    return redirect(target or url_for(endpoint, **values))


def isoutc(value: Any) -> str:
    """A stored time as ISO 8601 with its UTC offset, for scripts (``Date.parse`` reads it)."""
    if not isinstance(value, datetime):
        return ""
    if value.tzinfo is None:  # stored times are UTC
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


def register_work_pages(app: Any) -> None:
    """Register the work pages' blueprints and their template filter (called by ``init_web``)."""
    from .dispatch import bp as dispatch_bp
    from .duty_pages import bp as duty_bp
    from .handler import bp as handler_bp
    from .leader import bp as leader_bp
    from .leader_returns import bp as leader_returns_bp
    from .liaison import bp as liaison_bp

    app.add_template_filter(isoutc, "isoutc")
    for blueprint in (liaison_bp, dispatch_bp, handler_bp, duty_bp, leader_bp, leader_returns_bp):
        app.register_blueprint(blueprint)
