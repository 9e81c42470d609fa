"""RQ job for the notification outbox: deliver one row (by id)."""
from __future__ import annotations

from .context import job_app


def deliver_notification(notification_id: int) -> str:
    """Deliver outbox row ``notification_id`` over its channel; returns the outcome of
    :func:`caseflow.notify.outbox.deliver` (``sent``, ``retry``, ``dead``, ``already sent``...)."""
    from caseflow.extensions import db
    from caseflow.notify import outbox
    from caseflow.notify.registry import build_channels

    with job_app() as app:
        return outbox.deliver(db.session(), notification_id, build_channels(app.config))
