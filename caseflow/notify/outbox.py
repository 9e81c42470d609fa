"""The notification outbox: rows written in the caller's transaction, delivered by RQ jobs.

Life of a row: ``pending`` -> ``sent``, or ``pending`` -> (retries with backoff) -> ``dead``.

Delivery (:func:`deliver`) never holds a database lock while it talks to the network:

1. claim: lock the row, check it is pending and due, count the attempt and push
   ``next_attempt_at`` one lease ahead (so a second job or the sweeper leaves it alone),
   commit;
2. send over the channel, outside any transaction;
3. record: lock the row again and mark it ``sent``, schedule the retry
   (``next_attempt_at = now + backoff_seconds(attempts)``), or mark it ``dead`` after
   ``MAX_ATTEMPTS`` attempts or a non-retryable error.

A worker killed during step 2 leaves a pending row whose lease runs out; the sweeper
(:func:`sweep_due`) then sends it again. Delivery is therefore at-least-once; every message
carries ``notification-<id>`` as its message id so receivers can drop duplicates.

Jobs: the first delivery is job ``notify-<id>``; the retry after attempt *n* is
``notify-<id>-<n+1>``, so a retry never reuses the id of the job that schedules it.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Mapping

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.deadlines.scheduling import ceil_second
from caseflow.effects import Effects
from caseflow.errors import Conflict, NotFound, ValidationFailed
from caseflow.extensions import get_queue
from caseflow.models import Notification, utcnow
from caseflow.notify.channels import Channel, DeliveryError, OutgoingMessage
from caseflow.notify.registry import MAX_ATTEMPTS, backoff_seconds
from caseflow.services.unit_of_work import transaction

log = logging.getLogger(__name__)

DELIVER_JOB = "caseflow.jobs.notify.deliver_notification"
#: How long a claimed row is left alone before the sweeper assumes its worker died.
LEASE_S = 120.0
CHANNEL_NAMES = ("webhook", "email", "sms", "wecom", "linkage_110")
_SUBJECT_MAX = 200
_ADDRESS_MAX = 255

# What to set for each channel when it is missing, for an actionable last_error.
_CHANNEL_SETTINGS = {
    "email": "NOTIFY_SMTP_HOST and NOTIFY_SMTP_FROM",
    "sms": "NOTIFY_SMS_URL",
    "linkage_110": "NOTIFY_LINKAGE110_URL and NOTIFY_LINKAGE110_TOKEN",
}


def job_id(notification_id: int, attempts: int) -> str:
    """The RQ job id for the next attempt of a row that has made ``attempts`` attempts."""
    return f"notify-{notification_id}" if attempts == 0 else f"notify-{notification_id}-{attempts + 1}"


def _queue_name() -> str:
    return str(current_app.config["NOTIFY_QUEUE"])


def schedule_delivery(notification_id: int, attempts: int, at: datetime | None = None) -> None:
    """Enqueue delivery now, or at ``at`` (rounded up to the second: never early)."""
    queue = get_queue(_queue_name())
    kwargs: dict[str, Any] = dict(job_id=job_id(notification_id, attempts), result_ttl=3600,
                                  failure_ttl=7 * 24 * 3600, job_timeout=120)
    if at is None or at <= utcnow():
        queue.enqueue(DELIVER_JOB, notification_id, **kwargs)
    else:
        queue.enqueue_at(ceil_second(at), DELIVER_JOB, notification_id, **kwargs)


def queue_notification(
    session: Session,
    *,
    channel: str,
    address: str,
    person_id: int | None,
    item_type: str,
    item_id: int | None,
    subject: str,
    body: str,
    payload: dict[str, Any] | None = None,
    effects: Effects | None = None,
) -> Notification:
    """Add a pending outbox row to the caller's transaction (the caller commits).

    With ``effects`` the delivery job is enqueued after commit; without, the outbox
    sweeper picks the row up on its next pass. Raises ``ValidationFailed`` for an unknown
    channel or an empty address.
    """
    if channel not in CHANNEL_NAMES:
        raise ValidationFailed(f"unknown notification channel {channel!r}", field="channel")
    if not address or not address.strip():
        raise ValidationFailed("a notification needs an address", field="address")
    if len(address) > _ADDRESS_MAX:
        raise ValidationFailed(f"address longer than {_ADDRESS_MAX} characters", field="address")
    row = Notification(
        channel=channel, address=address.strip(), person_id=person_id, item_type=item_type or "",
        item_id=item_id, subject=(subject or "")[:_SUBJECT_MAX], body=body or "", payload=dict(payload or {}),
        status="pending", attempts=0, next_attempt_at=utcnow(), last_error="",
    )
    session.add(row)
    session.flush()
    if effects is not None:
        effects.add(f"deliver notification {row.id}", schedule_delivery, row.id, 0)
    return row


def _lock(session: Session, notification_id: int) -> Notification | None:
    return session.execute(
        select(Notification).where(Notification.id == notification_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()


def _missing_channel_error(name: str) -> str:
    if name not in CHANNEL_NAMES:
        return f"unknown channel {name!r}"
    need = _CHANNEL_SETTINGS.get(name)
    hint = f": set {need}" if need else ""
    return f"channel {name!r} is not configured on this server{hint}"


def _claim(session: Session, notification_id: int, channels: Mapping[str, Channel]) -> tuple[str, OutgoingMessage | None]:
    """Step 1 of :func:`deliver`; returns the outcome so far and the message to send."""
    with transaction(session):
        row = _lock(session, notification_id)
        if row is None:
            session.rollback()
            return "missing", None
        if row.status != "pending":
            status = row.status  # read before the rollback expires it (a reload would open a transaction)
            session.rollback()
            return f"already {status}", None
        now = utcnow()
        if row.next_attempt_at > now:
            session.rollback()  # a duplicate job, or another worker holds the lease
            return "not due", None
        if row.channel not in channels:
            row.status = "dead"
            row.last_error = _missing_channel_error(row.channel)
            session.commit()
            log.error("notification %s dead: %s", row.id, row.last_error)
            return "dead", None
        row.attempts += 1
        row.next_attempt_at = now + timedelta(seconds=LEASE_S)
        message = OutgoingMessage(
            channel=row.channel, address=row.address, subject=row.subject, body=row.body,
            payload=dict(row.payload or {}), message_id=f"notification-{row.id}",
        )
    return "claimed", message


def _record(session: Session, notification_id: int, error: DeliveryError | None) -> tuple[str, Notification | None]:
    """Step 3 of :func:`deliver`: store the outcome of the attempt."""
    with transaction(session):
        row = _lock(session, notification_id)
        if row is None:
            session.rollback()
            return "missing", None
        now = utcnow()
        if error is None:
            row.status = "sent"
            row.sent_at = now
            row.last_error = ""
            outcome = "sent"
        elif not error.retryable or row.attempts >= MAX_ATTEMPTS:
            row.status = "dead"
            row.last_error = error.message if not error.retryable else f"{error.message} (gave up after {row.attempts} attempts)"
            outcome = "dead"
        else:
            row.next_attempt_at = now + timedelta(seconds=backoff_seconds(row.attempts))
            row.last_error = error.message
            outcome = "retry"
    return outcome, row


def deliver(session: Session, notification_id: int, channels: Mapping[str, Channel]) -> str:
    """Try to deliver one outbox row; returns ``sent``, ``retry``, ``dead`` or why nothing was done.

    ``channels`` is what :func:`caseflow.notify.registry.build_channels` returns. A channel
    missing from it (not configured here) is a permanent failure: the row goes ``dead``
    with the settings to fix in ``last_error``, and :func:`retry_dead` revives it later.
    """
    outcome, message = _claim(session, notification_id, channels)
    if message is None:
        return outcome
    error: DeliveryError | None = None
    try:
        channels[message.channel].send(message)
    except DeliveryError as exc:
        error = exc
    except Exception as exc:  # a bug in an adapter must not lose the row: count it, retry
        log.exception("channel %s raised unexpectedly", message.channel)
        error = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
    outcome, row = _record(session, notification_id, error)
    if outcome == "retry" and row is not None:
        try:
            schedule_delivery(row.id, row.attempts, row.next_attempt_at)
        except Exception:  # Redis away: the outbox sweeper re-enqueues the row when due
            log.exception("could not schedule retry of notification %s", row.id)
    elif outcome == "dead" and error is not None:
        log.error("notification %s dead after %s attempts: %s", notification_id,
                  row.attempts if row else "?", error.message)
    return outcome


def sweep_due(session: Session, now: datetime) -> list[int]:
    """Enqueue every pending row whose next attempt is due; return their ids.

    Covers rows whose job was lost (Redis flushed, enqueue failed after commit, worker
    killed mid-send). A row enqueued twice is harmless: :func:`deliver` claims it once.
    """
    ids = list(session.execute(
        select(Notification.id, Notification.attempts)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.next_attempt_at)
    ).all())
    session.rollback()  # read-only; release the snapshot (and SQLite's write lock)
    for nid, attempts in ids:
        schedule_delivery(nid, attempts)
    return [nid for nid, _ in ids]


def retry_dead(session: Session, notification_id: int, effects: Effects | None = None) -> Notification:
    """Give a dead row a fresh set of attempts and enqueue it. Commits.

    Raises ``NotFound`` or ``Conflict`` (the row is not dead). The last error is kept
    until the next attempt replaces it.
    """
    effects = effects if effects is not None else Effects()
    with transaction(session, effects):
        row = _lock(session, notification_id)
        if row is None:
            raise NotFound(f"notification {notification_id} not found")
        if row.status != "dead":
            raise Conflict(f"notification {notification_id} is {row.status}, not dead",
                           details={"status": row.status})
        row.status = "pending"
        row.attempts = 0
        row.next_attempt_at = utcnow()
        effects.add(f"deliver notification {row.id}", schedule_delivery, row.id, 0)
    return row
