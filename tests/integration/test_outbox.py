"""The notification outbox against real receivers: webhook over HTTP, e-mail over SMTP;
retries with backoff, dead letters, the sweeper, and the delivery job on an RQ worker."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import select, update

from caseflow.effects import Effects
from caseflow.errors import Conflict, ValidationFailed
from caseflow.extensions import get_queue, get_redis
from caseflow.jobs import notify as notify_jobs
from caseflow.models import Notification, utcnow
from caseflow.notify import outbox
from caseflow.notify.registry import MAX_ATTEMPTS, backoff_seconds, build_channels
from tests.support.http_receiver import HttpReceiver
from tests.support.smtp_receiver import SmtpReceiver


def queue_row(session, channel: str, address: str, effects=None, **kw) -> Notification:  # type: ignore[no-untyped-def]
    row = outbox.queue_notification(
        session, channel=channel, address=address, person_id=kw.get("person_id"), item_type="instruction",
        item_id=7, subject=kw.get("subject", "【催办】超时未到场：应急联动指令 110-1"),
        body=kw.get("body", "请尽快到场处置。"), payload=kw.get("payload", {"run_id": 3}), effects=effects,
    )
    session.commit()
    return row


def reload(session, row_id: int) -> Notification:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.execute(select(Notification).where(Notification.id == row_id)
                           .execution_options(populate_existing=True)).scalar_one()


def make_due(session, row_id: int) -> None:  # type: ignore[no-untyped-def]
    session.execute(update(Notification).where(Notification.id == row_id)
                    .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    session.commit()


@pytest.fixture
def receiver():  # type: ignore[no-untyped-def]
    with HttpReceiver() as r:
        yield r


def test_webhook_delivered_to_a_real_receiver(app, session, receiver) -> None:  # type: ignore[no-untyped-def]
    row = queue_row(session, "webhook", receiver.url + "/hook")
    assert outbox.deliver(session, row.id, build_channels(app.config)) == "sent"
    [req] = receiver.requests
    assert req.method == "POST" and req.path == "/hook"
    assert req.json() == {"subject": "【催办】超时未到场：应急联动指令 110-1", "body": "请尽快到场处置。",
                          "payload": {"run_id": 3}}
    assert req.headers["x-caseflow-message-id"] == f"notification-{row.id}"
    row = reload(session, row.id)
    assert row.status == "sent" and row.attempts == 1 and row.sent_at is not None and row.last_error == ""
    # Delivering again (a duplicate job) sends nothing.
    assert outbox.deliver(session, row.id, build_channels(app.config)) == "already sent"
    assert len(receiver.requests) == 1


def test_email_delivered_to_a_real_smtp_server(app, session) -> None:  # type: ignore[no-untyped-def]
    with SmtpReceiver() as smtp:
        channels = build_channels({"NOTIFY_SMTP_HOST": "127.0.0.1", "NOTIFY_SMTP_PORT": str(smtp.port),
                                   "NOTIFY_SMTP_FROM": "城运中心 <noreply@example.test>"})
        row = queue_row(session, "email", "san_head@example.test")
        assert outbox.deliver(session, row.id, channels) == "sent"
        [mail] = smtp.messages
    assert mail.rcpt_tos == ["san_head@example.test"]
    assert mail.message["Subject"] == "【催办】超时未到场：应急联动指令 110-1"
    assert mail.message.get_content().strip() == "请尽快到场处置。"
    assert mail.message["X-Caseflow-Message-Id"] == f"notification-{row.id}"
    assert reload(session, row.id).status == "sent"


def test_retries_with_backoff_then_succeeds(app, session, receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.reply_with(500, b"busy")
    channels = build_channels(app.config)
    row = queue_row(session, "webhook", receiver.url + "/hook")
    before = utcnow()
    assert outbox.deliver(session, row.id, channels) == "retry"
    row = reload(session, row.id)
    assert row.status == "pending" and row.attempts == 1 and "HTTP 500" in row.last_error
    wait = (row.next_attempt_at - before).total_seconds()
    assert backoff_seconds(1) <= wait <= backoff_seconds(1) + 2
    # The retry is on the scheduler under its own job id; an early duplicate does nothing.
    queue = get_queue(app.config["NOTIFY_QUEUE"])
    assert outbox.job_id(row.id, 1) == f"notify-{row.id}-2"
    assert f"notify-{row.id}-2" in queue.scheduled_job_registry.get_job_ids()
    assert outbox.deliver(session, row.id, channels) == "not due"
    assert len(receiver.requests) == 1

    make_due(session, row.id)
    before = utcnow()
    assert outbox.deliver(session, row.id, channels) == "retry"
    row = reload(session, row.id)
    assert row.attempts == 2
    assert backoff_seconds(2) <= (row.next_attempt_at - before).total_seconds() <= backoff_seconds(2) + 2

    receiver.reply_with(200, {"ok": True})
    make_due(session, row.id)
    assert outbox.deliver(session, row.id, channels) == "sent"
    row = reload(session, row.id)
    assert row.status == "sent" and row.attempts == 3 and row.last_error == ""
    assert len(receiver.requests) == 3


def test_dead_after_max_attempts_and_retry_from_the_console(app, session, receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.reply_with(503, b"down")
    channels = build_channels(app.config)
    row = queue_row(session, "webhook", receiver.url + "/hook")
    outcomes = []
    for _ in range(MAX_ATTEMPTS):
        make_due(session, row.id)
        outcomes.append(outbox.deliver(session, row.id, channels))
    assert outcomes == ["retry"] * (MAX_ATTEMPTS - 1) + ["dead"]
    row = reload(session, row.id)
    assert row.status == "dead" and row.attempts == MAX_ATTEMPTS
    assert "HTTP 503" in row.last_error and f"after {MAX_ATTEMPTS} attempts" in row.last_error
    assert len(receiver.requests) == MAX_ATTEMPTS
    make_due(session, row.id)
    assert outbox.deliver(session, row.id, channels) == "already dead"
    assert not session.in_transaction()  # nothing reloaded after its rollback (no idle transaction)
    assert len(receiver.requests) == MAX_ATTEMPTS

    receiver.reply_with(200)
    revived = outbox.retry_dead(session, row.id)
    assert revived.status == "pending" and revived.attempts == 0
    assert f"notify-{row.id}" in get_queue(app.config["NOTIFY_QUEUE"]).job_ids
    assert outbox.deliver(session, row.id, channels) == "sent"
    with pytest.raises(Conflict):
        outbox.retry_dead(session, row.id)


def test_non_retryable_failure_is_dead_at_once(app, session, receiver) -> None:  # type: ignore[no-untyped-def]
    receiver.reply_with(404, b"no such hook")
    row = queue_row(session, "webhook", receiver.url + "/gone")
    assert outbox.deliver(session, row.id, build_channels(app.config)) == "dead"
    row = reload(session, row.id)
    assert row.status == "dead" and row.attempts == 1 and "HTTP 404" in row.last_error


def test_unconfigured_channel_is_dead_with_a_clear_error(app, session) -> None:  # type: ignore[no-untyped-def]
    row = queue_row(session, "sms", "13800000001")
    assert "sms" not in build_channels(app.config)
    assert outbox.deliver(session, row.id, build_channels(app.config)) == "dead"
    row = reload(session, row.id)
    assert row.status == "dead" and row.attempts == 0
    assert "not configured" in row.last_error and "NOTIFY_SMS_URL" in row.last_error


def test_bad_input_names_the_field(session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as exc:
        queue_row(session, "pigeon", "x")
    assert exc.value.field == "channel"
    session.rollback()
    with pytest.raises(ValidationFailed) as exc:
        queue_row(session, "email", "  ")
    assert exc.value.field == "address"


def test_sweep_enqueues_due_pending_rows(app, session, receiver) -> None:  # type: ignore[no-untyped-def]
    due = queue_row(session, "webhook", receiver.url + "/a")
    later = queue_row(session, "webhook", receiver.url + "/b")
    sent = queue_row(session, "webhook", receiver.url + "/c")
    session.execute(update(Notification).where(Notification.id == later.id)
                    .values(next_attempt_at=utcnow() + timedelta(minutes=5)))
    session.execute(update(Notification).where(Notification.id == sent.id).values(status="sent"))
    session.commit()
    assert outbox.sweep_due(session, utcnow()) == [due.id]
    queue = get_queue(app.config["NOTIFY_QUEUE"])
    assert queue.job_ids == [f"notify-{due.id}"]
    assert SimpleWorker([queue], connection=get_redis()).work(burst=True) is True
    assert [r.path for r in receiver.requests] == ["/a"]
    assert reload(session, due.id).status == "sent"


def test_delivery_job_on_a_real_worker(app, session, receiver) -> None:  # type: ignore[no-untyped-def]
    effects = Effects()
    row = queue_row(session, "webhook", receiver.url + "/hook", effects=effects)
    row_id = row.id
    assert effects.dispatch() == []  # enqueued after commit
    queue = get_queue(app.config["NOTIFY_QUEUE"])
    assert queue.job_ids == [f"notify-{row_id}"]
    assert SimpleWorker([queue], connection=get_redis()).work(burst=True) is True
    job = Job.fetch(f"notify-{row_id}", connection=get_redis())
    assert job.get_status() == "finished" and job.return_value() == "sent"
    assert len(receiver.requests) == 1
    assert reload(session, row_id).status == "sent"
    # The job function called again is a no-op.
    assert notify_jobs.deliver_notification(row_id) == "already sent"


def test_escalation_round_reaches_webhook_and_smtp_receivers(app, session, catalog, world, receiver,  # type: ignore[no-untyped-def]
                                                            monkeypatch) -> None:
    """End to end: a late arrival tells the unit head on their webhook and the group leader by
    e-mail, delivered by the RQ worker to real receivers."""
    from caseflow.deadlines import escalation
    from tests.integration.test_escalation import late_instruction

    head = world.people["san_head"]
    head.channels = [f"webhook:{receiver.url}/san-head"]
    session.commit()
    ins, run = late_instruction(session, catalog, world)
    assert escalation.advance(session, catalog, run.id) == "notified"
    queue = get_queue(app.config["NOTIFY_QUEUE"])
    assert len(queue.job_ids) == 2  # the head's webhook and the group leader's e-mail
    with SmtpReceiver() as smtp:
        # The job builds its channels from the app's configuration.
        monkeypatch.setitem(app.config, "NOTIFY_SMTP_HOST", "127.0.0.1")
        monkeypatch.setitem(app.config, "NOTIFY_SMTP_PORT", smtp.port)
        monkeypatch.setitem(app.config, "NOTIFY_SMTP_FROM", "城运中心 <noreply@example.test>")
        assert SimpleWorker([queue], connection=get_redis()).work(burst=True) is True
        [mail] = smtp.messages
    [req] = receiver.requests
    assert req.path == "/san-head"
    body = req.json()
    assert "110-E1" in body["subject"] and body["payload"]["run_id"] == run.id
    assert body["payload"]["target"] == "unit_head"
    assert mail.rcpt_tos == ["san_group_leader@example.test"]
    assert "110-E1" in mail.message["Subject"] and "应急行动组组长" in mail.message.get_content()
    statuses = dict(session.execute(select(Notification.channel, Notification.status)).all())
    assert statuses == {"webhook": "sent", "email": "sent"}


def test_escalation_email_without_smtp_settings_is_dead_lettered(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    from caseflow.deadlines import escalation
    from tests.integration.test_escalation import late_instruction

    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    assert SimpleWorker([get_queue(app.config["NOTIFY_QUEUE"])], connection=get_redis()).work(burst=True) is True
    rows = session.execute(select(Notification.status, Notification.last_error)).all()
    assert len(rows) == 2
    assert all(status == "dead" and "NOTIFY_SMTP_HOST" in error for status, error in rows)
