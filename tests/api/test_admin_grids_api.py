"""``/api/admin/grids``: grids one at a time over HTTP (list, create, change, deactivate, history),
through the same service as the console; 422 naming the field; 403 for anyone but an admin."""
from __future__ import annotations

import json

import pytest

from caseflow.security.tokens import issue_token

SQUARE = {"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.02, 31.0], [121.02, 31.01], [121.0, 31.01],
                                              [121.0, 31.0]]]}


@pytest.fixture
def admin(session, world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, 'admin', person=world.people['admin'])}"}


def test_grid_lifecycle_over_http(client, admin, world) -> None:  # type: ignore[no-untyped-def]
    leader = world.people["san_handler"]
    r = client.post("/api/admin/grids", headers=admin, json={
        "code": "G03", "name": "三号网格", "area_id": world.main_area.id, "leader_id": leader.id, "shape": SQUARE})
    assert r.status_code == 201, r.json
    grid = r.json
    assert (grid["area_code"], grid["area_kind"], grid["leader_id"], grid["active"]) == (
        "main_urban", "main_urban", leader.id, True)
    assert grid["shape"] == SQUARE and grid["centre"] == [121.01, 31.005]
    r = client.patch(f"/api/admin/grids/{grid['id']}", json={"area_id": world.other_area.id, "shape": None},
                     headers=admin)
    assert r.status_code == 200 and r.json["area_kind"] == "other" and r.json["shape"] is None
    assert r.json["centre"] is None and "60-minute" in r.json["warnings"][0]["en"]
    r = client.post(f"/api/admin/grids/{grid['id']}/active", json={"active": False}, headers=admin)
    assert r.status_code == 200 and r.json["active"] is False
    history = client.get(f"/api/admin/grids/{grid['id']}/history", headers=admin).json
    assert [e["trigger"] for e in history] == ["create_grid", "update_grid", "deactivate_grid"]
    assert history[1]["payload"]["changes"]["area_id"] == [world.main_area.id, world.other_area.id]
    listed = client.get("/api/admin/grids?active=true", headers=admin)
    assert [g["code"] for g in listed.json] == ["G01", "G02"] and json.loads(listed.headers["X-Pagination"])["total"] == 2
    by_area = client.get(f"/api/admin/grids?area_id={world.other_area.id}", headers=admin).json
    assert [g["code"] for g in by_area] == ["G02", "G03"]
    assert client.get(f"/api/admin/grids/{grid['id']}", headers=admin).json["code"] == "G03"
    assert client.get("/api/admin/grids/999999", headers=admin).status_code == 404


@pytest.mark.parametrize("body, field", [
    ({"code": "G01", "name": "甲", "area_id": "AREA"}, "code"),
    ({"code": "G9", "name": "甲"}, "area_id"),
    ({"code": "G9", "name": "甲", "area_id": 999999}, "area_id"),
    ({"code": "G9", "name": "甲", "area_id": "AREA", "leader_id": 999999}, "leader_id"),
    ({"code": "G9", "name": "甲", "area_id": "AREA", "shape": {"type": "Polygon", "coordinates": [[[1, 2]]]}}, "shape"),
    ({"code": "G9", "name": "甲", "area_id": "AREA", "shape": "a square"}, "shape"),
])
def test_bad_grid_input_is_a_422_naming_the_field(client, admin, world, body, field) -> None:  # type: ignore[no-untyped-def]
    body = {k: world.main_area.id if v == "AREA" else v for k, v in body.items()}
    r = client.post("/api/admin/grids", json=body, headers=admin)
    assert r.status_code == 422 and field in json.dumps(r.json["errors"]), r.json


def test_grids_are_for_administrators_only(client, session, world) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(session, "disp", person=world.people["dispatcher"])
    hdr = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/admin/grids", headers=hdr).status_code == 403
    r = client.patch(f"/api/admin/grids/{world.grid_main.id}", json={"name": "改名"}, headers=hdr)
    assert r.status_code == 403
    assert client.post(f"/api/admin/grids/{world.grid_main.id}/active", json={"active": False},
                       headers=hdr).status_code == 403
    session.expire_all()
    assert world.grid_main.name == "一号网格" and world.grid_main.active is True


def test_a_case_on_a_deactivated_grid_is_refused_over_http(client, session, admin, world) -> None:  # type: ignore[no-untyped-def]
    client.post(f"/api/admin/grids/{world.grid_main.id}/active", json={"active": False}, headers=admin)
    hotline = {"Authorization": f"Bearer {issue_token(session, '12345', client_kind='hotline')}"}
    r = client.post("/api/cases", headers=hotline, json={"title": "垃圾满溢", "category": "garbage",
                                                          "address": "和平路 1 号", "grid": "G01"})
    assert r.status_code == 422 and "grid_id" in r.json["errors"] and "G01" in r.json["message"]
    r = client.post("/api/cases", headers=hotline, json={"title": "垃圾满溢", "category": "garbage",
                                                          "address": "和平路 1 号", "grid": "G02"})
    assert r.status_code == 201
