"""/metrics, request ids, JSON logs and the deep readiness check."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select, update

from caseflow.deadlines.firing import fire_deadline
from caseflow.errors import PermissionDenied
from caseflow.models import Deadline, Notification, utcnow
from caseflow.security.actor import Actor
from caseflow.services import instructions as svc
from caseflow.services.cases import intake, review

REPO = Path(__file__).resolve().parents[2]


def scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:  # type: ignore[no-untyped-def]
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(r.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels) -> float:  # type: ignore[no-untyped-def]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_requests_are_counted_by_endpoint_and_status(client) -> None:  # type: ignore[no-untyped-def]
    before = scrape(client)
    for _ in range(3):
        assert client.get("/api/health").status_code == 200
    assert client.get("/api/no-such-thing").status_code == 404
    after = scrape(client)
    ok = dict(endpoint="health.Health", method="GET", status="200")
    assert value(after, "caseflow_http_requests_total", **ok) - value(before, "caseflow_http_requests_total", **ok) == 3
    miss = dict(endpoint="unmatched", method="GET", status="404")
    assert value(after, "caseflow_http_requests_total", **miss) - value(before, "caseflow_http_requests_total", **miss) == 1
    lat = dict(endpoint="health.Health", method="GET")
    assert (value(after, "caseflow_http_request_duration_seconds_count", **lat)
            - value(before, "caseflow_http_request_duration_seconds_count", **lat)) == 3


def test_committed_transitions_counted_refused_ones_not(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    before = scrape(client)
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                            category_code="garbage", external_ref="m-1")
    with pytest.raises(PermissionDenied):  # a handler may not register: refused, so not counted
        review.register(session, catalog, case.id, actor=world.actor("san_handler"))
    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    after = scrape(client)

    def delta(trigger: str) -> float:
        key = dict(workflow="case_general", trigger=trigger)
        return value(after, "caseflow_transitions_total", **key) - value(before, "caseflow_transitions_total", **key)

    assert delta("report") == 1 and delta("register") == 1


def test_deadline_lag_observed_when_a_deadline_fires(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item, _ = svc.receive(session, catalog, actor=Actor.client_of("linkage_110"), number="110-m1",
                          category="garbage", address="人民路 1 号")
    row = session.execute(select(Deadline).where(Deadline.item_id == item.id)).scalar_one()
    session.execute(update(Deadline).where(Deadline.id == row.id).values(due_at=utcnow() - timedelta(seconds=7)))
    session.commit()
    before = scrape(client)
    # The row is overdue and no worker runs here: the gauge shows the backlog.
    assert value(before, "caseflow_deadlines_overdue") == 1
    assert fire_deadline(session, catalog, row.id).result == "fired"
    after = scrape(client)
    assert value(after, "caseflow_deadline_lag_seconds_count") - value(before, "caseflow_deadline_lag_seconds_count") == 1
    # 7 s late: lands in the (5, 10] bucket, not below.
    assert (value(after, "caseflow_deadline_lag_seconds_bucket", le="5.0")
            == value(before, "caseflow_deadline_lag_seconds_bucket", le="5.0"))
    assert (value(after, "caseflow_deadline_lag_seconds_bucket", le="10.0")
            - value(before, "caseflow_deadline_lag_seconds_bucket", le="10.0")) == 1
    assert value(after, "caseflow_deadlines_overdue") == 0


def test_dead_notifications_and_queue_depth_gauges(client, session, app) -> None:  # type: ignore[no-untyped-def]
    session.add_all([Notification(channel="sms", address="1380000", status="dead"),
                     Notification(channel="sms", address="1380001", status="pending")])
    session.commit()
    from caseflow.extensions import get_queue

    get_queue(app.config["NOTIFY_QUEUE"]).enqueue("caseflow.jobs.notify.deliver", 1)
    samples = scrape(client)
    assert value(samples, "caseflow_notifications_dead") == 1
    assert value(samples, "caseflow_queue_depth", queue=app.config["NOTIFY_QUEUE"], kind="queued") == 1
    assert value(samples, "caseflow_queue_depth", queue=app.config["DEADLINE_QUEUE"], kind="queued") == 0


def test_request_id_echoed_or_made(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/health", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    fresh = client.get("/api/health").headers["X-Request-Id"]
    assert len(fresh) == 32 and fresh != "abc-123"
    # Something that could poison a log line (quotes, braces, spaces) is replaced, not echoed.
    bad = 'x" {"level":"ERROR"}'
    r = client.get("/api/health", headers={"X-Request-Id": bad})
    assert r.headers["X-Request-Id"] != bad and len(r.headers["X-Request-Id"]) == 32


def test_deep_ready_wants_a_live_worker(client, app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import secrets

    from rq import Worker

    from caseflow.extensions import get_queue, get_redis

    queue = f"deep-ready-{secrets.token_hex(4)}"  # no other test's worker serves it
    monkeypatch.setitem(app.config, "DEADLINE_QUEUE", queue)
    assert client.get("/api/ready").status_code == 200
    r = client.get("/api/ready?deep=1")
    assert r.status_code == 503 and r.json["checks"]["workers"].startswith("error")
    worker = Worker([get_queue(queue)], connection=get_redis(), name=f"w-{queue}")
    worker.register_birth()
    try:
        r = client.get("/api/ready?deep=1")
        assert r.status_code == 200 and r.json["checks"]["workers"] == "ok" and r.json["workers_alive"] == 1
    finally:
        worker.register_death()
    assert client.get("/api/ready?deep=1").status_code == 503


def test_json_logs_one_object_per_line_with_request_context(tmp_path) -> None:
    """A real app with CASEFLOW_LOG_FORMAT=json: each stderr line parses and carries the request id."""
    code = (
        "import logging\n"
        "from caseflow import create_app\n"
        "app = create_app({'TESTING': True})\n"
        "@app.get('/boom/<int:case_id>')\n"
        "def boom(case_id):\n"
        "    logging.getLogger('caseflow.test').warning('hello 你好')\n"
        "    return 'ok'\n"
        "r = app.test_client().get('/boom/12', headers={'X-Request-Id': 'rid-1'})\n"
        "assert r.headers['X-Request-Id'] == 'rid-1'\n"
        "logging.getLogger('caseflow.test').info('outside')\n"
    )
    env = {**os.environ, "CASEFLOW_LOG_FORMAT": "json", "CASEFLOW_INSTANCE_PATH": str(tmp_path),
           "CASEFLOW_DATABASE_URL": f"sqlite:///{tmp_path}/x.sqlite3", "CASEFLOW_REDIS_URL": "redis://127.0.0.1:1/0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stderr.splitlines() if line.strip()]
    hello = next(e for e in lines if e["message"] == "hello 你好")
    assert hello["request_id"] == "rid-1" and hello["item"] == "case 12" and hello["level"] == "WARNING"
    assert hello["logger"] == "caseflow.test" and hello["ts"].endswith("+00:00")
    outside = next(e for e in lines if e["message"] == "outside")
    assert outside["request_id"] is None
