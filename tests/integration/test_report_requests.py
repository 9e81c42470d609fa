"""Reports on demand built by an RQ job: the API's 202 and Location, the console's "生成中…" page
that reloads itself, one job however often a pending period is asked for, a failed job's error on
the page and in the API, a lost job ("stalled") asked for again, and the schedule taking over a
failed or long-stale request. Jobs run through a real RQ ``SimpleWorker`` on the test Redis."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import redis
from openpyxl import load_workbook
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from caseflow.analysis import report_requests, reports, xlsx
from caseflow.analysis.periods import parse_period
from caseflow.extensions import get_queue, get_redis
from caseflow.models import StoredReport
from caseflow.security.tokens import issue_token

from .analysis_support import build_month, local


def _auth(session, world, name):  # type: ignore[no-untyped-def]
    return {"Authorization": "Bearer " + issue_token(session, name, person=world.people[name])}


def _sign_in(client, world, name: str = "dispatcher") -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as s:
        s["person_id"] = world.people[name].id


def _queue(app) -> Queue:  # type: ignore[no-untyped-def]
    return get_queue(app.config["REPORTS_QUEUE"])


def _work(app) -> None:  # type: ignore[no-untyped-def]
    SimpleWorker([_queue(app)], connection=get_redis(app)).work(burst=True)


def _row(session, report_id: int) -> StoredReport:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.execute(select(StoredReport).where(StoredReport.id == report_id)).scalar_one()


# --------------------------------------------------------------------------- API


def test_api_year_is_accepted_then_built_by_the_worker(app, client, session, world) -> None:
    build_month(session, world)
    headers, deputy_id = _auth(session, world, "deputy"), world.people["deputy"].id
    r = client.post("/api/reports", json={"kind": "year", "start": "2025"}, headers=headers)
    assert r.status_code == 202, r.get_json()
    body = r.get_json()
    assert body["status"] == "pending" and body["data"] == {} and body["error"] is None
    assert body["kind"] == "year" and body["period_start"] == "2025-01-01" and body["requested_at"]
    assert r.headers["Location"].endswith(f"/api/reports/{body['id']}")
    queue = _queue(app)
    assert queue.job_ids == [report_requests.job_id("year", parse_period("year", "2025").first_day)]

    # Asked again while pending: the same row, no second job.
    again = client.post("/api/reports", json={"kind": "year", "start": "2025-06-30"}, headers=headers)
    assert again.status_code == 202 and again.get_json()["id"] == body["id"]
    assert len(queue.job_ids) == 1
    one = client.get(r.headers["Location"], headers=headers).get_json()
    assert one["status"] == "pending"
    listed = client.get("/api/reports", headers=headers).get_json()
    assert [(x["id"], x["status"]) for x in listed] == [(body["id"], "pending")]
    not_yet = client.get(f"/api/reports/{body['id']}.xlsx", headers=headers)
    assert not_yet.status_code == 409 and "not generated yet (pending)" in not_yet.get_json()["message"]

    _work(app)
    done = client.get(r.headers["Location"], headers=headers).get_json()
    assert done["status"] == "ready" and done["error"] is None and done["generated_by_id"] == deputy_id
    assert done["data"]["title"] == "年总结" and done["data"]["cases"]["total"]["reported"] == 7
    assert queue.job_ids == []
    book = load_workbook(io.BytesIO(client.get(f"/api/reports/{body['id']}.xlsx", headers=headers).data))
    assert book[xlsx.SHEET_SUMMARY]["A1"].value.startswith("年总结")

    # Regenerating a built report keeps its data on show while the job runs.
    r = client.post("/api/reports", json={"kind": "year", "start": "2025"}, headers=headers)
    assert r.status_code == 202 and r.get_json()["status"] == "pending"
    assert r.get_json()["data"]["cases"]["total"]["reported"] == 7
    _work(app)
    assert client.get(r.headers["Location"], headers=headers).get_json()["status"] == "ready"


def test_api_month_is_still_built_in_the_request(app, client, session, world, monkeypatch) -> None:
    build_month(session, world)
    headers = _auth(session, world, "dispatcher")
    r = client.post("/api/reports", json={"kind": "month", "start": "2025-03"}, headers=headers)
    assert r.status_code == 201 and r.get_json()["status"] == "ready"
    assert r.get_json()["data"]["cases"]["total"]["reported"] == 6
    assert _queue(app).job_ids == []
    # REPORTS_SYNC_KINDS empty: every kind goes to the job.
    monkeypatch.setitem(app.config, "REPORTS_SYNC_KINDS", "")
    r = client.post("/api/reports", json={"kind": "day", "start": "2025-03-10"}, headers=headers)
    assert r.status_code == 202 and len(_queue(app).job_ids) == 1
    bad = client.post("/api/reports", json={"kind": "decade"}, headers=headers)
    assert bad.status_code == 422 and "kind" in bad.get_json()["errors"]["json"]
    assert client.post("/api/reports", json={"kind": "year"}, headers=_auth(session, world, "san_handler")) \
        .status_code == 403


# --------------------------------------------------------------------------- console


def test_console_quarter_waits_for_the_job(app, client, session, world) -> None:
    build_month(session, world)
    _sign_in(client, world)
    r = client.post("/reports/generate", data={"kind": "quarter", "start": "2025-03-12"})
    assert r.status_code == 302
    row = session.execute(select(StoredReport)).scalar_one()
    assert (row.kind, row.period_start.isoformat(), row.status) == ("quarter", "2025-01-01", "pending")
    assert r.headers["Location"].endswith(f"/reports/{row.id}")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="5">' in page
    assert 'data-status="pending"' in page and "生成中…" in page and "已转入后台生成" in page
    assert "<h1>季分析 <span class=\"count\">" in page and "<script" not in page and "style=" not in page
    listing = client.get("/reports/").get_data(as_text=True)
    assert f'data-report="{row.id}" data-status="pending"' in listing and "生成中…" in listing
    assert client.get(f"/reports/{row.id}.xlsx").status_code == 302  # nothing to export yet

    again = client.post("/reports/generate", data={"kind": "quarter", "start": "2025-02-01"}, follow_redirects=True)
    assert "该期间的报告已在生成中" in again.get_data(as_text=True)
    assert len(_queue(app).job_ids) == 1

    # English: the same page without Chinese UI text.
    en = client.get(f"/reports/{row.id}?lang=en").get_data(as_text=True)
    assert "Generating…" in en and "<h1>Quarterly analysis" in en and "this page reloads every 5 s" in en

    _work(app)
    done = client.get(f"/reports/{row.id}?lang=zh").get_data(as_text=True)
    assert "http-equiv" not in done and 'id="report-status"' not in done and 'id="chart-trend"' in done
    assert "本期上报 7 件" in done
    assert 'data-status="ready"' in client.get("/reports/").get_data(as_text=True)
    assert client.get(f"/reports/{row.id}.xlsx").status_code == 200

    # Regenerating: the earlier report stays on show, with the notice, until the job is done.
    redo = client.post("/reports/generate", data={"kind": "quarter", "start": "2025-01-01"}, follow_redirects=True)
    html = redo.get_data(as_text=True)
    assert 'data-status="pending"' in html and 'id="chart-trend"' in html and "本期上报 7 件" in html
    assert '<meta http-equiv="refresh" content="5">' in html
    _work(app)
    assert 'id="report-status"' not in client.get(f"/reports/{row.id}").get_data(as_text=True)


# --------------------------------------------------------------------------- failure


def test_failed_job_shows_its_error_and_can_be_asked_again(app, client, session, world, monkeypatch) -> None:
    build_month(session, world)
    headers = _auth(session, world, "admin")
    _sign_in(client, world, "deputy")  # the worker closes the session: world's rows are detached after it

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("statement timeout while counting cases")

    monkeypatch.setattr(report_requests, "build_report", broken)
    asked = report_requests.request_report(session, parse_period("year", "2025"), synchronous=False)
    assert asked.enqueued and asked.pending
    report_id = asked.row.id
    _work(app)  # the job raises: RQ records the failure, the row says why
    row = _row(session, report_id)
    assert row.status == "failed" and row.error == "RuntimeError: statement timeout while counting cases"
    assert report_requests.job_id("year", row.period_start) in FailedJobRegistry(queue=_queue(app)).get_job_ids()

    api = client.get(f"/api/reports/{report_id}", headers=headers).get_json()
    assert api["status"] == "failed" and api["error"].startswith("RuntimeError: statement timeout")
    page = client.get(f"/reports/{report_id}").get_data(as_text=True)
    assert 'data-status="failed"' in page and "报告生成失败" in page and "http-equiv" not in page
    assert re.search(r'<pre id="report-error">RuntimeError: statement timeout while counting cases</pre>', page)
    assert 'id="retry-form"' in page and 'name="start" value="2025-01-01"' in page

    # Asked again (the retry form), the job runs anew and succeeds.
    monkeypatch.undo()
    r = client.post("/reports/generate", data={"kind": "year", "start": "2025-01-01"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/reports/{report_id}")
    assert _row(session, report_id).status == "pending" and _row(session, report_id).error is None
    _work(app)
    row = _row(session, report_id)
    assert row.status == "ready" and row.data["cases"]["total"]["reported"] == 7


def test_abandoned_job_is_marked_failed_by_the_callback(app, session, world) -> None:
    from rq.exceptions import AbandonedJobError

    from caseflow.jobs.reports import report_job_failed

    asked = report_requests.request_report(session, parse_period("quarter", "2025-01"), synchronous=False)
    job = _queue(app).fetch_job(report_requests.job_id("quarter", asked.row.period_start))
    assert job is not None and job.args == (asked.row.id,)
    assert job.failure_callback is report_job_failed
    # What RQ's registry cleanup does when a work-horse died mid-job.
    report_job_failed(job, get_redis(app), AbandonedJobError, AbandonedJobError(), None)
    row = _row(session, asked.row.id)
    assert row.status == "failed" and row.error.startswith("AbandonedJobError (the worker stopped")
    # The callback never overwrites a finished report.
    reports.store_report(session, parse_period("quarter", "2025-01"))
    report_job_failed(job, get_redis(app), RuntimeError, RuntimeError("late"), None)
    assert _row(session, asked.row.id).status == "ready"


def test_unreachable_queue_fails_the_request_visibly(session, world) -> None:
    dead = Queue("nowhere", connection=redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=1))
    asked = report_requests.request_report(session, parse_period("year", "2025"), synchronous=False, queue=dead)
    assert not asked.enqueued and not asked.pending
    row = _row(session, asked.row.id)
    assert row.status == "failed" and row.error.startswith("could not queue the generation: ConnectionError")


# --------------------------------------------------------------------------- lost jobs, the schedule


def test_lost_job_is_stalled_and_asking_again_enqueues_once(app, session, world) -> None:
    period = parse_period("year", "2025")
    queue = _queue(app)
    asked = report_requests.request_report(session, period, synchronous=False)
    row = _row(session, asked.row.id)
    later = row.requested_at + timedelta(seconds=60)  # past the enqueue grace: Redis decides
    assert report_requests.state(row, queue, later) == "pending"
    again = report_requests.request_report(session, period, synchronous=False, now=later)
    assert not again.enqueued and again.row.id == row.id and len(queue.job_ids) == 1

    queue.fetch_job(report_requests.job_id("year", period.first_day)).delete()  # Redis lost it
    row = _row(session, row.id)
    assert report_requests.state(row, queue, later) == "stalled"
    renewed = report_requests.request_report(session, period, synchronous=False, now=later)
    assert renewed.enqueued and renewed.row.id == row.id and len(queue.job_ids) == 1
    assert report_requests.request_report(session, period, synchronous=False, now=later).enqueued is False
    _work(app)
    assert report_requests.state(_row(session, row.id), queue) == "ready"


@pytest.mark.parametrize(("status", "age_h", "due"), [("pending", 0.1, False), ("pending", 2, True),
                                                      ("failed", 0.1, True), ("ready", 0.1, False)])
def test_schedule_takes_over_failed_and_stale_requests(session, world, status, age_h, due) -> None:
    now = local("2026-01-01 00:30")
    year = parse_period("year", "2025")
    session.add(StoredReport(kind="year", period_start=year.first_day, start_at=year.start_at, end_at=year.end_at,
                             data={}, status=status, requested_at=now - timedelta(hours=age_h)))
    session.commit()
    kinds = [p.kind for p in reports.due_periods(session, now)]
    assert ("year" in kinds) is due
