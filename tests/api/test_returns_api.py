"""The return-request API: ask, decide, scope, 4xx naming the field, the report and the reassignment."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from caseflow.models import Category, Deadline, LedgerEntry
from caseflow.security.tokens import issue_token
from caseflow.services.cases import handling, intake, review


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(session, world):  # type: ignore[no-untyped-def]
    return {name: issue_token(session, name, person=world.people[person]) for name, person in [
        ("dispatcher", "dispatcher"), ("san", "san_handler"), ("road", "road_handler"), ("deputy", "deputy"),
        ("admin", "admin")]}


@pytest.fixture
def case_id(session, catalog, world) -> int:  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="垃圾",
                            category_code="garbage", address="和平路 5 号", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    return case.id


def test_ask_and_approve_over_http(client, session, tokens, world, case_id) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/returns", json={"case_id": case_id, "reason": "属道路设施", "basis": "市政设施管养分工",
                                          "suggested_department_id": world.roads.id}, headers=bearer(tokens["san"]))
    assert r.status_code == 201, r.json
    rid = r.json["id"]
    assert r.json["state"] == "requested" and r.json["state_label"] == "待审核" and r.json["basis_kind"] == "free_text"
    # The other department neither sees it nor may decide it.
    assert client.get(f"/api/returns/{rid}", headers=bearer(tokens["road"])).status_code == 404
    assert client.get("/api/returns", headers=bearer(tokens["road"])).json == []
    assert [x["id"] for x in client.get("/api/returns?state=requested", headers=bearer(tokens["san"])).json] == [rid]
    assert client.post(f"/api/returns/{rid}/approve", json={}, headers=bearer(tokens["san"])).status_code == 403
    r = client.post(f"/api/returns/{rid}/approve", json={}, headers=bearer(tokens["dispatcher"]))
    assert r.status_code == 200 and r.json["state"] == "approved" and r.json["to_department_id"] == world.roads.id
    detail = client.get(f"/api/cases/{case_id}", headers=bearer(tokens["road"])).json
    assert detail["department_id"] == world.roads.id and detail["record"]["returned_by"][0]["outcome"] == "returned"
    assert [d["status"] for d in detail["deadlines"] if d["key"] == "sign"] == ["cancelled", "pending"]
    # The report shows the return; an admin moves the category to the department it went to.
    report = client.get("/api/returns/report", headers=bearer(tokens["admin"])).json
    assert [(x["category_code"], x["from_department_id"], x["to_department_id"], x["count"]) for x in report] == [
        ("garbage", world.sanitation.id, world.roads.id, 1)]
    assert client.get("/api/returns/report", headers=bearer(tokens["san"])).status_code == 403
    cat = world.cat_garbage.id
    assert client.post(f"/api/categories/{cat}/responsible-department", json={"department_id": world.roads.id},
                       headers=bearer(tokens["dispatcher"])).status_code == 403
    r = client.post(f"/api/categories/{cat}/responsible-department", json={"department_id": world.roads.id},
                    headers=bearer(tokens["admin"]))
    assert r.status_code == 200 and r.json["responsible_department_id"] == world.roads.id
    session.expire_all()
    assert session.get(Category, cat).responsible_department_id == world.roads.id
    assert session.execute(select(LedgerEntry.trigger).where(LedgerEntry.item_type == "category")).scalars().all() \
        == ["reassign_department"]
    rows = client.get("/api/returns/indicators", headers=bearer(tokens["deputy"])).json
    san = [x for x in rows if x["department_id"] == world.sanitation.id][0]
    assert (san["requests"], san["approved"], san["approval_rate"]) == (1, 1, 1.0)


@pytest.mark.parametrize("body, field", [
    ({"reason": "非本所职责", "basis": ""}, "basis"),
    ({"reason": "   ", "basis": "职责清单"}, "reason"),
    ({"reason": "非本所职责", "basis": "x", "suggested_department_id": 999}, "suggested_department_id"),
    ({"reason": "非本所职责", "basis": "", "basis_ref_id": 999}, "basis_ref_id"),
    ({"basis": "职责清单"}, "reason"),
])
def test_bad_requests_name_the_field(client, tokens, case_id, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/returns", json={"case_id": case_id, **body}, headers=bearer(tokens["san"]))
    errors = r.json["errors"]
    assert r.status_code == 422 and field in {**errors, **errors.get("json", {})}, r.json


def test_window_closed_and_rejection_over_http(client, session, tokens, world, case_id) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/returns", json={"case_id": case_id, "reason": "非本所", "basis": "职责清单"},
                    headers=bearer(tokens["san"]))
    rid = r.json["id"]
    sign = session.execute(select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case_id,
                                                  Deadline.key == "sign")).scalar_one()
    assert sign.status == "paused"
    assert client.post(f"/api/returns/{rid}/reject", json={}, headers=bearer(tokens["dispatcher"])).status_code == 422
    r = client.post(f"/api/returns/{rid}/reject", json={"reason": "属环卫所"}, headers=bearer(tokens["dispatcher"]))
    assert r.status_code == 200 and r.json["state"] == "rejected" and r.json["decision_reason"] == "属环卫所"
    session.expire_all()
    assert session.get(Deadline, sign.id).status == "pending"
    # Move the dispatch back past the window: the request is refused, naming the window.
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id,
                                                      LedgerEntry.trigger == "dispatch")).scalar_one()
    entry.at = datetime.now(timezone.utc) - timedelta(days=20)
    session.commit()
    r = client.post("/api/returns", json={"case_id": case_id, "reason": "非本所", "basis": "新的依据"},
                    headers=bearer(tokens["san"]))
    assert r.status_code == 422 and "window" in r.json["errors"] and "申请退单期限已过" in r.json["message"]


def test_approve_with_an_opinion_required_in_leader_review(client, session, tokens, world, case_id) -> None:  # type: ignore[no-untyped-def]
    """The approval takes an opinion: optional for the dispatcher, required for the leader's review."""
    ask = {"case_id": case_id, "reason": "属道路设施", "suggested_department_id": world.roads.id}
    first = client.post("/api/returns", json={**ask, "basis": "职责清单"}, headers=bearer(tokens["san"])).json["id"]
    client.post(f"/api/returns/{first}/reject", json={"reason": "属环卫所"}, headers=bearer(tokens["dispatcher"]))
    r = client.post("/api/returns", json={**ask, "basis": "区政府管养分工通知"}, headers=bearer(tokens["san"]))
    assert r.status_code == 201 and r.json["state"] == "leader_review", r.json
    rid = r.json["id"]
    # No opinion, a blank one, or one too long: 422 naming opinion, and nothing changes.
    for body in ({}, {"opinion": "  "}, {"opinion": None}, {"opinion": "意" * 4001}):
        r = client.post(f"/api/returns/{rid}/approve", json=body, headers=bearer(tokens["deputy"]))
        errors = r.json.get("errors", {})
        assert r.status_code == 422 and "opinion" in {**errors, **errors.get("json", {})}, (body, r.json)
    assert client.get(f"/api/returns/{rid}", headers=bearer(tokens["deputy"])).json["state"] == "leader_review"
    # The dispatcher still may not decide it (403 before the opinion is looked at).
    r = client.post(f"/api/returns/{rid}/approve", json={"opinion": "同意"}, headers=bearer(tokens["dispatcher"]))
    assert r.status_code == 403
    r = client.post(f"/api/returns/{rid}/approve", json={"opinion": " 依据分工通知，改派市政养护所 "},
                    headers=bearer(tokens["deputy"]))
    assert r.status_code == 200 and r.json["state"] == "approved", r.json
    assert r.json["decision_reason"] == "依据分工通知，改派市政养护所" and r.json["to_department_id"] == world.roads.id
    # The schema documents the field.
    spec = client.get("/api/openapi.json").json
    approve = spec["components"]["schemas"]["Approve"]["properties"]["opinion"]
    assert "leader_review" in approve["description"] and approve.get("maxLength") == 4000


def test_dispatcher_opinion_is_optional_and_kept(client, session, tokens, world, case_id) -> None:  # type: ignore[no-untyped-def]
    rid = client.post("/api/returns", json={"case_id": case_id, "reason": "属道路设施", "basis": "职责清单"},
                      headers=bearer(tokens["san"])).json["id"]
    r = client.post(f"/api/returns/{rid}/approve", json={"department_id": world.roads.id, "opinion": "同意，改派"},
                    headers=bearer(tokens["dispatcher"]))
    assert r.status_code == 200 and r.json["decision_reason"] == "同意，改派"
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "return_request",
                                                      LedgerEntry.item_id == rid,
                                                      LedgerEntry.trigger == "approve_return")).scalar_one()
    assert entry.payload.get("reason") == "同意，改派"


def test_regulations_list_is_maintained_by_admins(client, tokens, case_id) -> None:  # type: ignore[no-untyped-def]
    body = {"code": "REG-1", "title": "城市道路管理条例", "kind": "regulation", "text": "第二十条"}
    assert client.post("/api/regulations", json=body, headers=bearer(tokens["san"])).status_code == 403
    r = client.post("/api/regulations", json=body, headers=bearer(tokens["admin"]))
    assert r.status_code == 201 and r.json["active"] is True
    reg_id = r.json["id"]
    assert client.post("/api/regulations", json=body, headers=bearer(tokens["admin"])).status_code == 409
    assert [x["code"] for x in client.get("/api/regulations", headers=bearer(tokens["san"])).json] == ["REG-1"]
    r = client.post("/api/returns", json={"case_id": case_id, "reason": "属道路", "basis_ref_id": reg_id},
                    headers=bearer(tokens["san"]))
    assert r.status_code == 201 and r.json["basis_kind"] == "regulation" and r.json["basis_ref_title"] == "城市道路管理条例"
    r = client.post(f"/api/regulations/{reg_id}/active", json={"active": False}, headers=bearer(tokens["admin"]))
    assert r.status_code == 200 and client.get("/api/regulations", headers=bearer(tokens["san"])).json == []


def test_admin_console_report_and_one_click_reassign(client, session, catalog, world, case_id) -> None:  # type: ignore[no-untyped-def]
    from caseflow.services import returns as svc

    rr = svc.request_return(session, catalog, case_id, world.actor("san_handler"), "属道路", "管养分工")
    svc.approve(session, catalog, rr.id, world.actor("dispatcher"), department_id=world.roads.id)
    with client.session_transaction() as s:
        s["person_id"] = world.people["dispatcher"].id
    assert client.get("/admin/returns").status_code == 403  # admins only
    with client.session_transaction() as s:
        s["person_id"] = world.people["admin"].id
    page = client.get("/admin/returns").get_data(as_text=True)
    assert 'data-category="garbage"' in page and "改由市政养护所负责" in page
    assert 'title="“暴露垃圾”本期由环卫所转至市政养护所 1 次"' in page
    r = client.post("/admin/returns/reassign", data={"category_id": world.cat_garbage.id,
                                                    "department_id": world.roads.id}, follow_redirects=True)
    assert "已调整类别的责任部门" in r.get_data(as_text=True)
    session.expire_all()
    assert session.get(Category, world.cat_garbage.id).responsible_department_id == world.roads.id
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "category")).scalar_one()
    assert entry.actor_id == world.people["admin"].id and entry.payload["to_department_id"] == world.roads.id
    # Now the returns point at the responsible department: no button is offered any more.
    assert "改由市政养护所负责" not in client.get("/admin/returns").get_data(as_text=True)
    assert "end must come after start" in client.get("/admin/returns?start=2025-03-02&end=2025-03-01").get_data(
        as_text=True)
