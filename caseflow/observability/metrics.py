"""Prometheus metrics at ``/metrics``.

Counted in-process (cheap, on the hot path):

* ``caseflow_http_requests_total{endpoint,method,status}`` and
  ``caseflow_http_request_duration_seconds{endpoint,method}`` — every request, by Flask
  endpoint name (bounded cardinality: never the raw path).
* ``caseflow_transitions_total{workflow,trigger}`` — counted after the commit (the transition
  service adds :func:`count_transition` as an effect, and effects only run once committed).
* ``caseflow_deadline_lag_seconds`` — ``fired_at - due_at`` of each fired deadline.

Collected at scrape time (a query each; they describe the shared state, not this process):

* ``caseflow_queue_depth{queue,kind}`` — RQ jobs queued / scheduled per queue.
* ``caseflow_deadlines_overdue`` — pending deadlines already past due (the sweeper's backlog).
* ``caseflow_notifications_dead`` — outbox rows that gave up (``dead``).
* ``caseflow_workers_alive`` — RQ workers registered (heartbeat not expired).

Multi-process (gunicorn, several RQ workers): set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory writable by every process *before* they start. prometheus_client then keeps the
counters in memory-mapped files there and ``/metrics`` merges them (``MultiProcessCollector``);
``deploy/gunicorn.conf.py`` marks dead workers' files in ``child_exit``. Empty the directory
on each service start (the systemd unit does). Without the variable each process reports its
own counters, which is right for a single process and wrong behind a multi-worker gunicorn.
"""
from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric

log = logging.getLogger(__name__)

REQUESTS = Counter("caseflow_http_requests", "HTTP requests by endpoint, method and status",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("caseflow_http_request_duration_seconds", "HTTP request latency",
                    ["endpoint", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
TRANSITIONS = Counter("caseflow_transitions", "Committed workflow transitions", ["workflow", "trigger"])
DEADLINE_LAG = Histogram("caseflow_deadline_lag_seconds", "Deadline fired_at - due_at",
                         buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600))


def count_transition(workflow: str, trigger: str) -> None:
    """One committed transition (called as an after-commit effect)."""
    TRANSITIONS.labels(workflow=workflow, trigger=trigger).inc()


def observe_deadline_lag(seconds: float) -> None:
    """A deadline fired ``seconds`` after it fell due."""
    DEADLINE_LAG.observe(max(0.0, seconds))


def multiprocess_dir() -> str | None:
    """The shared metrics directory when multi-process mode is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


class StateCollector:
    """Gauges read from the database and Redis at scrape time."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def collect(self) -> Iterator[Metric]:
        """Yield the live gauges; a source that is down is skipped (and logged)."""
        yield from self._queues()
        yield from self._database()

    def _queues(self) -> Iterable[Metric]:
        from rq import Worker

        from caseflow.extensions import get_queue, get_redis

        depth = GaugeMetricFamily("caseflow_queue_depth", "RQ jobs waiting per queue", labels=["queue", "kind"])
        alive = GaugeMetricFamily("caseflow_workers_alive", "RQ workers with a live heartbeat")
        try:
            conn = get_redis(self.app)
            for key in ("DEADLINE_QUEUE", "DEFAULT_QUEUE", "NOTIFY_QUEUE", "REPORTS_QUEUE"):
                name = self.app.config[key]
                queue = get_queue(name, self.app)
                depth.add_metric([name, "queued"], queue.count)
                depth.add_metric([name, "scheduled"], queue.scheduled_job_registry.count)
                depth.add_metric([name, "failed"], queue.failed_job_registry.count)
            alive.add_metric([], Worker.count(connection=conn))
        except Exception as exc:  # a scrape reports what it can
            log.warning("metrics: Redis unavailable: %s", exc)
            return []
        return [depth, alive]

    def _database(self) -> Iterable[Metric]:
        from sqlalchemy import func, select

        from caseflow.extensions import db
        from caseflow.models import Deadline, Notification, utcnow

        overdue = GaugeMetricFamily("caseflow_deadlines_overdue", "Pending deadlines past their due time")
        dead = GaugeMetricFamily("caseflow_notifications_dead", "Outbox notifications that gave up")
        session = db.session()
        try:
            overdue.add_metric([], session.execute(select(func.count()).select_from(Deadline).where(
                Deadline.status == "pending", Deadline.due_at < utcnow())).scalar_one())
            dead.add_metric([], session.execute(select(func.count()).select_from(Notification).where(
                Notification.status == "dead")).scalar_one())
        except Exception as exc:
            log.warning("metrics: database unavailable: %s", exc)
            return []
        finally:
            session.rollback()
        return [overdue, dead]


class _Combined:
    """Process (or merged multi-process) metrics followed by the live gauges."""

    def __init__(self, *collectors: Any) -> None:
        self.collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for collector in self.collectors:
            yield from collector.collect()


def render(app: Flask) -> bytes:
    """The exposition text for one scrape."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        base: Any = CollectorRegistry()
        multiprocess.MultiProcessCollector(base)
    else:
        base = REGISTRY
    return generate_latest(_Combined(base, StateCollector(app)))  # type: ignore[arg-type]


def init_metrics(app: Flask) -> None:
    """Time every request and serve ``/metrics`` (unless ``METRICS_ENABLED`` is false)."""
    if not app.config.get("METRICS_ENABLED", True):
        return

    def _start_timer() -> None:
        g.caseflow_started = time.perf_counter()

    # First hook, so the time includes the other hooks (CSRF, sign-in) and refused requests count.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)

    @app.after_request
    def _observe(response: Response) -> Response:
        started = g.pop("caseflow_started", None)
        if started is not None and request.endpoint != "caseflow_metrics":
            endpoint = request.endpoint or "unmatched"
            REQUESTS.labels(endpoint=endpoint, method=request.method, status=str(response.status_code)).inc()
            LATENCY.labels(endpoint=endpoint, method=request.method).observe(time.perf_counter() - started)
        return response

    def metrics_view() -> Response:
        """Prometheus text format; scrape from the internal network only (see deploy/nginx)."""
        return Response(render(app), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "caseflow_metrics", metrics_view, methods=["GET"])
