"""What the duty-watch console's forms share: the center a page acts for, times typed on the
local clock, and running a service call once per form with a refusal explained in the page's
language, naming the field.

The services speak English in their errors (the API's clients read them); here a refusal
becomes the Chinese sentence a duty officer reads (or stays English on an English page), and
:func:`caseflow.web.console_forms.submit_once` puts the field's name in front and makes a
second submit of the same form do nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import request
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    TransitionRejected,
    ValidationFailed,
)
from caseflow.extensions import db
from caseflow.models import Center, Person

from . import work
from .console_forms import submit_once
from .i18n import current_language, t


class Explained(DomainError):
    """A refusal already put in the page's language (``explain`` shows such a message as it is)."""

    status = 422
    code = "explained"


def _is_chinese(message: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in message)


def _state_label(state: str) -> str:
    from caseflow.workflow.engine import get_catalog

    for name in ("duty_shift", "handover"):
        definition = get_catalog().latest(name)
        if state in definition.states:
            return definition.label(state, current_language())
    return state


def duty_message(exc: DomainError) -> str:
    """What a person reads for a refused duty-watch operation (without the field's name)."""
    message = exc.message
    if current_language() == "en" or _is_chinese(message):
        return message  # an English page reads the service; a form reader already said it in Chinese
    details = exc.details or {}
    if isinstance(exc, PermissionDenied):
        return t("form.error.denied")
    if isinstance(exc, NotFound):
        return t("duty.error.not_found")
    if isinstance(exc, ValidationFailed):
        if message.endswith("is required") or " is required" in message:
            return t("form.required")
        if "in the future" in message:
            return t("duty.error.future")
        if "before the document was received" in message:
            return t("duty.error.before_received")
        if "does not exist" in message:
            return t("duty.error.no_such")
        return t("form.invalid", detail=message)
    if "period_id" in details:
        return t("duty.error.already_emergency")
    if "ended_at" in details:
        return t("duty.error.emergency_ended")
    if "cancelled_at" in details:
        return t("duty.error.period_cancelled")
    if "done_at" in details:
        return t("duty.error.document_done")
    if "reported_at" in details:
        return t("duty.error.report_first")
    if "status" in details:
        return t("duty.error.swap_decided", status=t("swap.status." + str(details["status"])))
    if isinstance(exc, TransitionRejected):
        key = "guard." + str(details.get("guard") or "").replace("not ", "not_")
        return t(key) if t(key) != key else t("form.error.rejected")
    if isinstance(exc, InvalidTransition) or "state" in details:
        state = details.get("state")
        return t("duty.error.state", state=_state_label(str(state))) if state else t("form.error.rejected")
    if isinstance(exc, Conflict):
        return t("duty.error.conflict", detail=message)
    return t("form.invalid", detail=message)


def run_once(call: Callable[[], Any], ok: str, done: Callable[[Any], Response],
             labels: dict[str, str] | None = None) -> Response:
    """Run the form's service call at most once per form token (see ``submit_once``); a refusal
    is flashed in the page's language with the field's name (``labels`` where the page calls a
    field something more specific than the shared ``field.*`` label)."""

    def explained() -> Any:
        try:
            return call()
        except DomainError as exc:
            raise Explained(duty_message(exc), field=exc.field, details=exc.details) from exc

    return submit_once(explained, ok, done, labels)


def local_time(name: str) -> datetime | None:
    """A ``datetime-local`` field as typed on the local clock (Asia/Shanghai), in UTC; None when
    empty; ``ValidationFailed`` naming the field, in the page's language, otherwise."""
    return work.local_time(name, message=t("duty.error.time"))


def day(name: str, *, required: bool = True) -> date | None:
    """A date field (``2025-10-01``); ``ValidationFailed`` naming the field otherwise."""
    raw = (request.form.get(name) or "").strip()
    if not raw:
        if required:
            raise ValidationFailed(t("form.required"), field=name)
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(t("duty.error.date"), field=name) from None


def center_for(person: Person) -> int | None:
    """The center the page acts for: the person's own; a person without one (an administrator)
    picks one with ``center_id`` (query string or form)."""
    if person.center_id:
        return int(person.center_id)
    raw = (request.values.get("center_id") or "").strip()
    if raw.isdigit() and db.session.get(Center, int(raw)) is not None:
        return int(raw)
    return None


def centers() -> list[Center]:
    """Every center, for the picker of a person without a center."""
    return list(db.session.execute(select(Center).order_by(Center.id)).scalars())
