"""Reports on demand from the command line and the API (list, one report, scoring rules, the
street-share config), and the console list's filter and missing reports."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.analysis import assessment, reports
from caseflow.analysis.periods import parse_period
from caseflow.models import StoredReport
from caseflow.security.tokens import issue_token

from .analysis_support import build_month


def _auth(session, world, name):  # type: ignore[no-untyped-def]
    return {"Authorization": "Bearer " + issue_token(session, name, person=world.people[name])}


def test_cli_generate_and_generate_due(app, session, world) -> None:
    build_month(session, world)
    runner = app.test_cli_runner()
    r = runner.invoke(args=["reports", "generate", "month", "2025-03"])
    assert r.exit_code == 0, r.output
    row = session.execute(select(StoredReport)).scalar_one()
    assert r.output.startswith(f"report {row.id}: month 2025-03-01 in ")
    assert row.data["cases"]["total"]["reported"] == 6
    r = runner.invoke(args=["reports", "generate", "decade"])
    assert r.exit_code == 2 and "decade" in r.output
    r = runner.invoke(args=["reports", "generate-due"])
    assert r.exit_code == 0 and r.output.startswith("reports: day:")
    session.expire_all()
    assert sorted({x.kind for x in session.execute(select(StoredReport)).scalars()}) == \
        ["day", "month", "quarter", "week", "year"]
    assert runner.invoke(args=["reports", "generate-due"]).output.strip() == "reports: none due"


def test_api_list_one_report_and_rules(client, session, world) -> None:
    build_month(session, world)
    march = reports.store_report(session, parse_period("month", "2025-03"))
    week = reports.store_report(session, parse_period("week", "2025-03-10"))
    leader, admin = _auth(session, world, "deputy"), _auth(session, world, "admin")
    r = client.get("/api/reports", headers=leader)
    assert r.status_code == 200
    # Newest period first: the week of 10 March starts after the month.
    assert [(x["id"], x["kind"]) for x in r.get_json()] == [(week.id, "week"), (march.id, "month")]
    assert [x["id"] for x in client.get("/api/reports?kind=week", headers=leader).get_json()] == [week.id]
    one = client.get(f"/api/reports/{march.id}", headers=leader).get_json()
    assert one["data"]["cases"]["total"]["closure_rate"] == 0.75 and one["data"]["highlights"]
    assert client.get("/api/reports/999999", headers=leader).status_code == 404
    assert client.get("/api/reports", headers=_auth(session, world, "san_handler")).status_code == 403

    rules = client.get("/api/reports/scoring-rules", headers=leader).get_json()
    assert [x["code"] for x in rules["rules"]] == [x.code for x in assessment.DEFAULT_RULES]
    assert set(rules["events"]) == set(assessment.EVENTS)
    # The street's share, configured for one department, weighs its score.
    r = client.put("/api/reports/assessment-config", headers=admin,
                   json={"department_id": world.sanitation.id, "street_share": 0.5})
    assert r.status_code == 200 and r.get_json()["street_share"] == 0.5
    ranking = client.get("/api/reports/assessment?period=month&start=2025-03", headers=leader).get_json()["ranking"]
    san = next(x for x in ranking if x["code"] == "SAN")
    assert (san["score"], san["street_share"], san["weighted"]) == (92.5, 0.5, 46.25)


def test_console_list_filter_and_missing_report(client, session, world) -> None:
    build_month(session, world)
    reports.store_report(session, parse_period("month", "2025-03"))
    reports.store_report(session, parse_period("day", "2025-03-10"))
    with client.session_transaction() as s:
        s["person_id"] = world.people["deputy"].id
    days = client.get("/reports/?kind=day").get_data(as_text=True)
    assert "2025-03-10" in days and "2025年3月" not in days
    assert "2025年3月" in client.get("/reports/").get_data(as_text=True)
    assert client.get("/reports/999999").status_code == 404
    assert client.get("/reports/999999.xlsx").status_code == 404
