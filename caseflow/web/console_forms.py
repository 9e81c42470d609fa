"""Forms of the dispatcher's and the patrol's pages: fields read with Chinese messages that name
the field, domain errors explained in the page's language, and a double submit that does
the work once.

Double submit: each form carries a one-time ``form_token`` (a template global). The first
POST with a token claims it in the idempotency-key table the API uses for ``Idempotency-Key``
(client ``person:<id>``); a second POST with the same token does not run the operation again
and gets "already done" (or "still running" while the first is under way). A refused
operation releases the token, so the corrected form can be sent again.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import flash, request
from werkzeug.wrappers import Response

from caseflow.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    TransitionRejected,
    UnsupportedMediaType,
    ValidationFailed,
)
from caseflow.extensions import db

from .guards import current_person
from .i18n import current_language, t

TOKEN_FIELD = "form_token"


def new_form_token() -> str:
    """A fresh one-time token for one rendered form (the ``form_token()`` template global)."""
    return secrets.token_urlsafe(18)


# -- reading fields ---------------------------------------------------------------------------

def _raw(name: str) -> str:
    return (request.form.get(name) or "").strip()


def text(name: str, *, required: bool = False, max_len: int = 2000) -> str:
    """A text field, stripped; ``ValidationFailed`` naming it when required and empty or too long."""
    value = _raw(name)
    if required and not value:
        raise ValidationFailed(t("form.required"), field=name)
    if len(value) > max_len:
        raise ValidationFailed(t("form.too_long", n=max_len), field=name)
    return value


def whole(name: str, *, required: bool = False, low: int = 1, high: int | None = None) -> int | None:
    """A whole number (an id, a grade); ``ValidationFailed`` naming the field otherwise."""
    raw = _raw(name)
    if not raw:
        if required:
            raise ValidationFailed(t("form.choose" if high is None else "form.required"), field=name)
        return None
    if not raw.isdigit():
        raise ValidationFailed(t("form.not_number"), field=name)
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise ValidationFailed(t("form.out_of_range", low=low, high=high if high is not None else "∞"), field=name)
    return value


def choice(name: str, options: tuple[str, ...] | list[str], *, required: bool = True) -> str:
    """One of ``options``; ``ValidationFailed`` naming the field otherwise."""
    value = _raw(name)
    if not value and not required:
        return ""
    if value not in options:
        raise ValidationFailed(t("form.choose") if not value else t("form.not_an_option"), field=name)
    return value


def flag(name: str) -> bool:
    """A checkbox: ticked when sent as ``1``, ``on``, ``true`` or ``yes``."""
    return _raw(name).lower() in ("1", "on", "true", "yes")


def duration(name: str, *, required: bool = False) -> str | None:
    """A duration like ``4h``, ``1d``, ``30m`` or ``1h30m`` as typed (None when empty and not
    required); ``ValidationFailed`` naming the field otherwise. How long is too long is the
    service's rule."""
    from caseflow.worktime import parse_duration

    raw = text(name, required=required, max_len=16)
    if not raw:
        return None
    try:
        if parse_duration(raw).total_seconds() <= 0:
            raise ValueError(raw)
    except ValueError:
        raise ValidationFailed(t("form.duration"), field=name) from None
    return raw


# -- explaining errors ------------------------------------------------------------------------

def state_label(state: str) -> str:
    """A case state's label in the page's language (from any case workflow that has it)."""
    from caseflow.workflow.engine import get_catalog

    for definition in get_catalog().all():
        if definition.item == "case" and state in definition.states:
            return definition.label(state, current_language())
    return state


def _final_states() -> set[str]:
    from .pages import final_states

    return final_states("case")


def field_label(field: str, labels: dict[str, str] | None = None) -> str:
    """``理由 (reason)``: the field's name on the page, with its form name."""
    label = (labels or {}).get(field) or t("field." + field)
    return field if label == "field." + field else f"{label} ({field})"


def explain(exc: DomainError, labels: dict[str, str] | None = None, *, named: bool = True) -> str:
    """What a person reads for a refused operation: the field first when the error names one
    (unless ``named`` is False: the caller says what it is about)."""
    if isinstance(exc, InvalidTransition):
        state = exc.details.get("state")
        message = t("form.error.state", state=state_label(state)) if state else t("form.error.not_now")
    elif isinstance(exc, TransitionRejected):
        # "not is_deferred": an ``unless`` guard that held (the case *is* deferred).
        key = "guard." + str(exc.details.get("guard") or "").replace("not ", "not_")
        message = t(key) if t(key) != key else t("form.error.rejected")
    elif isinstance(exc, Conflict) and not exc.field:
        state = exc.details.get("state")
        # A final state (archived, void) is read-only, not a lost race.
        message = t("form.error.state", state=state_label(state)) if state in _final_states() \
            else t("form.error.conflict")
    elif isinstance(exc, NotFound):
        message = t("form.error.not_found")
    elif isinstance(exc, PermissionDenied):
        message = t("form.error.denied")
    elif isinstance(exc, PayloadTooLarge):
        limit = exc.details.get("max_bytes")
        message = t("form.error.too_large", mb=round(limit / 1048576, 1)) if limit else t("form.error.too_large_any")
    elif isinstance(exc, UnsupportedMediaType):
        message = t("form.error.file_type")
    elif _is_chinese(exc.message) or current_language() == "en":
        message = exc.message  # our own (already translated) or an English page
    else:
        message = t("form.invalid", detail=exc.message)  # a service's English detail, kept for the record
    if exc.field and named:
        return t("flash.field_error", field=field_label(exc.field, labels), message=message)
    return message


def _is_chinese(message: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in message)


def attempt(call: Callable[[], Any], ok: str, labels: dict[str, str] | None = None) -> Any:
    """Run one service call; flash ``ok`` on success, the explained error otherwise (returns None)."""
    try:
        result = call()
    except DomainError as exc:
        db.session.rollback()  # the service rolled back already; leave no half-read transaction
        flash(explain(exc, labels), "error")
        return None
    flash(ok, "ok")
    return result if result is not None else True


# -- doing it once ----------------------------------------------------------------------------

def submit_once(call: Callable[[], Any], ok: str, done: Callable[[Any], Response],
                labels: dict[str, str] | None = None) -> Response:
    """Run a form's operation at most once per ``form_token``; ``done(result)`` makes the response.

    ``result`` is None when the operation was refused (or is a repeat). A form without a token
    (an older page, a script) simply runs.
    """
    from caseflow.api import idempotency

    token = _raw(TOKEN_FIELD)
    person = current_person()
    if not token or person is None or len(token) > 200:
        return done(attempt(call, ok, labels))
    session = db.session()
    try:
        row_id, replay = idempotency.claim(session, f"person:{person.id}", f"console:{token}",
                                           idempotency.request_hash())
    except ValidationFailed:  # the same token with other values: an old copy of the form, edited
        flash(t("form.stale"), "error")
        return done(None)
    except Conflict:
        flash(t("form.in_progress"), "error")
        return done(None)
    if replay is not None:
        flash(t("form.already_done"), "ok")
        return replay
    try:
        result = attempt(call, ok, labels)
        response = done(result)
    except BaseException:
        idempotency.release(session, row_id)
        raise
    if result is None:
        idempotency.release(session, row_id)  # refused: the corrected form may be sent again
    else:
        idempotency.store(session, row_id, response)
    return response


def whole_list(name: str) -> list[int]:
    """Several ids chosen in one field (a multiple select or checkboxes); empty choices skipped."""
    values = []
    for raw in request.form.getlist(name):
        raw = raw.strip()
        if not raw:
            continue
        if not raw.isdigit():
            raise ValidationFailed(t("form.not_number"), field=name)
        values.append(int(raw))
    return values
