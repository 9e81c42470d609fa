"""Undelivered notifications (发送失败的通知): the outbox's dead letters in the console, for
admins and duty leads (the same roles as ``GET /api/notifications``), each with a retry button.

``GET /admin/notifications/dead`` lists them, newest first; ``POST .../<id>/retry`` calls
:func:`caseflow.notify.outbox.retry_dead` (fresh attempts, delivered after commit).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.extensions import db
from caseflow.models import Notification, Person
from caseflow.notify import outbox
from caseflow.notify.webhook import safe_url

from .guards import OUTBOX_ROLES, login_required
from .i18n import t
from .work import attempt, back

bp = Blueprint("outbox_console", __name__, url_prefix="/admin/notifications")

LIMIT = 200
URL_CHANNELS = ("webhook", "wecom")  # their address is a URL that may carry a secret key


def dead_rows(limit: int = LIMIT) -> list[dict[str, Any]]:
    """The dead notifications, newest first, with the recipient's name; URL secrets stripped."""
    rows = list(db.session.execute(select(Notification).where(Notification.status == "dead")
                                   .order_by(Notification.id.desc()).limit(limit)).scalars())
    ids = {n.person_id for n in rows if n.person_id}
    names = dict(db.session.execute(select(Person.id, Person.full_name).where(Person.id.in_(ids))).all()) if ids else {}
    return [{"n": n, "person_name": names.get(n.person_id, "") if n.person_id else "",
             "address": safe_url(n.address) if n.channel in URL_CHANNELS else n.address} for n in rows]


@bp.get("/dead")
@login_required(roles=sorted(OUTBOX_ROLES))
def dead() -> str:
    """The dead letters with their last error and a retry button each."""
    return render_template("admin/dead_notifications.html", rows=dead_rows(), limit=LIMIT)


@bp.post("/<int:notification_id>/retry")
@login_required(roles=sorted(OUTBOX_ROLES))
def retry(notification_id: int) -> Response:
    """Give a dead notification a fresh set of attempts (a conflict when it is not dead)."""
    attempt(lambda: outbox.retry_dead(db.session(), notification_id), t("flash.done.retry"))
    return back("outbox_console.dead")
