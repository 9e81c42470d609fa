"""``/api/admin/<kind>``: areas, departments, categories and people one by one over HTTP, through the
same services as the console; paged lists with ``X-Pagination``; 403 for anyone but an admin."""
from __future__ import annotations

import json

import pytest

from caseflow.security.tokens import issue_token
from caseflow.services.people import authenticate


@pytest.fixture
def admin(session, world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, 'admin', person=world.people['admin'])}"}


def paging(response) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(response.headers["X-Pagination"])


def test_area_lifecycle_over_http(client, admin, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/admin/areas", json={"code": "east", "name": "东片区", "kind": "other"}, headers=admin)
    assert r.status_code == 201 and r.json["kind"] == "other" and r.json["active"] is True
    area_id = r.json["id"]
    r = client.patch(f"/api/admin/areas/{area_id}", json={"kind": "main_urban"}, headers=admin)
    assert r.status_code == 200 and r.json["kind"] == "main_urban" and "30" in r.json["warnings"][0]["en"]
    r = client.post(f"/api/admin/areas/{area_id}/active", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json["active"] is False
    r = client.post(f"/api/admin/areas/{world.other_area.id}/active", json={"active": False}, headers=admin)
    assert r.status_code == 422 and "active" in r.json["errors"] and "G02" in r.json["message"]
    history = client.get(f"/api/admin/areas/{area_id}/history", headers=admin).json
    assert [e["trigger"] for e in history] == ["create_area", "update_area", "deactivate_area"]
    assert history[1]["payload"]["changes"] == {"kind": ["other", "main_urban"]}
    listed = client.get("/api/admin/areas?active=true", headers=admin)
    assert [a["code"] for a in listed.json] == ["main_urban", "other"] and listed.json[1]["grids"] == 1
    assert client.get("/api/admin/areas/999999", headers=admin).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"code": "x y", "name": "甲", "kind": "other"}, "code"),
    ({"code": "main_urban", "name": "甲", "kind": "other"}, "code"),
    ({"code": "x", "name": "甲", "kind": "suburb"}, "kind"),
    ({"code": "x", "kind": "other"}, "name"),
])
def test_bad_input_is_a_422_naming_the_field(client, admin, world, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/admin/areas", json=body, headers=admin)
    assert r.status_code == 422 and field in json.dumps(r.json["errors"])


def test_department_and_category_over_http(client, admin, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/admin/departments", headers=admin, json={
        "code": "PARK", "name": "园林所", "kind": "unit", "working_hours": "08:00-12:00",
        "action_group_name": "园林应急组", "action_group_leader_id": world.people["road_handler"].id})
    assert r.status_code == 201 and r.json["action_group_name"] == "园林应急组"
    dept_id = r.json["id"]
    r = client.patch(f"/api/admin/departments/{dept_id}", json={"working_hours": "nonsense"}, headers=admin)
    assert r.status_code == 422 and "working_hours" in r.json["errors"]
    r = client.post("/api/admin/categories", headers=admin, json={
        "code": "trees", "name": "树木倒伏", "responsible_department_id": dept_id, "default_tier": "complex"})
    assert r.status_code == 201 and r.json["responsible_department_id"] == dept_id and r.json["in_scope"] is True
    r = client.post(f"/api/admin/departments/{dept_id}/active", json={"active": False}, headers=admin)
    assert r.status_code == 422 and "trees" in r.json["message"]  # still responsible for a category
    r = client.patch(f"/api/admin/categories/{world.cat_police.id}", json={"in_scope": True}, headers=admin)
    assert r.status_code == 200 and r.json["in_scope"] is True


def test_people_paged_created_and_password_reset(client, session, admin, world) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/api/admin/people?per_page=5&page=1", headers=admin)
    meta = paging(first)
    assert len(first.json) == 5 and meta["total"] == len(world.people) and meta["next_page"] == 2
    assert "password_hash" not in first.json[0] and first.json[0]["username"] == "admin"  # by username
    second = client.get("/api/admin/people?per_page=5&page=2", headers=admin)
    assert not {p["id"] for p in first.json} & {p["id"] for p in second.json}  # pages do not overlap
    handlers = client.get(f"/api/admin/people?role=handler&department_id={world.sanitation.id}", headers=admin).json
    assert {p["username"] for p in handlers} == {"san_handler", "san_head", "san_group_leader"}
    r = client.post("/api/admin/people", headers=admin, json={
        "username": "zhao.liu", "full_name": "赵六", "roles": ["handler"], "department_id": world.roads.id})
    assert r.status_code == 201 and len(r.json["password"]) >= 12
    person_id = r.json["id"]
    assert authenticate(session, "zhao.liu", r.json["password"]).id == person_id
    assert client.get(f"/api/admin/people/{person_id}", headers=admin).json.get("password") is None  # shown once
    r = client.post(f"/api/admin/people/{person_id}/password", json={"password": "brand-new-pass"}, headers=admin)
    assert r.status_code == 200 and r.json == {"id": person_id, "username": "zhao.liu", "password": None}
    assert authenticate(session, "zhao.liu", "brand-new-pass") is not None
    r = client.patch(f"/api/admin/people/{person_id}", json={"roles": ["handler", "wizard"]}, headers=admin)
    assert r.status_code == 422 and "roles" in r.json["errors"]["json"]  # the schema names it
    r = client.post(f"/api/admin/people/{person_id}/active", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json["active"] is False
    assert authenticate(session, "zhao.liu", "brand-new-pass") is None
    triggers = [e["trigger"] for e in client.get(f"/api/admin/people/{person_id}/history", headers=admin).json]
    assert triggers == ["create_person", "reset_password", "deactivate_person"]


@pytest.mark.parametrize("who", ["dispatcher", "san_handler", "deputy"])
def test_only_admins(client, session, world, who) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {issue_token(session, who, person=world.people[who])}"}
    assert client.get("/api/admin/people", headers=headers).status_code == 403
    r = client.patch(f"/api/admin/areas/{world.main_area.id}", json={"kind": "other"}, headers=headers)
    assert r.status_code == 403
    r = client.post(f"/api/admin/people/{world.people['admin'].id}/password", json={}, headers=headers)
    assert r.status_code == 403
    assert client.get(f"/api/admin/areas/{world.main_area.id}/history", headers=headers).status_code == 403
