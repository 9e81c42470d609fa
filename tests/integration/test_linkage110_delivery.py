"""Answers to 110 (linkage_110) go through the notification outbox to a real HTTP server standing
in for the city linkage center: what it receives, and the outbox rows marked delivered."""
from __future__ import annotations

from datetime import timedelta

import pytest
from rq import SimpleWorker
from sqlalchemy import select, update

from caseflow.extensions import get_queue, get_redis
from caseflow.jobs import notify as notify_jobs
from caseflow.models import Notification, utcnow
from caseflow.security.actor import Actor
from caseflow.security.tokens import issue_token
from caseflow.services import instructions as svc
from tests.support.http_receiver import HttpReceiver

TOKEN = "linkage-110-secret"


@pytest.fixture
def center_110(app, monkeypatch):  # type: ignore[no-untyped-def]
    """The 110 center's endpoint, configured as the delivery jobs read it (the app's config)."""
    with HttpReceiver() as receiver:
        monkeypatch.setitem(app.config, "NOTIFY_LINKAGE110_URL", receiver.url + "/linkage/answers")
        monkeypatch.setitem(app.config, "NOTIFY_LINKAGE110_TOKEN", TOKEN)
        yield receiver


def _answers(session) -> list[Notification]:  # type: ignore[no-untyped-def]
    session.rollback()
    return list(session.execute(select(Notification).where(Notification.channel == "linkage_110")
                                .order_by(Notification.id).execution_options(populate_existing=True)).scalars())


def _walk(session, catalog, world) -> int:  # type: ignore[no-untyped-def]
    """Receive, sign, dispatch, arrive, report the result and report it to 110."""
    liaison, san = world.actor("liaison"), world.actor("san_handler")
    item, _ = svc.receive(session, catalog, actor=Actor.client_of("linkage_110"), number="110-20260310-0042",
                          category="garbage", grid="G01", address="人民路 1 号", description="垃圾堆放")
    svc.sign(session, catalog, item.id, actor=liaison)
    svc.dispatch(session, catalog, item.id, actor=liaison)
    svc.arrive(session, catalog, item.id, actor=san, situation="垃圾约 2 吨", place="人民路口")
    svc.report_result(session, catalog, item.id, actor=san, result="已清运完毕")
    svc.report_to_110(session, catalog, item.id, actor=liaison)
    return item.id


def test_answers_reach_the_110_server_and_are_marked_delivered(app, client, session, catalog, world,  # type: ignore[no-untyped-def]
                                                               center_110) -> None:
    iid = _walk(session, catalog, world)
    queued = _answers(session)
    assert [n.payload["kind"] for n in queued] == ["signed", "arrived", "result"]
    assert {n.status for n in queued} == {"pending"}
    # Each answer was enqueued after its commit; an RQ worker delivers them.
    queue = get_queue(app.config["NOTIFY_QUEUE"])
    assert {f"notify-{n.id}" for n in queued} <= set(queue.job_ids)
    assert SimpleWorker([queue], connection=get_redis()).work(burst=True) is True

    got = [r for r in center_110.requests if r.path == "/linkage/answers"]
    assert len(got) == 3 and len(center_110.requests) == 3  # nothing else went to the 110 endpoint
    for req, row in zip(got, queued, strict=True):
        assert req.method == "POST"
        assert req.headers["authorization"] == f"Bearer {TOKEN}"
        assert req.headers["content-type"].startswith("application/json")
        assert req.headers["x-caseflow-message-id"] == f"notification-{row.id}"
        assert req.json() == row.payload  # the payload, unchanged
    signed, arrived, result = (r.json() for r in got)
    assert signed["instruction_no"] == "110-20260310-0042" and signed["kind"] == "signed" and signed["signed_at"]
    assert arrived["kind"] == "arrived" and arrived["situation"] == "垃圾约 2 吨" and arrived["on_time"] is True
    assert result["kind"] == "result" and result["result"] == "已清运完毕" and result["state"] == "closed"

    delivered = _answers(session)
    for row in delivered:
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, ""), (row.id, row.last_error)
        assert row.sent_at is not None and row.sent_at >= row.created_at
    # The console/API shows the delivery status of every answer.
    token = issue_token(session, "liaison", person=world.people["liaison"])
    detail = client.get(f"/api/instructions/{iid}", headers={"Authorization": f"Bearer {token}"}).json
    assert [(a["kind"], a["status"]) for a in detail["answers_110"]] == [
        ("signed", "sent"), ("arrived", "sent"), ("result", "sent")]
    assert all(a["sent_at"] for a in detail["answers_110"])


def test_an_answer_the_110_server_refuses_is_retried_then_delivered(app, session, catalog, world,  # type: ignore[no-untyped-def]
                                                                   center_110) -> None:
    center_110.reply_with(503, b"busy")
    item, _ = svc.receive(session, catalog, actor=Actor.client_of("linkage_110"), number="110-R", category="garbage")
    svc.sign(session, catalog, item.id, actor=world.actor("liaison"))
    [row] = _answers(session)
    assert notify_jobs.deliver_notification(row.id) == "retry"
    [row] = _answers(session)
    assert (row.status, row.attempts) == ("pending", 1) and "HTTP 503" in row.last_error and row.sent_at is None

    center_110.reply_with(200, {"code": 0})
    session.execute(update(Notification).where(Notification.id == row.id)
                    .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert notify_jobs.deliver_notification(row.id) == "sent"
    [row] = _answers(session)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, "") and row.sent_at is not None
    first, second = center_110.requests
    # The same message id both times, so the 110 side can drop a duplicate.
    assert first.headers["x-caseflow-message-id"] == second.headers["x-caseflow-message-id"] == f"notification-{row.id}"
    assert second.json() == row.payload and second.json()["kind"] == "signed"
    # Delivering again does not post again.
    assert notify_jobs.deliver_notification(row.id) == "already sent"
    assert len(center_110.requests) == 2
