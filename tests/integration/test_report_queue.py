"""Report jobs run on their own queue (``REPORTS_QUEUE``), which ``caseflow worker`` does not serve by
default: a worker busy with a yearly report (about a minute over a million cases) would fire no
deadline meanwhile. The CLI runs are real ``caseflow worker --burst`` processes on the test
database and Redis."""
from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import select

from caseflow.analysis import report_requests
from caseflow.analysis.periods import parse_period
from caseflow.extensions import get_queue
from caseflow.jobs.reports import enqueue_due_reports, reports_queue
from caseflow.models import StoredReport, utcnow

OTHER_QUEUES = ("DEADLINE_QUEUE", "DEFAULT_QUEUE", "NOTIFY_QUEUE")


def _status(session, report_id: int) -> str:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.execute(select(StoredReport.status).where(StoredReport.id == report_id)).scalar_one()


def _worker(app, *args: str) -> str:  # type: ignore[no-untyped-def]
    """``caseflow worker --burst --no-sweeper *args`` against the test database and queues; its output."""
    env = {**os.environ, "CASEFLOW_DATABASE_URL": app.config["DATABASE_URL"],
           "CASEFLOW_REDIS_URL": app.config["REDIS_URL"], "CASEFLOW_INSTANCE_PATH": app.instance_path}
    for key in (*OTHER_QUEUES, "REPORTS_QUEUE"):
        env[f"CASEFLOW_{key}"] = app.config[key]
    exe = os.path.join(os.path.dirname(sys.executable), "caseflow")
    proc = subprocess.run([exe, "worker", "--burst", "--no-sweeper", *args], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def test_on_demand_and_scheduled_reports_go_to_the_reports_queue(app, session, world) -> None:
    assert app.config["REPORTS_QUEUE"] not in {app.config[k] for k in OTHER_QUEUES}
    asked = report_requests.request_report(session, parse_period("year", "2025"), synchronous=False)
    assert asked.enqueued
    queue = reports_queue()
    assert queue.name == app.config["REPORTS_QUEUE"]
    assert queue.job_ids == [report_requests.job_id("year", asked.row.period_start)]
    assert enqueue_due_reports(session, utcnow()) == 1  # the sweeper's step, no queue given
    assert len(queue.job_ids) == 2
    assert queue.fetch_job(queue.job_ids[1]).func_name == "caseflow.jobs.reports.generate_due"
    for key in OTHER_QUEUES:
        assert get_queue(app.config[key]).job_ids == [], key


def test_default_worker_leaves_reports_to_the_report_worker(app, session, world) -> None:
    asked = report_requests.request_report(session, parse_period("quarter", "2025-01"), synchronous=False)
    assert asked.enqueued and _status(session, asked.row.id) == "pending"
    session.rollback()  # SQLite: no open transaction while the worker processes write

    out = _worker(app)  # no --queues: what `caseflow worker` and every caseflow-worker@ serve
    served = ", ".join(app.config[k] for k in OTHER_QUEUES)
    assert f" on {served} (pid " in out, out
    assert app.config["REPORTS_QUEUE"] not in out
    assert _status(session, asked.row.id) == "pending"
    assert reports_queue().job_ids == [report_requests.job_id("quarter", asked.row.period_start)]

    out = _worker(app, "--queues", "reports")  # the logical name, as `caseflow up` and deploy/ give it
    assert f" on {app.config['REPORTS_QUEUE']} (pid " in out, out
    assert _status(session, asked.row.id) == "ready"
    assert reports_queue().job_ids == []
