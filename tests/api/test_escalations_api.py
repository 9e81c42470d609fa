"""API: escalations in progress and acknowledging them, running deadlines, the outbox."""
from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g
from sqlalchemy import select, update

from caseflow.deadlines import escalation
from caseflow.models import AccessDenial, Deadline, Notification, utcnow
from caseflow.notify import outbox
from caseflow.security.tokens import issue_token
from caseflow.services import transition
from tests.integration.test_escalation import dispatched_instruction, late_instruction, make_due


@pytest.fixture
def client(client):  # type: ignore[no-untyped-def]
    """The test client, forgetting the caller between requests.

    The ``client`` fixture's requests share the test's app context, so ``g`` (where
    ``current_actor`` caches the caller) would otherwise carry one token's actor into the
    next request made with another token.
    """

    class Client:
        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            method = getattr(client, name)

            def call(*args, **kwargs):  # type: ignore[no-untyped-def]
                g.pop("actor", None)
                return method(*args, **kwargs)

            return call

    return Client()


def bearer(session, world, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, username, person=world.people[username])}"}


def test_escalations_list_shows_who_was_told_and_who_acknowledged(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    duty = bearer(session, world, "duty_lead")
    r = client.get("/api/escalations", headers=duty)
    assert r.status_code == 200, r.json
    [view] = r.json
    assert (view["id"], view["item_type"], view["item_id"], view["chain"], view["status"]) == (
        run.id, "instruction", ins.id, "late_arrival", "active")
    assert (view["step_index"], view["repeat_index"], view["state"], view["mode"]) == (1, 0, "late", "normal")
    assert [(n["person_name"], n["target"], n["target_label"]) for n in view["notices"]] == [
        ("san_head", "unit_head", "单位负责人"), ("san_group_leader", "action_group_leader", "应急行动组组长")]
    assert view["acknowledged_by_id"] is None and view["next_at"] is not None

    head = bearer(session, world, "san_head")
    r = client.post(f"/api/escalations/{run.id}/acknowledge", json={"comment": "已出发"}, headers=head)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "acknowledged" and r.json["acknowledged_by_name"] == "san_head"
    assert client.get("/api/escalations", headers=duty).json == []  # default: active only
    r = client.get("/api/escalations?status=acknowledged", headers=duty)
    assert [v["id"] for v in r.json] == [run.id]
    r = client.get(f"/api/escalations?status=all&item_type=instruction&item_id={ins.id + 1000}", headers=duty)
    assert r.json == []
    r = client.post(f"/api/escalations/{run.id}/acknowledge", json={}, headers=duty)
    assert r.status_code == 409 and r.json["status"] == "conflict"


def test_acknowledge_permissions_and_scope(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    # Another department's handler does not even learn that the escalation exists.
    road = bearer(session, world, "road_handler")
    r = client.post(f"/api/escalations/{run.id}/acknowledge", json={}, headers=road)
    assert r.status_code == 404
    assert client.get("/api/escalations", headers=road).json == []
    # A handler of the unit who was not told may see it but not acknowledge it.
    handler = bearer(session, world, "san_handler")
    assert [v["id"] for v in client.get("/api/escalations", headers=handler).json] == [run.id]
    r = client.post(f"/api/escalations/{run.id}/acknowledge", json={}, headers=handler)
    assert r.status_code == 403 and r.json["status"] == "forbidden"
    assert session.execute(select(AccessDenial.action)).scalars().all() == ["acknowledge"]
    r = client.post("/api/escalations/99999/acknowledge", json={}, headers=handler)
    assert r.status_code == 404
    r = client.post(f"/api/escalations/{run.id}/acknowledge", json={"comment": 5}, headers=handler)
    assert r.status_code == 422 and "comment" in r.json["errors"]["json"]
    r = client.get("/api/escalations?status=bogus", headers=handler)
    assert r.status_code == 422 and "status" in r.json["errors"]["query"]


def test_running_deadlines_with_time_left(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = dispatched_instruction(session, catalog, world)
    other = dispatched_instruction(session, catalog, world, number="110-E2")
    session.execute(update(Deadline).where(Deadline.item_id == other.id, Deadline.status == "pending")
                    .values(due_at=utcnow() - timedelta(minutes=3)))
    session.commit()
    liaison = bearer(session, world, "liaison")
    r = client.get("/api/deadlines", headers=liaison)
    assert r.status_code == 200, r.json
    assert [(d["item_id"], d["key"], d["overdue"]) for d in r.json] == [
        (other.id, "arrival", True), (ins.id, "arrival", False)]
    overdue, running = r.json
    assert -185 < overdue["seconds_left"] < -175
    assert 30 * 60 - 10 < running["seconds_left"] <= 30 * 60  # main urban: 30 minutes
    r = client.get("/api/deadlines?overdue=true", headers=liaison)
    assert [d["item_id"] for d in r.json] == [other.id]
    r = client.get("/api/deadlines?overdue=false", headers=liaison)
    assert [d["item_id"] for d in r.json] == [ins.id]
    # Department scope: the roads unit sees none of sanitation's deadlines.
    assert client.get("/api/deadlines", headers=bearer(session, world, "road_handler")).json == []
    r = client.get("/api/deadlines", headers=bearer(session, world, "san_handler"))
    assert len(r.json) == 2
    r = client.get("/api/deadlines?overdue=maybe", headers=liaison)
    assert r.status_code == 422 and "overdue" in r.json["errors"]["query"]


def test_overdue_includes_fired_deadlines_while_the_item_is_still_concerned(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    from caseflow.services.overdue import overdue_deadlines
    from tests.integration.test_escalation import fire_row

    late, _ = late_instruction(session, catalog, world)  # arrival fired: marked late, not yet there
    assert late.state == "late"
    arrived = dispatched_instruction(session, catalog, world, number="110-E3")
    fire_row(session, catalog, arrived, "arrival")
    transition.fire(session, catalog, "instruction", arrived.id, "arrive", actor=world.actor("liaison"),
                    data={"situation": "到场"})  # arrived after all: no longer overdue
    running = dispatched_instruction(session, catalog, world, number="110-E4")
    liaison = bearer(session, world, "liaison")
    r = client.get("/api/deadlines?overdue=true", headers=liaison)
    assert r.status_code == 200, r.json
    assert [(d["item_id"], d["key"], d["status"], d["overdue"]) for d in r.json] == [
        (late.id, "arrival", "fired", True)]
    r = client.get("/api/deadlines", headers=liaison)
    assert [d["item_id"] for d in r.json] == [late.id, running.id]
    assert [d["item_id"] for d in client.get("/api/deadlines?overdue=false", headers=liaison).json] == [running.id]
    # The console's leader page counts the same rows.
    total, listed = overdue_deadlines(session, utcnow())
    assert total == 1 and [(d.item_id, item.id) for d, item in listed] == [(late.id, late.id)]
    assert client.get("/api/deadlines?overdue=true", headers=bearer(session, world, "road_handler")).json == []


def test_dead_notifications_and_retry(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    world.people["san_head"].channels = ["wecom:https://qyapi.example.test/send?key=SECRET"]
    session.commit()
    escalation.advance(session, catalog, run.id)
    rows = session.execute(select(Notification).order_by(Notification.id)).scalars().all()
    session.execute(update(Notification).where(Notification.id == rows[0].id)
                    .values(status="dead", attempts=8, last_error="HTTP 503"))
    session.commit()
    admin = bearer(session, world, "admin")
    r = client.get("/api/notifications?status=dead", headers=admin)
    assert r.status_code == 200, r.json
    [dead] = r.json
    assert (dead["id"], dead["channel"], dead["attempts"], dead["last_error"]) == (rows[0].id, "wecom", 8, "HTTP 503")
    assert dead["address"] == "https://qyapi.example.test/send" and "SECRET" not in str(r.json)
    assert len(client.get("/api/notifications", headers=admin).json) == 2

    handler = bearer(session, world, "san_head")
    assert client.get("/api/notifications?status=dead", headers=handler).status_code == 403
    assert client.post(f"/api/notifications/{rows[0].id}/retry", headers=handler).status_code == 403

    duty = bearer(session, world, "duty_lead")
    r = client.post(f"/api/notifications/{rows[0].id}/retry", headers=duty)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "pending" and r.json["attempts"] == 0
    assert client.get("/api/notifications?status=dead", headers=duty).json == []
    r = client.post(f"/api/notifications/{rows[0].id}/retry", headers=duty)
    assert r.status_code == 409
    assert client.post("/api/notifications/99999/retry", headers=duty).status_code == 404
    assert outbox.job_id(rows[0].id, 0) == f"notify-{rows[0].id}"


def test_acknowledged_by_a_leader_who_was_told_later(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    make_due(session, run.id)
    escalation.advance(session, catalog, run.id)
    deputy = bearer(session, world, "deputy")
    r = client.post(f"/api/escalations/{run.id}/acknowledge", json={}, headers=deputy)
    assert r.status_code == 200
    assert r.json["acknowledged_by_name"] == "deputy"
    assert [n["target"] for n in r.json["notices"]] == ["unit_head", "action_group_leader", "deputy_leader_in_charge"]
