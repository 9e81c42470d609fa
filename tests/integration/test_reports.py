"""Period reports: stored, exported as XLSX with the same numbers as the API and the console,
recurring problems, department scores and ranking, and the scheduled generation."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from caseflow.analysis import assessment, recurring, reports, xlsx
from caseflow.analysis.labels import CASE_COLUMNS, SLICES
from caseflow.analysis.periods import parse_period
from caseflow.errors import ValidationFailed
from caseflow.models import Department, StoredReport, utcnow
from caseflow.security.tokens import issue_token

from .analysis_support import Builder, build_month, local

RULES = [("late_reply", -2, None), ("overdue_arrival", -2, None), ("missing_ledger", -1, 1.5), ("rework", -1, None),
         ("rejected_return", -1, None), ("supervised", -0.5, None), ("unsatisfied_callback", -1, None),
         ("closed_on_time", 0.5, None)]


def _auth(session, world, name):  # type: ignore[no-untyped-def]
    return {"Authorization": "Bearer " + issue_token(session, name, person=world.people[name])}


def _configure_rules(session) -> None:  # type: ignore[no-untyped-def]
    for code, points, cap in RULES:
        assessment.save_rule(session, code=code, event=code, points=points, cap=cap)


# --------------------------------------------------------------------------- XLSX = API = console


def test_xlsx_holds_the_api_numbers(client, session, world) -> None:
    build_month(session, world)
    headers = _auth(session, world, "dispatcher")
    r = client.post("/api/reports", json={"kind": "month", "start": "2025-03-15"}, headers=headers)
    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    data = report["data"]
    assert data["title"] == "月通报" and data["period"]["label"] == "2025年3月"
    assert data["cases"]["total"]["closure_rate"] == 0.75

    r = client.get(f"/api/reports/{report['id']}.xlsx", headers=headers)
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames[:2] == [xlsx.SHEET_SUMMARY, xlsx.SHEET_STAGES]

    summary = {row[0]: row[1] for row in wb[xlsx.SHEET_SUMMARY].iter_rows(values_only=True) if row and row[0]}
    for key, zh, _, _ in CASE_COLUMNS:
        assert summary[zh] == data["cases"]["total"][key], key
    assert summary["应急指令·按时到场率"] == data["instructions"]["total"]["arrival_on_time_rate"] == 0.5

    dept = list(wb[SLICES["department"][0]].iter_rows(values_only=True))
    header = list(dept[0])
    by_label = {row[0]: dict(zip(header, row)) for row in dept[1:]}
    for row in data["cases"]["by"]["department"]:
        for key, zh, _, _ in CASE_COLUMNS:
            assert by_label[row["label"]][zh] == row[key], (row["label"], key)
    assert by_label["环卫所"]["结案率"] == 1.0

    stages = {row[0]: row[1:] for row in wb[xlsx.SHEET_STAGES].iter_rows(min_row=2, values_only=True)}
    assert stages["上报→结案"] == (3, 240.0, 240.0)  # 14,400 s = 240 min

    trend = [row for row in wb[xlsx.SHEET_TREND].iter_rows(min_row=2, values_only=True)]
    assert [(t["bucket"], t["reported"], t["closed"]) for t in data["trend"]] == [tuple(t) for t in trend]

    ranking = list(wb[xlsx.SHEET_ASSESSMENT].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[1], row[4]) for row in ranking] == \
        [(x["rank"], x["name"], x["score"]) for x in data["assessment"]["ranking"]]

    # The console page shows the same report with its four charts.
    with client.session_transaction() as s:
        s["person_id"] = world.people["deputy"].id
    page = client.get(f"/reports/{report['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for chart in ("chart-trend", "chart-category", "chart-grid", "chart-hour"):
        assert f'id="{chart}"' in html
    assert "<script" not in html and "style=" not in html  # CSP: no inline script or style
    figure = re.search(r'data-key="closure_rate">([^<]+)<', html)
    assert figure and figure.group(1) == "75.0%"
    bar_values = re.findall(r'class="bar-value">(\d+)<', html.split('id="chart-category"')[1].split("</svg>")[0])
    assert [int(v) for v in bar_values] == [4, 2]  # garbage 4, road 2
    download = client.get(f"/reports/{report['id']}.xlsx")
    assert download.status_code == 200
    assert load_workbook(io.BytesIO(download.data))[xlsx.SHEET_SUMMARY]["A1"].value.startswith("月通报")
    listing = client.get("/reports/")
    assert listing.status_code == 200 and "2025年3月" in listing.get_data(as_text=True)


def test_api_indicators_and_access(client, session, world) -> None:
    build_month(session, world)
    leader = _auth(session, world, "deputy")
    r = client.get("/api/reports/indicators?period=month&start=2025-03&slices=department,hour", headers=leader)
    assert r.status_code == 200
    body = r.get_json()
    assert body["cases"]["total"]["reported"] == 6 and set(body["cases"]["by"]) == {"department", "hour"}
    assert set(body["instructions"]["by"]) == {"department", "hour"}
    r = client.get("/api/reports/indicators?period=month&start=2025-03&channel=patrol", headers=leader)
    assert r.get_json()["cases"]["total"]["reported"] == 2
    bad = client.get("/api/reports/indicators?period=month&start=2025-03&slices=weather", headers=leader)
    assert bad.status_code == 422 and "slices" in bad.get_json()["errors"]
    r = client.get("/api/reports/indicators?period=month&start=2025-03&slices=grid&medians=grid", headers=leader)
    grid = r.get_json()["cases"]["by"]["grid"][0]["stages"]["total"]
    assert grid["median_s"] is not None and grid["n"] > 0
    bad = client.get("/api/reports/indicators?period=month&medians=weather", headers=leader)
    assert bad.status_code == 422 and "medians" in bad.get_json()["errors"]
    bad = client.get("/api/reports/indicators?period=month&start=soon", headers=leader)
    assert bad.status_code == 422 and "start" in bad.get_json()["errors"]
    handler = _auth(session, world, "san_handler")
    assert client.get("/api/reports/indicators?period=month", headers=handler).status_code == 403
    assert client.get("/api/reports/assessment?period=month", headers=handler).status_code == 403
    assert client.get("/api/reports/indicators?period=month").status_code == 401
    with client.session_transaction() as s:
        s["person_id"] = world.people["san_handler"].id
    assert client.get("/reports/").status_code == 403
    admin = _auth(session, world, "admin")
    r = client.put("/api/reports/scoring-rules/late_reply", json={"event": "late_reply", "points": -3},
                   headers=leader)
    assert r.status_code == 403
    r = client.put("/api/reports/scoring-rules/late_reply", json={"event": "late_reply", "points": -3}, headers=admin)
    assert r.status_code == 200 and r.get_json()["points"] == -3
    r = client.put("/api/reports/assessment-config", json={"street_share": 0.25}, headers=admin)
    assert r.status_code == 422 and "street_share" in r.get_json()["errors"]
    r = client.get("/api/reports/assessment?period=month&start=2025-03", headers=leader)
    san = next(x for x in r.get_json()["ranking"] if x["code"] == "SAN")
    assert san["rules"] == [{"code": "late_reply", "event": "late_reply", "count": 1, "points": -3.0}]


# --------------------------------------------------------------------------- recurring problems


def _april(session, world) -> None:  # type: ignore[no-untyped-def]
    b = Builder(session, world)
    g = dict(category=world.cat_garbage, grid=world.grid_main)
    for when in ("2025-04-01 09:10", "2025-04-02 09:20", "2025-04-03 09:05", "2025-04-03 15:00", "2025-04-08 09:40"):
        b.case(reported=when, **g)
    b.case(reported="2025-04-01 09:30", category=world.cat_garbage, grid=world.grid_other)
    for when in ("2025-04-05 10:00", "2025-04-06 10:00", "2025-04-07 10:00"):
        b.case(reported=when, category=world.cat_road, grid=world.grid_other)
    for day in (10, 11, 12, 13):  # voided duplicates do not make a problem recur
        b.case(reported=f"2025-04-{day} 11:00", category=world.cat_road, grid=world.grid_main, state="voided")
    session.commit()


def test_recurring_problems(session, world) -> None:
    _april(session, world)
    month = recurring.recurring_problems(session, parse_period("month", "2025-04"))
    assert [(r["category"], r["grid"], r["count"], r["days"]) for r in month["by_grid"]] == \
        [("暴露垃圾", "一号网格", 5, 4)]
    assert [(r["category"], r["hour"], r["count"], r["days"]) for r in month["by_hour"]] == [("暴露垃圾", 9, 5, 4)]
    week = recurring.recurring_problems(session, parse_period("week", "2025-04-02"))
    assert [(r["grid"], r["count"], r["days"]) for r in week["by_grid"]] == [("一号网格", 4, 3)]
    strict = recurring.recurring_problems(session, parse_period("month", "2025-04"),
                                          threshold=recurring.Threshold(6, 1))
    assert strict["by_grid"] == [] and strict["by_hour"] == []
    data = reports.build_report(session, parse_period("month", "2025-04"))
    assert data["recurring"]["by_grid"][0]["count"] == 5
    assert any("反复发生问题 1 处" in line for line in data["highlights"])


# --------------------------------------------------------------------------- assessment


def test_assessment_scores_ranking_and_street_share(session, world) -> None:
    build_month(session, world)
    _configure_rules(session)
    session.add_all([Department(code="PARK", name="园林所"), Department(code="WATER", name="水务所")])
    session.commit()
    assessment.configure(session, department_id=None, apply_share=False)
    assessment.configure(session, department_id=world.sanitation.id, street_share=0.4, apply_share=True)
    out = assessment.assess(session, parse_period("month", "2025-03"))
    rows = {r["code"]: r for r in out["ranking"]}
    counts = {c["event"]: c["count"] for c in rows["SAN"]["rules"]}
    assert counts == {"late_reply": 1, "overdue_arrival": 1, "missing_ledger": 1, "rework": 1, "rejected_return": 0,
                      "supervised": 1, "unsatisfied_callback": 1, "closed_on_time": 2}
    assert rows["SAN"]["score"] == 93.5 and rows["SAN"]["weighted"] == 37.4 and rows["SAN"]["street_share"] == 0.4
    road_pts = {c["event"]: c["points"] for c in rows["ROAD"]["rules"]}
    assert road_pts["missing_ledger"] == -1.5  # two missing, capped at 1.5 points
    assert rows["ROAD"]["score"] == 94.5 and rows["ROAD"]["weighted"] is None
    # Equal scores share a rank; the next rank skips.
    assert [(r["code"], r["rank"]) for r in out["ranking"]] == [("PARK", 1), ("WATER", 1), ("ROAD", 3), ("SAN", 4)]


def test_default_rules_and_validation(session, world) -> None:
    build_month(session, world)
    assert [r.code for r in assessment.rules(session)] == [r.code for r in assessment.DEFAULT_RULES]
    rows = {r["code"]: r for r in assessment.assess(session, parse_period("month", "2025-03"))["ranking"]}
    assert rows["SAN"]["score"] == 92.5 and rows["ROAD"]["score"] == 94.0
    with pytest.raises(ValidationFailed) as err:
        assessment.configure(session, department_id=None, street_share=0.3)
    assert err.value.field == "street_share"
    with pytest.raises(ValidationFailed) as err:
        assessment.save_rule(session, code="x", event="weather", points=-1)
    assert err.value.field == "event"
    # The floor: a score never drops below min_score.
    assessment.save_rule(session, code="late_reply", event="late_reply", points=-500)
    assessment.configure(session, department_id=world.sanitation.id, min_score=60, apply_share=True)
    rows = {r["code"]: r for r in assessment.assess(session, parse_period("month", "2025-03"))["ranking"]}
    assert rows["SAN"]["score"] == 60.0 and rows["SAN"]["weighted"] == 20.0  # default share 1/3


# --------------------------------------------------------------------------- schedule


def test_generate_due_reports_is_idempotent(session, world) -> None:
    build_month(session, world)
    now = local("2025-04-01 00:30")
    made = reports.generate_due_reports(session, now)
    assert made == ["day:2025-03-31", "week:2025-03-24", "month:2025-03-01", "quarter:2025-01-01", "year:2024-01-01"]
    assert reports.generate_due_reports(session, now) == []
    stored = {(r.kind, r.period_start.isoformat()): r for r in session.query(StoredReport)}
    assert stored[("month", "2025-03-01")].data["cases"]["total"]["closed"] == 3
    assert stored[("quarter", "2025-01-01")].data["cases"]["total"]["reported"] == 7
    assert stored[("day", "2025-03-31")].data["title"] == "日研判"


def test_scheduled_job_through_rq(app, session, world) -> None:
    from rq import SimpleWorker

    from caseflow.extensions import get_queue, get_redis
    from caseflow.jobs.reports import enqueue_due_reports

    queue = get_queue(app.config["REPORTS_QUEUE"])
    now = utcnow()
    assert enqueue_due_reports(session, now) == 1  # no queue given: the reports queue
    assert len(queue.job_ids) == 1 and get_queue(app.config["DEFAULT_QUEUE"]).job_ids == []
    assert enqueue_due_reports(session, now, queue) == 0  # already queued
    SimpleWorker([queue], connection=get_redis(app)).work(burst=True)
    kinds = sorted(r.kind for r in session.query(StoredReport))
    assert kinds == sorted(["day", "week", "month", "quarter", "year"])
    assert enqueue_due_reports(session, now, queue) == 0  # nothing due any more
