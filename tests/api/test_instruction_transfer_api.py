"""The instruction API's transfer request (申请移交): the unit asks with a reason and a basis, the
liaison transfers, explains to 110 or rejects; errors name the field; another unit gets 404."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.models import Instruction, LedgerEntry
from caseflow.security.tokens import issue_token
from caseflow.services import instructions as svc

from .test_instructions_api import bearer


def _dispatched(session, catalog, world) -> Instruction:  # type: ignore[no-untyped-def]
    item, _ = svc.receive(session, catalog, actor=world.actor("liaison"), number="110-T-1", category="garbage",
                          grid="G01", description="垃圾堆放")
    svc.sign(session, catalog, item.id, actor=world.actor("liaison"))
    svc.dispatch(session, catalog, item.id, actor=world.actor("liaison"), department_id=world.sanitation.id)
    return item


def _tokens(session, world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {name: issue_token(session, name, person=world.people[name])
            for name in ("san_handler", "road_handler", "liaison")}


def test_request_and_reject_over_http(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    tok = _tokens(session, world)
    url = f"/api/instructions/{item.id}"
    view = client.get(url, headers=bearer(tok["san_handler"])).json
    assert "request-transfer" in view["available_actions"]
    assert "reject-transfer" not in view["available_actions"]

    r = client.post(f"{url}/request-transfer", json={"reason": "非本单位职责"}, headers=bearer(tok["san_handler"]))
    assert r.status_code == 422 and "basis" in r.json["errors"], r.json
    r = client.post(f"{url}/request-transfer", json={"basis": "职责清单"}, headers=bearer(tok["san_handler"]))
    assert r.status_code == 422 and "reason" in r.json["errors"], r.json
    r = client.post(f"{url}/request-transfer", json={"reason": "x", "basis": "y", "kind": "perhaps"},
                    headers=bearer(tok["san_handler"]))
    assert r.status_code == 422 and "kind" in r.json["errors"], r.json
    # Another unit's handler: not found, and nothing written.
    r = client.post(f"{url}/request-transfer", json={"reason": "x", "basis": "y"}, headers=bearer(tok["road_handler"]))
    assert r.status_code == 404

    r = client.post(f"{url}/request-transfer", headers=bearer(tok["san_handler"]),
                    json={"reason": "路面塌陷属道路养护", "basis": "职责清单第 3 条",
                          "suggested_department_id": world.roads.id})
    assert r.status_code == 200, r.json
    req = r.json["record"]["transfer_requests"][-1]
    assert (req["state"], req["suggested_department_id"], req["basis"]) == ("open", world.roads.id, "职责清单第 3 条")
    assert r.json["state"] == "dispatched" and "withdraw-transfer-request" in r.json["available_actions"]
    again = client.post(f"{url}/request-transfer", json={"reason": "x", "basis": "y"},
                        headers=bearer(tok["san_handler"]))
    assert again.status_code == 409, again.json

    r = client.post(f"{url}/reject-transfer", json={}, headers=bearer(tok["liaison"]))
    assert r.status_code == 422 and "reason" in r.json["errors"]
    r = client.post(f"{url}/reject-transfer", json={"reason": "属环卫职责"}, headers=bearer(tok["san_handler"]))
    assert r.status_code == 403
    r = client.post(f"{url}/reject-transfer", json={"reason": "属环卫职责"}, headers=bearer(tok["liaison"]))
    assert r.status_code == 200, r.json
    assert r.json["record"]["transfer_requests"][-1]["state"] == "rejected"
    assert r.json["department_id"] == world.sanitation.id
    triggers = session.execute(select(LedgerEntry.trigger).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == item.id).order_by(LedgerEntry.seq)).scalars()
    assert list(triggers)[-2:] == ["request_transfer", "reject_transfer"]


def test_transfer_on_request_and_withdraw(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    tok = _tokens(session, world)
    url = f"/api/instructions/{item.id}"
    client.post(f"{url}/request-transfer", json={"reason": "a", "basis": "b"}, headers=bearer(tok["san_handler"]))
    r = client.post(f"{url}/withdraw-transfer-request", json={}, headers=bearer(tok["san_handler"]))
    assert r.status_code == 200 and r.json["record"]["transfer_requests"][-1]["state"] == "withdrawn"
    client.post(f"{url}/request-transfer", json={"reason": "a", "basis": "b"}, headers=bearer(tok["san_handler"]))
    r = client.post(f"{url}/transfer", json={"department_id": world.roads.id, "reason": "同意"},
                    headers=bearer(tok["liaison"]))
    assert r.status_code == 200, r.json
    assert r.json["department_id"] == world.roads.id
    assert [q["state"] for q in r.json["record"]["transfer_requests"]] == ["withdrawn", "approved"]
    # The returns report counts it (a liaison may not read it; a dispatcher may).
    disp = issue_token(session, "dispatcher", person=world.people["dispatcher"])
    rows = client.get("/api/returns/indicators", headers=bearer(disp)).json
    san = next(row for row in rows if row["department_id"] == world.sanitation.id)
    assert (san["instruction_requests"], san["instruction_requests_approved"], san["instruction_returns"]) == (2, 1, 1)
    report = client.get("/api/returns/report", headers=bearer(disp)).json
    assert [(x["from_department_id"], x["to_department_id"], x["instructions"]) for x in report] == \
        [(world.sanitation.id, world.roads.id, 1)]
