"""The duty-watch API: rota, log, roll call, handover checklist, emergency mode; errors name the field."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g

from caseflow.security.tokens import issue_token
from tests.integration.duty_support import ordinary, today


@pytest.fixture
def client(client):  # type: ignore[no-untyped-def]
    """The test client shares the test's app context, so the cached caller on ``g`` is cleared
    before every request (several people act in one test)."""

    class Fresh:
        def __getattr__(self, method):  # type: ignore[no-untyped-def]
            def call(*args, **kwargs):  # type: ignore[no-untyped-def]
                g.pop("actor", None)
                return getattr(client, method)(*args, **kwargs)

            return call

    return Fresh()


def bearer(session, world, name):  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, name, person=world.people[name])}"}


def test_duty_watch_over_http(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    admin, lead = bearer(session, world, "admin"), bearer(session, world, "duty_lead")
    lead2, officer = bearer(session, world, "duty_lead2"), bearer(session, world, "duty_officer")
    principal = bearer(session, world, "principal")
    p = world.people
    ordinary(session, world, today() - timedelta(days=1), 2)
    r = client.post("/api/duty/rota", headers=admin, json={
        "center_id": world.street.id, "first_day": (today() - timedelta(days=1)).isoformat(), "days": 2,
        "leads": [p["duty_lead"].id, p["duty_lead2"].id], "officers": [p["duty_officer"].id]})
    assert r.status_code == 201, r.json
    first, second = r.json[0], r.json[1]
    assert {a["role"] for a in first["assignments"]} == {"duty_lead", "duty_officer"}
    r = client.post(f"/api/items/duty_shift/{first['id']}/transitions", json={"trigger": "start"}, headers=lead)
    assert r.status_code == 200, r.json

    r = client.post("/api/duty/log", headers=officer, json={"type": "visitor", "asked": "咨询"})
    assert r.status_code == 422 and "explained" in r.json["errors"]
    r = client.post("/api/duty/log", headers=officer, json={"type": "roll_call", "summary": "点名"})
    assert r.status_code == 201 and r.json["shift_id"] == first["id"]
    roll_id = r.json["id"]
    r = client.post(f"/api/duty/log/{roll_id}/answer", headers=bearer(session, world, "liaison"))
    assert r.status_code == 403
    r = client.get("/api/duty/log", headers=bearer(session, world, "liaison"))
    assert r.status_code == 403

    r = client.post(f"/api/duty/shifts/{first['id']}/handover", headers=lead)
    assert r.status_code == 201, r.json
    h = r.json
    roll_item = next(i for i in h["items"] if i["kind"] == "roll_call")
    assert client.post(f"/api/duty/handovers/{h['id']}/submit", headers=lead).json["state"] == "reviewing"
    r = client.post(f"/api/duty/handovers/{h['id']}/items/{roll_item['id']}/dispute", headers=lead2, json={})
    assert r.status_code == 422 and "note" in r.json["errors"]
    r = client.post(f"/api/duty/handovers/{h['id']}/items/{roll_item['id']}/dispute", headers=lead2,
                    json={"note": "点名为何未应答?"})
    assert r.status_code == 200 and r.json["status"] == "disputed"
    r = client.post(f"/api/duty/handovers/{h['id']}/complete", headers=lead2)
    assert r.status_code == 409 and "all_handover_items_accepted" in r.json["message"]
    r = client.post(f"/api/duty/log/{roll_id}/answer", headers=officer)
    assert r.status_code == 200 and r.json["answered_at"]
    r = client.post(f"/api/duty/handovers/{h['id']}/notes", headers=lead,
                    json={"note": "已补应答", "item_id": roll_item["id"]})
    assert r.status_code == 200
    for item in client.get(f"/api/duty/handovers/{h['id']}", headers=lead2).json["items"]:
        r = client.post(f"/api/duty/handovers/{h['id']}/items/{item['id']}/accept", headers=lead2, json={})
        assert r.status_code == 200, r.json
    r = client.post(f"/api/duty/handovers/{h['id']}/complete", headers=lead2)
    assert r.status_code == 200 and r.json["state"] == "completed"

    r = client.post("/api/duty/emergencies", headers=principal,
                    json={"center_id": world.street.id, "kind": "flood", "reason": "x", "scope": "y"})
    assert r.status_code == 422 and "kind" in r.json["errors"]["json"]
    r = client.post("/api/duty/emergencies", headers=principal,
                    json={"center_id": world.street.id, "kind": "snow_ice", "reason": "暴雪", "scope": "全街道"})
    assert r.status_code == 201
    r = client.get(f"/api/duty/gaps?center_id={world.street.id}&days_ahead=1", headers=principal)
    assert r.status_code == 200 and any("under_minimum" in g["reasons"] for g in r.json)
    period = client.get(f"/api/duty/emergencies?center_id={world.street.id}", headers=principal).json[0]
    r = client.post(f"/api/duty/emergencies/{period['id']}/end", headers=principal, json={"summary": ""})
    assert r.status_code == 422 and "summary" in r.json["errors"]
    r = client.post(f"/api/duty/emergencies/{period['id']}/end", headers=principal, json={"summary": "平稳度过"})
    assert r.status_code == 200 and r.json["ended_at"]


def test_special_periods_center_rules_and_leaders_on_shift_over_http(client, session, world) -> None:  # type: ignore[no-untyped-def]
    admin, principal = bearer(session, world, "admin"), bearer(session, world, "principal")
    officer = bearer(session, world, "duty_officer")
    p, street = world.people, world.street.id
    day = today() + timedelta(days=5)
    ordinary(session, world, day, 2)
    period_in = {"center_id": street, "kind": "major_event", "name": "进博会", "first_day": day.isoformat(),
                 "last_day": day.isoformat()}
    assert client.post("/api/duty/special-periods", headers=officer, json=period_in).status_code == 403
    r = client.post("/api/duty/special-periods", headers=principal, json={**period_in, "last_day": "2020-01-01"})
    assert r.status_code == 422 and "last_day" in r.json["errors"]
    r = client.post("/api/duty/special-periods", headers=principal, json=period_in)
    assert r.status_code == 201 and r.json["name"] == "进博会" and r.json["declared_by_id"] == p["principal"].id
    period_id = r.json["id"]

    rota_in = {"center_id": street, "first_day": day.isoformat(), "days": 2, "leads": [p["duty_lead"].id],
               "officers": [p["duty_officer"].id]}
    r = client.post("/api/duty/rota", headers=admin, json=rota_in)
    assert r.status_code == 422, r.json
    assert r.json["message"].startswith(f"{day} 班次 [进博会 (重大活动)] needs a leader on shift (带班领导)")
    assert r.json["errors"]["leaders"] == [r.json["message"]]
    assert [s["day"] for s in r.json["errors"]["shifts"]] == [day.isoformat()]
    r = client.post("/api/duty/rota", headers=admin, json={**rota_in, "leaders": [p["deputy"].id]})
    assert r.status_code == 201, r.json
    assert r.json[0]["leader_on_shift_id"] == p["deputy"].id and r.json[1]["leader_on_shift_id"] is None
    assert r.json[0]["needs"] == {"minimum": 3, "needs_leader": True, "special": "进博会 (重大活动)",
                                  "kinds": ["major_event"]}
    assert r.json[1]["needs"] == {"minimum": 2, "needs_leader": False, "special": "", "kinds": []}

    r = client.get(f"/api/duty/special-periods?center_id={street}", headers=officer)
    assert r.status_code == 200 and [x["id"] for x in r.json] == [period_id]
    r = client.patch(f"/api/duty/centers/{street}/rules", headers=principal, json={"min_staff_special": 5})
    assert r.status_code == 403
    r = client.patch(f"/api/duty/centers/{street}/rules", headers=admin, json={"min_staff": 0})
    assert r.status_code == 422 and "min_staff" in r.json["errors"]["json"]
    r = client.patch(f"/api/duty/centers/{street}/rules", headers=admin, json={"min_staff_special": 5})
    assert r.status_code == 200 and r.json["min_staff_special"] == 5 and r.json["own"]["min_staff_special"] == 5
    assert r.json["min_staff_holiday"] == 3 and r.json["own"]["min_staff_holiday"] is None
    assert client.get("/api/duty/centers/9999/rules", headers=admin).status_code == 404
    r = client.get(f"/api/duty/gaps?center_id={street}&days_ahead=7", headers=principal)
    gap = next(g for g in r.json if g["starts_at"].startswith(day.isoformat()))
    assert (gap["reasons"], gap["minimum"], gap["special"], gap["needs_leader"]) == (
        ["under_minimum"], 5, "进博会 (重大活动)", True)

    r = client.post(f"/api/duty/special-periods/{period_id}/cancel", headers=principal, json={})
    assert r.status_code == 422 and "reason" in r.json["errors"]["json"]
    r = client.post(f"/api/duty/special-periods/{period_id}/cancel", headers=principal, json={"reason": "活动延期"})
    assert r.status_code == 200 and r.json["cancelled_at"] and r.json["cancel_reason"] == "活动延期"
    assert client.get(f"/api/duty/special-periods?center_id={street}", headers=officer).json == []
