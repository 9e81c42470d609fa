"""The case API: intake from machine and people clients, idempotency, list filters and paging,
detail, each step, department scope, and 4xx naming the field."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from caseflow.models import Deadline
from caseflow.security.tokens import issue_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(session, world):  # type: ignore[no-untyped-def]
    return {
        "sensor": issue_token(session, "gateway", client_kind="sensor"),
        "hotline": issue_token(session, "12345", client_kind="hotline"),
        "110": issue_token(session, "110", client_kind="linkage_110"),
        "dispatcher": issue_token(session, "d", person=world.people["dispatcher"]),
        "san": issue_token(session, "s", person=world.people["san_handler"]),
        "road": issue_token(session, "r", person=world.people["road_handler"]),
        "deputy": issue_token(session, "dep", person=world.people["deputy"]),
    }


BODY = {"title": "垃圾满溢", "category": "garbage", "lat": 31.2305, "lon": 121.4705, "address": "和平路 1 号",
        "grid": "G01"}


def post(client, tokens, who, path, body):  # type: ignore[no-untyped-def]
    return client.post(path, json=body, headers=bearer(tokens[who]))


def test_sensor_event_twice_is_one_case(client, tokens) -> None:  # type: ignore[no-untyped-def]
    body = {**BODY, "external_ref": "evt-1", "reporter": {"device_id": "WL-9"}}
    r1 = post(client, tokens, "sensor", "/api/cases", body)
    assert r1.status_code == 201, r1.json
    assert r1.json["channel"] == "sensor" and r1.json["tier"] == "general" and r1.json["state"] == "reported"
    r2 = post(client, tokens, "sensor", "/api/cases", body)
    assert r2.status_code == 200 and r2.json["id"] == r1.json["id"]
    listing = client.get("/api/cases", headers=bearer(tokens["dispatcher"])).json
    assert listing["total"] == 1


@pytest.mark.parametrize("change, field", [
    ({"category": "nope"}, "category_code"),
    ({"lat": 95}, "lat"),
    ({"lon": "east"}, "lon"),
    ({"title": ""}, "title"),
    ({"grid": "G99"}, "grid"),
    ({"channel": "pigeon"}, "channel"),
    ({"colour": "red"}, "colour"),
    ({"category": None}, "category"),
])
def test_bad_intake_names_the_field(client, tokens, change, field) -> None:  # type: ignore[no-untyped-def]
    body = {k: v for k, v in {**BODY, **change}.items() if v is not None}
    r = post(client, tokens, "dispatcher", "/api/cases", body)
    assert r.status_code == 422, r.json
    assert field in str(r.json["errors"]), r.json


def test_machine_client_reports_on_its_own_channel(client, tokens) -> None:  # type: ignore[no-untyped-def]
    r = post(client, tokens, "sensor", "/api/cases", {**BODY, "channel": "hotline"})
    assert r.status_code == 422 and "channel" in r.json["errors"]
    r = post(client, tokens, "110", "/api/cases", {**BODY, "external_ref": "110-1"})
    assert r.status_code == 201 and r.json["channel"] == "linkage_110"
    assert client.post("/api/cases", json=BODY).status_code == 401


def test_walk_detail_scope_and_filters(client, session, tokens, world) -> None:  # type: ignore[no-untyped-def]
    r = post(client, tokens, "hotline", "/api/cases", {**BODY, "external_ref": "12345-1",
                                                       "reporter": {"name": "王", "phone": "139"}})
    cid = r.json["id"]
    assert "register" in client.get(f"/api/cases/{cid}", headers=bearer(tokens["dispatcher"])).json[
        "available_actions"]
    steps = [("dispatcher", "register", {}), ("dispatcher", "dispatch", {"department_id": world.sanitation.id}),
             ("san", "sign", {}),
             ("deputy", "supervise", {"method": "phone", "requirement": "尽快", "due_by":
                                      (datetime.now(timezone.utc) + timedelta(hours=2)).isoformat()}),
             ("san", "request-extension", {"duration": "2h", "reason": "车辆故障"}),
             ("dispatcher", "approve-extension", {"reason": "同意"}),
             ("san", "result", {"result": "已清理", "evidence_refs": ["att-1"]}),
             ("dispatcher", "check-fail", {"reason": "仍有残留"}),
             ("san", "result", {"result": "已清理干净"})]
    for who, action, body in steps:
        r = post(client, tokens, who, f"/api/cases/{cid}/{action}", body)
        assert r.status_code == 200, (action, r.json)
    assert r.json["state"] == "checking" and r.json["record"]["rework_count"] == 1
    # Roads cannot see it; sanitation can; the list is scoped the same way.
    assert client.get(f"/api/cases/{cid}", headers=bearer(tokens["road"])).status_code == 404
    assert post(client, tokens, "road", f"/api/cases/{cid}/result", {"result": "x"}).status_code == 404
    assert client.get("/api/cases", headers=bearer(tokens["road"])).json["total"] == 0
    assert client.get("/api/cases", headers=bearer(tokens["san"])).json["total"] == 1
    detail = client.get(f"/api/cases/{cid}", headers=bearer(tokens["san"])).json
    check = [d for d in detail["deadlines"] if d["key"] == "check"][-1]
    assert check["status"] == "pending" and check["seconds_left"] > 0
    assert detail["supervisions"][0]["method"] == "phone" and detail["supervisions"][0]["due_by"]
    assert detail["reporters"][0]["name"] == "王"
    assert [e["trigger"] for e in detail["ledger"]][-3:] == ["report_result", "check_fail", "report_result"]
    # Filters: tier, category, channel, department, state, overdue; paging.
    post(client, tokens, "hotline", "/api/cases", {**BODY, "category": "road", "external_ref": "12345-2"})
    hdr = bearer(tokens["dispatcher"])
    assert client.get("/api/cases?category=road", headers=hdr).json["total"] == 1
    assert client.get("/api/cases?state=checking&tier=general", headers=hdr).json["items"][0]["id"] == cid
    assert client.get(f"/api/cases?department_id={world.sanitation.id}", headers=hdr).json["total"] == 1
    assert client.get("/api/cases?channel=sensor", headers=hdr).json["total"] == 0
    page = client.get("/api/cases?per_page=1&page=2", headers=hdr).json
    assert page["total"] == 2 and len(page["items"]) == 1 and page["items"][0]["id"] == cid
    assert client.get("/api/cases?overdue=true", headers=hdr).json["total"] == 0
    row = session.execute(select(Deadline).where(Deadline.item_id == cid, Deadline.key == "check",
                                             Deadline.status == "pending")).scalar_one()
    row.due_at = datetime.now(timezone.utc) - timedelta(minutes=1)
    session.commit()
    overdue = client.get("/api/cases?overdue=true", headers=hdr).json
    assert [c["id"] for c in overdue["items"]] == [cid] and overdue["items"][0]["overdue"] is True
    assert client.get("/api/cases?tier=huge", headers=hdr).status_code == 422
    for who, action, body in [("dispatcher", "check-pass", {}), ("dispatcher", "archive", {})]:
        assert post(client, tokens, who, f"/api/cases/{cid}/{action}", body).status_code == 200
    r = post(client, tokens, "dispatcher", f"/api/cases/{cid}/callback", {"grade": 1})
    assert r.status_code == 409 and r.json["errors"]["state"] == "archived"


def test_step_errors_name_the_field(client, tokens, world) -> None:  # type: ignore[no-untyped-def]
    cid = post(client, tokens, "hotline", "/api/cases", {**BODY, "external_ref": "e-1"}).json["id"]
    for action, body, field, code in [
        ("void", {}, "reason", 422),
        ("void", {"reason": "boring"}, "reason", 422),
        ("verify", {}, "question", 422),
        ("change-tier", {"tier": "huge", "reason": "r"}, "tier", 422),
        ("register", {"department": 3}, "department", 422),
        ("merge", {}, "original_id", 422),
    ]:
        r = post(client, tokens, "dispatcher", f"/api/cases/{cid}/{action}", body)
        assert r.status_code == code and field in str(r.json["errors"]), (action, r.json)
    assert post(client, tokens, "dispatcher", f"/api/cases/{cid}/fly", {}).status_code == 404
    assert post(client, tokens, "san", f"/api/cases/{cid}/register", {}).status_code in (403, 404)
    post(client, tokens, "dispatcher", f"/api/cases/{cid}/register", {})
    r = post(client, tokens, "dispatcher", f"/api/cases/{cid}/dispatch", {"department_id": 99999})
    assert r.status_code == 422 and "department_id" in r.json["errors"]
    r = post(client, tokens, "dispatcher", f"/api/cases/{cid}/register", {})
    assert r.status_code == 409


def test_merge_and_change_tier_over_api(client, tokens, world) -> None:  # type: ignore[no-untyped-def]
    a = post(client, tokens, "hotline", "/api/cases", {**BODY, "external_ref": "m-a", "reporter": {"name": "甲"}}).json
    b = post(client, tokens, "sensor", "/api/cases", {**BODY, "external_ref": "m-b"}).json
    assert b["record"]["duplicate_candidates"][0]["id"] == a["id"]
    r = post(client, tokens, "dispatcher", f"/api/cases/{b['id']}/merge", {"original_id": a["id"]})
    assert r.status_code == 200 and r.json["id"] == a["id"]  # the original is returned
    assert client.get(f"/api/cases/{b['id']}", headers=bearer(tokens["dispatcher"])).json["state"] == "voided"
    detail = client.get(f"/api/cases/{a['id']}", headers=bearer(tokens["dispatcher"])).json
    assert [x["channel"] for x in detail["reporters"]] == ["hotline", "sensor"]
    r = post(client, tokens, "dispatcher", f"/api/cases/{a['id']}/change-tier", {"tier": "difficult", "reason": "跨区域"})
    assert r.status_code == 200 and (r.json["tier"], r.json["workflow"]) == ("difficult", "case_difficult")
