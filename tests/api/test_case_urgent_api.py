"""POST /api/cases/<id>/urgent: a dispatcher marks an open case urgent (紧急; its commanders are
told at once) or takes the flag off with a reason (``caseflow.services.cases.urgent.set_urgent``,
ledgered as ``set_urgent``). The holding department's handler gets 403, another department's
404, a closed case 409; the same value again, or a retry with the same ``Idempotency-Key``,
changes nothing. The case view offers ``urgent`` exactly when the service would allow it."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.models import AccessDenial, LedgerEntry, Notification

from .test_case_public_api import _case, bearer


def _entries(session, case_id: int) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id, LedgerEntry.trigger == "set_urgent")
        .order_by(LedgerEntry.seq)).scalars())


def _notices(session, case_id: int) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return sum(1 for n in session.execute(select(Notification).where(
        Notification.item_type == "case", Notification.item_id == case_id)).scalars() if (n.payload or {}).get("urgent"))


def test_mark_then_clear_with_a_reason(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    disp = bearer(session, "d", person=world.people["dispatcher"])
    case = _case(session, catalog, world, "handling")
    view = client.get(f"/api/cases/{case.id}", headers=disp).json
    assert view["urgent"] is False and "urgent" in view["available_actions"]

    r = client.post(f"/api/cases/{case.id}/urgent", json={"urgent": True, "reason": "围观人员增多"}, headers=disp)
    assert r.status_code == 200, r.json
    assert r.json["urgent"] is True and r.json["state"] == "handling"
    (entry,) = _entries(session, case.id)
    assert entry.payload == {"urgent": True, "before": False, "reason": "围观人员增多",
                             "notified": entry.payload["notified"]}
    assert entry.payload["notified"] == _notices(session, case.id) >= 2
    # The same value again writes nothing and tells nobody again.
    r = client.post(f"/api/cases/{case.id}/urgent", json={"urgent": True}, headers=disp)
    assert r.status_code == 200 and len(_entries(session, case.id)) == 1

    r = client.post(f"/api/cases/{case.id}/urgent", json={"urgent": False}, headers=disp)
    assert r.status_code == 422 and r.json["errors"] == {"reason": ["say why the case is no longer urgent"]}, r.json
    r = client.post(f"/api/cases/{case.id}/urgent", json={"urgent": False, "reason": "现场已控制"}, headers=disp)
    assert r.status_code == 200 and r.json["urgent"] is False
    assert [e.payload["urgent"] for e in _entries(session, case.id)] == [True, False]
    listed = client.get("/api/cases?urgent=false", headers=disp).json["items"]
    assert case.id in [c["id"] for c in listed]


def test_bad_bodies_name_the_field(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    disp = bearer(session, "d", person=world.people["dispatcher"])
    case = _case(session, catalog, world)
    r = client.post(f"/api/cases/{case.id}/urgent", json={}, headers=disp)
    assert r.status_code == 422 and "urgent" in r.json["errors"]["json"]
    r = client.post(f"/api/cases/{case.id}/urgent", json={"urgent": True, "reason": "x" * 2001}, headers=disp)
    assert r.status_code == 422 and "reason" in r.json["errors"]["json"]
    assert _entries(session, case.id) == []


def test_who_may_and_when(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "handling")
    san = bearer(session, "s", person=world.people["san_handler"])
    road = bearer(session, "r", person=world.people["road_handler"])
    assert "urgent" not in client.get(f"/api/cases/{case.id}", headers=san).json["available_actions"]
    assert client.post(f"/api/cases/{case.id}/urgent", json={"urgent": True}, headers=san).status_code == 403
    denial = session.execute(select(AccessDenial).where(AccessDenial.action == "set_urgent")).scalar_one()
    assert denial.person_id == world.people["san_handler"].id
    assert client.post(f"/api/cases/{case.id}/urgent", json={"urgent": True}, headers=road).status_code == 404
    assert _entries(session, case.id) == []

    disp = bearer(session, "d", person=world.people["dispatcher"])
    archived = _case(session, catalog, world, "archived")
    assert "urgent" not in client.get(f"/api/cases/{archived.id}", headers=disp).json["available_actions"]
    r = client.post(f"/api/cases/{archived.id}/urgent", json={"urgent": True}, headers=disp)
    assert r.status_code == 409 and _entries(session, archived.id) == []


def test_a_retry_with_the_same_key_acts_once(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    disp = {**bearer(session, "d", person=world.people["dispatcher"]), "Idempotency-Key": "urgent-1"}
    case = _case(session, catalog, world, "registered")
    first = client.post(f"/api/cases/{case.id}/urgent", json={"urgent": True, "reason": "学校门口"}, headers=disp)
    again = client.post(f"/api/cases/{case.id}/urgent", json={"urgent": True, "reason": "学校门口"}, headers=disp)
    assert first.status_code == again.status_code == 200 and again.json == first.json
    assert len(_entries(session, case.id)) == 1
