"""The generic item API: auth, one error format, scope, conflicts."""
from __future__ import annotations

from caseflow.models import Instruction, utcnow
from caseflow.security.tokens import issue_token
from caseflow.services import transition


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def setup_instruction(session, catalog, world):  # type: ignore[no-untyped-def]
    ins = Instruction(number="110-API-1", received_at=utcnow(), category_id=world.cat_garbage.id)
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    return ins


def test_requires_authentication(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/items/instruction/1")
    assert r.status_code == 401
    assert "authentication required" in r.json["message"]
    r = client.get("/api/items/instruction/1", headers=bearer("cf_wrong"))
    assert r.status_code == 401 and "invalid or revoked" in r.json["message"]


def test_fire_and_read_ledger(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = setup_instruction(session, catalog, world)
    token = issue_token(session, "liaison phone", person=world.people["liaison"])
    r = client.get(f"/api/items/instruction/{ins.id}", headers=bearer(token))
    assert r.status_code == 200 and r.json["state"] == "received" and "sign" in r.json["available_triggers"]
    r = client.post(f"/api/items/instruction/{ins.id}/transitions", json={"trigger": "sign"}, headers=bearer(token))
    assert r.status_code == 200, r.json
    assert r.json["state"] == "signed" and r.json["state_label"] == "已签收"
    r = client.get(f"/api/items/instruction/{ins.id}/ledger", headers=bearer(token))
    assert [e["trigger"] for e in r.json] == ["create", "sign"]


def test_errors_share_one_format(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = setup_instruction(session, catalog, world)
    liaison = issue_token(session, "t1", person=world.people["liaison"])
    dispatcher = issue_token(session, "t2", person=world.people["dispatcher"])
    url = f"/api/items/instruction/{ins.id}/transitions"
    r = client.post(url, json={"trigger": "sign"}, headers=bearer(dispatcher))
    assert r.status_code == 403 and r.json["status"] == "forbidden"
    r = client.post(url, json={"trigger": "report_to_110"}, headers=bearer(liaison))
    assert r.status_code == 409 and "'received'" in r.json["message"]
    r = client.post(url, json={"trigger": "nope"}, headers=bearer(liaison))
    assert r.status_code == 400 and "trigger" in r.json["errors"]
    r = client.post(url, json={"data": {}}, headers=bearer(liaison))
    assert r.status_code == 422 and "trigger" in r.json["errors"]["json"]
    client.post(url, json={"trigger": "sign"}, headers=bearer(liaison))
    r = client.post(url, json={"trigger": "dispatch", "data": {}}, headers=bearer(liaison))
    assert r.status_code == 422 and r.json["errors"] == {"department_id": ["department_id is required for dispatch"]}
    assert session.get(Instruction, ins.id).state == "signed"


def test_other_department_gets_404(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = setup_instruction(session, catalog, world)
    liaison = world.actor("liaison")
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=liaison)
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=liaison,
                    data={"department_id": world.sanitation.id})
    road = issue_token(session, "road", person=world.people["road_handler"])
    san = issue_token(session, "san", person=world.people["san_handler"])
    for path in (f"/api/items/instruction/{ins.id}", f"/api/items/instruction/{ins.id}/ledger"):
        assert client.get(path, headers=bearer(road)).status_code == 404
        assert client.get(path, headers=bearer(san)).status_code == 200
    r = client.post(f"/api/items/instruction/{ins.id}/transitions", json={"trigger": "arrive", "data": {"situation": "x"}},
                    headers=bearer(road))
    assert r.status_code == 404


def test_machine_client_token(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = setup_instruction(session, catalog, world)
    token = issue_token(session, "110 center", client_kind="linkage_110")
    r = client.post(f"/api/items/instruction/{ins.id}/transitions", json={"trigger": "sign"}, headers=bearer(token))
    assert r.status_code == 403  # the 110 center may not sign for the bureau


def test_openapi_and_health(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/openapi.json").json
    assert "/api/items/{item_type}/{item_id}/transitions" in spec["paths"]
    assert client.get("/api/health").json == {"status": "ok"}
    ready = client.get("/api/ready")
    assert ready.status_code == 200 and ready.json["checks"] == {"database": "ok", "redis": "ok"}
