"""POST /api/cases/<id>/public: a dispatcher shows or hides a case on Open311 with a reason
(``caseflow.services.open311.set_public``); another department's handler gets 404, the holding
one 403, an archived case 409; a retry with the same ``Idempotency-Key`` acts once. And the case
view offers ``reclassify`` exactly when the reclassify service would allow it."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.models import LedgerEntry
from caseflow.security.tokens import issue_token
from caseflow.services.cases import closing, handling, intake, review
from tests.api.test_open311 import BASE


def bearer(session, name: str, **kw) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, name, **kw)}"}


def _case(session, catalog, world, state: str = "reported"):  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), title="垃圾满溢",
                            category_code="garbage", address="和平路 1 号", grid_id=world.grid_main.id)
    disp = world.actor("dispatcher")
    if state in ("registered", "handling", "archived"):
        review.register(session, catalog, case.id, actor=disp)
    if state in ("handling", "archived"):
        handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
        handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    if state == "archived":
        handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="已清理")
        closing.check_pass(session, catalog, case.id, actor=disp)
        closing.archive(session, catalog, case.id, actor=disp)
    return case


def _public_numbers(client) -> set[str]:  # type: ignore[no-untyped-def]
    return {r["service_request_id"] for r in client.get(f"{BASE}/requests.json").json}


def _set_public_entries(session, case_id: int) -> list[tuple[dict, str]]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return [(e.payload, e.comment) for e in session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id, LedgerEntry.trigger == "set_public")
        .order_by(LedgerEntry.seq)).scalars()]


def test_a_dispatcher_shows_and_hides_a_case(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world)
    disp = bearer(session, "d", person=world.people["dispatcher"])
    assert _public_numbers(client) == set()  # a patrol's case is not public by itself
    r = client.post(f"/api/cases/{case.id}/public", json={"public": True, "reason": "公开处置进度"}, headers=disp)
    assert r.status_code == 200, r.json
    assert r.json["record"]["public"] is True and r.json["state"] == "reported"
    assert _public_numbers(client) == {case.number}
    r = client.post(f"/api/cases/{case.id}/public", json={"public": False, "reason": "含个人信息"}, headers=disp)
    assert r.status_code == 200 and r.json["record"]["public"] is False
    assert _public_numbers(client) == set()
    assert client.get(f"{BASE}/requests/{case.number}.json").status_code == 404
    assert _set_public_entries(session, case.id) == [
        ({"public": True, "before": False}, "公开处置进度"), ({"public": False, "before": True}, "含个人信息")]


def test_bad_input_scope_and_archived_cases(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "handling")  # held by sanitation
    disp = bearer(session, "d", person=world.people["dispatcher"])
    r = client.post(f"/api/cases/{case.id}/public", json={"reason": "x"}, headers=disp)
    assert r.status_code == 422 and "public" in r.json["errors"]["json"]
    r = client.post(f"/api/cases/{case.id}/public", json={"public": "maybe"}, headers=disp)
    assert r.status_code == 422 and "public" in r.json["errors"]["json"]
    r = client.post(f"/api/cases/{case.id}/public", json={"public": True, "reason": "x" * 2001}, headers=disp)
    assert r.status_code == 422 and "reason" in r.json["errors"]["json"]
    road = bearer(session, "r", person=world.people["road_handler"])
    assert client.post(f"/api/cases/{case.id}/public", json={"public": True}, headers=road).status_code == 404
    san = bearer(session, "s", person=world.people["san_handler"])
    assert client.post(f"/api/cases/{case.id}/public", json={"public": True}, headers=san).status_code == 403
    assert client.post("/api/cases/99999/public", json={"public": True}, headers=disp).status_code == 404
    assert _set_public_entries(session, case.id) == []

    archived = _case(session, catalog, world, "archived")
    r = client.post(f"/api/cases/{archived.id}/public", json={"public": True}, headers=disp)
    assert r.status_code == 409, r.json
    assert _set_public_entries(session, archived.id) == []


def test_a_retry_with_the_same_key_acts_once(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world)
    hdr = {**bearer(session, "d", person=world.people["dispatcher"]), "Idempotency-Key": "pub-1"}
    r1 = client.post(f"/api/cases/{case.id}/public", json={"public": True, "reason": "公开"}, headers=hdr)
    r2 = client.post(f"/api/cases/{case.id}/public", json={"public": True, "reason": "公开"}, headers=hdr)
    assert r1.status_code == r2.status_code == 200
    assert r2.headers["Idempotent-Replayed"] == "true" and r2.json == r1.json
    assert len(_set_public_entries(session, case.id)) == 1
    other = client.post(f"/api/cases/{case.id}/public", json={"public": False}, headers=hdr)
    assert other.status_code == 422 and "Idempotency-Key" in other.json["errors"]


def test_public_is_documented(client) -> None:  # type: ignore[no-untyped-def]
    op = client.get("/api/openapi.json").json["paths"]["/api/cases/{case_id}/public"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert {"200", "403", "404", "409", "422"} <= set(op["responses"])
    assert body == {"$ref": "#/components/schemas/CasePublic"}


def test_reclassify_is_offered_when_the_service_allows_it(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    disp = bearer(session, "d", person=world.people["dispatcher"])
    san = bearer(session, "s", person=world.people["san_handler"])
    reported = _case(session, catalog, world)
    registered = _case(session, catalog, world, "registered")
    handling_ = _case(session, catalog, world, "handling")

    def actions(case_id: int, headers: dict[str, str]) -> list[str]:
        r = client.get(f"/api/cases/{case_id}", headers=headers)
        assert r.status_code == 200, r.json
        return r.json["available_actions"]

    assert "reclassify" in actions(reported.id, disp) and "register" in actions(reported.id, disp)
    assert "reclassify" in actions(registered.id, disp) and "dispatch" in actions(registered.id, disp)
    assert "reclassify" not in actions(handling_.id, disp)  # dispatched: the category holds
    assert "reclassify" not in actions(reported.id, san)  # the reporter is no dispatcher
    listed = {c["id"]: c["available_actions"] for c in client.get("/api/cases", headers=disp).json["items"]}
    assert ["reclassify" in listed[c.id] for c in (reported, registered, handling_)] == [True, True, False]
    # What the view offers, the endpoint does.
    r = client.post(f"/api/cases/{registered.id}/reclassify", json={"category": "road"}, headers=disp)
    assert r.status_code == 200 and "reclassify" in r.json["available_actions"]
    assert client.post(f"/api/cases/{handling_.id}/reclassify", json={"category": "road"},
                       headers=disp).status_code == 409
