"""Which queues a worker serves: deadline workers never take report jobs, and ``caseflow up``
starts a second worker that serves only the reports queue."""
from __future__ import annotations

from flask import Flask

from caseflow.cli import run
from caseflow.cli.worker import DEFAULT_WORKER_QUEUES, resolve_queues, worker_command
from caseflow.config import DefaultConfig


def _app(**overrides: str) -> Flask:
    app = Flask(__name__)
    app.config.from_object(DefaultConfig)
    app.config.update(overrides)
    return app


def test_default_worker_queues_exclude_reports() -> None:
    assert DefaultConfig.REPORTS_QUEUE == "reports"
    queues = {p.name: p for p in worker_command.params}["queues"]
    assert queues.default is None  # no --queues: resolve_queues' default applies
    assert resolve_queues(_app(), queues.default) == ["deadlines", "default", "notify"]
    assert DEFAULT_WORKER_QUEUES == "deadlines,default,notify"
    renamed = _app(DEADLINE_QUEUE="d1", DEFAULT_QUEUE="x1", NOTIFY_QUEUE="n1", REPORTS_QUEUE="r1")
    assert resolve_queues(renamed, None) == ["d1", "x1", "n1"]


def test_reports_is_a_logical_queue_name() -> None:
    assert resolve_queues(_app(), "reports") == ["reports"]
    assert resolve_queues(_app(REPORTS_QUEUE="reports-blue"), " reports ") == ["reports-blue"]
    assert resolve_queues(_app(REPORTS_QUEUE="r1"), "deadlines,reports,other") == ["deadlines", "r1", "other"]


def test_up_starts_a_deadline_worker_and_a_report_worker() -> None:
    workers = dict(run.WORKERS)
    assert list(workers) == ["worker", "reports worker"]
    assert workers["worker"] == ()  # the default queues, with the sweeper
    assert workers["reports worker"] == ("--queues", "reports", "--no-sweeper")
