"""Paging of the feeds (notifications, the duty log, return requests, escalations, deadlines): ``page`` and
``per_page`` with the ``X-Pagination`` header, the body still the page's array, ``limit`` still
accepted, and totals that count only what the caller may see."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest

from caseflow.models import DutyLogEntry, EscalationRun, Notification, utcnow
from caseflow.security.tokens import issue_token
from caseflow.services.cases import intake


def bearer(session, world, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, who, person=world.people[who])}"}


def paging(response) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(response.headers["X-Pagination"])


def test_notifications_page_by_page(client, session, world) -> None:  # type: ignore[no-untyped-def]
    session.add_all([Notification(channel="email", address=f"p{i}@example.test", subject=f"n{i}",
                                  status="dead" if i % 2 else "sent") for i in range(7)])
    session.commit()
    admin = bearer(session, world, "admin")
    first = client.get("/api/notifications?per_page=3", headers=admin)
    assert first.status_code == 200 and isinstance(first.json, list)
    assert [n["subject"] for n in first.json] == ["n6", "n5", "n4"]  # newest first
    assert paging(first) == {"total": 7, "total_pages": 3, "page": 1, "per_page": 3, "first_page": 1,
                             "last_page": 3, "next_page": 2}
    last = client.get("/api/notifications?per_page=3&page=3", headers=admin)
    assert [n["subject"] for n in last.json] == ["n0"] and paging(last)["previous_page"] == 2
    assert "next_page" not in paging(last)
    beyond = client.get("/api/notifications?per_page=3&page=9", headers=admin)
    assert beyond.status_code == 200 and beyond.json == [] and paging(beyond)["total"] == 7
    dead = client.get("/api/notifications?status=dead&limit=2", headers=admin)  # the older name still works
    assert [n["subject"] for n in dead.json] == ["n5", "n3"] and paging(dead)["total"] == 3
    assert client.get("/api/notifications?per_page=0", headers=admin).status_code == 422
    assert client.get("/api/notifications?page=0", headers=admin).status_code == 422


def test_duty_log_pages_newest_first(client, session, world) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    session.add_all([DutyLogEntry(center_id=world.street.id, type="note", summary=f"记录 {i}",
                                  at=now - timedelta(minutes=10 - i)) for i in range(5)])
    session.commit()
    lead = bearer(session, world, "duty_lead")
    r = client.get(f"/api/duty/log?center_id={world.street.id}&per_page=2&page=2", headers=lead)
    assert r.status_code == 200 and [e["summary"] for e in r.json] == ["记录 2", "记录 1"]
    assert paging(r)["total"] == 5 and paging(r)["next_page"] == 3


@pytest.fixture
def runs(session, catalog, world):  # type: ignore[no-untyped-def]
    """Three escalations on a sanitation case, two on a roads case."""
    cases = {}
    for code, who in (("garbage", "san_handler"), ("road", "road_handler")):
        case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor(who), title=code,
                                category_code=code, address="和平路", grid_id=world.grid_main.id)
        case.department_id = world.sanitation.id if code == "garbage" else world.roads.id
        cases[code] = case
    session.flush()
    for code, n in (("garbage", 3), ("road", 2)):
        for i in range(n):
            session.add(EscalationRun(item_type="case", item_id=cases[code].id, chain=f"{code}-{i}",
                                      status="active", state="reported", state_seq=1, started_at=utcnow()))
    session.commit()
    return cases


def test_escalation_totals_count_only_what_the_caller_sees(client, session, world, runs) -> None:  # type: ignore[no-untyped-def]
    road = client.get("/api/escalations?per_page=1", headers=bearer(session, world, "road_handler"))
    assert road.status_code == 200 and len(road.json) == 1 and paging(road)["total"] == 2
    assert road.json[0]["item_id"] == runs["road"].id
    everyone = client.get("/api/escalations?per_page=2&page=3", headers=bearer(session, world, "duty_lead"))
    assert len(everyone.json) == 1 and paging(everyone)["total"] == 5


def test_return_requests_are_paged(client, session, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/returns?per_page=10", headers=bearer(session, world, "dispatcher"))
    assert r.status_code == 200 and r.json == [] and paging(r) == {
        "total": 0, "total_pages": 1, "page": 1, "per_page": 10, "first_page": 1, "last_page": 1}
