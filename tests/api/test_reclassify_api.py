"""POST /api/cases/<id>/reclassify: category and grid corrected before dispatch, by id or code."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.models import LedgerEntry
from caseflow.security.tokens import issue_token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_reclassify_by_code_then_refused_after_dispatch(client, session, world) -> None:  # type: ignore[no-untyped-def]
    disp = bearer(issue_token(session, "d", person=world.people["dispatcher"]))
    hotline = bearer(issue_token(session, "12345", client_kind="hotline"))
    case = client.post("/api/cases", json={"title": "坑洞", "category": "garbage", "grid": "G01",
                                           "external_ref": "t-1"}, headers=hotline).json
    r = client.post(f"/api/cases/{case['id']}/reclassify", json={"category": "road", "grid": "G02",
                                                                 "reason": "类别有误"}, headers=disp)
    assert r.status_code == 200, r.json
    assert (r.json["category"], r.json["grid"], r.json["area_kind"], r.json["state"]) == (
        "road", "G02", "other", "reported")
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_id == case["id"], LedgerEntry.trigger == "reclassify")).scalar_one()
    assert entry.payload["reason"] == "类别有误"
    # The same body again (a retry) changes nothing.
    again = client.post(f"/api/cases/{case['id']}/reclassify", json={"category": "road"}, headers=disp)
    assert again.status_code == 200
    assert len(session.execute(select(LedgerEntry.id).where(
        LedgerEntry.item_id == case["id"], LedgerEntry.trigger == "reclassify")).all()) == 1
    bad = client.post(f"/api/cases/{case['id']}/reclassify", json={"category": "nope"}, headers=disp)
    assert bad.status_code == 422 and "category" in bad.json["errors"]
    bad = client.post(f"/api/cases/{case['id']}/reclassify", json={"grid_id": 9999}, headers=disp)
    assert bad.status_code == 422 and "grid_id" in bad.json["errors"]
    bad = client.post(f"/api/cases/{case['id']}/reclassify", json={}, headers=disp)
    assert bad.status_code == 422 and "category_id" in bad.json["errors"]
    # A handler may not (403), and after dispatch nobody may (409).
    san = bearer(issue_token(session, "s", person=world.people["san_handler"]))
    assert client.post(f"/api/cases/{case['id']}/reclassify", json={"category": "garbage"},
                       headers=san).status_code in (403, 404)
    client.post(f"/api/cases/{case['id']}/register", json={}, headers=disp)
    client.post(f"/api/cases/{case['id']}/dispatch", json={"department_id": world.roads.id}, headers=disp)
    late = client.post(f"/api/cases/{case['id']}/reclassify", json={"category": "garbage"}, headers=disp)
    assert late.status_code == 409 and late.json["errors"]["state"] == "dispatched"


def test_reclassify_is_documented(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/openapi.json").json
    op = spec["paths"]["/api/cases/{case_id}/reclassify"]["post"]
    assert "requestBody" in op and "200" in op["responses"]
