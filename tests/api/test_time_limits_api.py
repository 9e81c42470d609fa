"""The time-limit table over HTTP: the limits in force with their source, overrides set and removed
by administrators only (ledgered; refusals audited), bad input named, and new deadlines following."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow.models import AccessDenial, Deadline, LedgerEntry, TimeLimit
from caseflow.security.actor import Actor
from caseflow.security.tokens import issue_token
from caseflow.services.cases import handling, intake, review

URL = "/api/time-limits"


def bearer(session, world, who: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, who, person=world.people[who])}"}


@pytest.fixture
def admin(session, world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return bearer(session, world, "admin")


def _by_key(rows):  # type: ignore[no-untyped-def]
    return {(r["tier"], r["category"], r["stage"]): r for r in rows}


def _ledger(session) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "time_limits")
                                .order_by(LedgerEntry.seq)).scalars())


def test_defaults_are_listed_for_every_tier_and_stage(client, session, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(URL, headers=bearer(session, world, "san_handler"))  # the rules are readable by all staff
    assert r.status_code == 200
    rows = _by_key(r.json)
    tiers = [(t, None, s) for t in ("simple", "general", "complex", "difficult") for s in ("sign", "handle", "check")]
    assert [k for k in rows if k[1] is None] == tiers
    general_handle = rows[("general", None, "handle")]
    assert general_handle == {"id": None, "tier": "general", "stage": "handle", "category_id": None, "category": None,
                              "duration": "1d", "clock": "working", "source": "default", "override": False}
    # 暴露垃圾 (garbage) is urgent by nature: handled within 4 working hours in every tier.
    garbage = [r for k, r in rows.items() if k[1] == "garbage"]
    assert {(r["tier"], r["stage"], r["duration"], r["source"]) for r in garbage} == {
        (t, "handle", "4h", "category_default") for t in ("simple", "general", "complex", "difficult")}
    assert client.get(URL).status_code == 401


def test_an_admin_sets_and_removes_overrides(client, session, world, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.post(URL, json={"tier": "general", "stage": "handle", "duration": "2d"}, headers=admin)
    assert r.status_code == 200, r.json
    tier_row = r.json
    assert tier_row["source"] == "override" and tier_row["override"] and tier_row["id"]
    assert (tier_row["duration"], tier_row["clock"], tier_row["category"]) == ("2d", "working", None)
    r = client.post(URL, json={"tier": "general", "stage": "sign", "duration": " 45m ", "clock": "wall",
                               "category": "road"}, headers=admin)
    assert r.status_code == 200, r.json
    road_row = r.json
    assert (road_row["category"], road_row["category_id"], road_row["duration"], road_row["clock"]) == \
        ("road", world.cat_road.id, "45m", "wall")
    # Changing a row keeps its id and records what it was.
    r = client.post(URL, json={"tier": "general", "stage": "handle", "duration": "3d"}, headers=admin)
    assert r.json["id"] == tier_row["id"] and r.json["duration"] == "3d"

    rows = _by_key(client.get(URL, headers=admin).json)
    assert rows[("general", None, "handle")]["override"] and rows[("general", None, "handle")]["duration"] == "3d"
    assert rows[("general", "road", "sign")]["id"] == road_row["id"]
    road = _by_key(client.get(f"{URL}?category=road", headers=admin).json)
    assert len(road) == 12 and all(k[1] == "road" for k in road)
    assert (road[("general", "road", "sign")]["duration"], road[("general", "road", "sign")]["source"]) == ("45m", "override")
    # The road category has no handle row of its own: the tier's override applies to it.
    assert (road[("general", "road", "handle")]["duration"], road[("general", "road", "handle")]["id"]) == ("3d", tier_row["id"])
    assert road[("simple", "road", "handle")]["source"] == "default"

    entries = _ledger(session)
    assert [e.trigger for e in entries] == ["set_time_limit"] * 3
    assert entries[0].actor_id == world.people["admin"].id and entries[0].actor_role == "admin"
    assert entries[0].payload["previous"] is None
    assert entries[2].payload["previous"] == {"duration": "2d", "clock": "working"}
    assert entries[2].payload["duration"] == "3d"

    r = client.delete(f"{URL}/{tier_row['id']}", headers=admin)
    assert r.status_code == 204
    assert _by_key(client.get(URL, headers=admin).json)[("general", None, "handle")]["source"] == "default"
    entries = _ledger(session)
    assert entries[-1].trigger == "remove_time_limit" and entries[-1].payload["duration"] == "3d"
    assert [e.seq for e in entries] == [1, 2, 3, 4]  # one chain for the table
    assert client.delete(f"{URL}/{tier_row['id']}", headers=admin).status_code == 404


@pytest.mark.parametrize("body, where, field", [
    ({"tier": "general", "stage": "handle", "duration": "soon"}, None, "duration"),
    ({"tier": "general", "stage": "handle", "duration": "0m"}, None, "duration"),
    ({"tier": "general", "stage": "handle", "duration": "1.5h"}, None, "duration"),
    ({"tier": "general", "stage": "handle", "duration": "400d"}, None, "duration"),
    ({"tier": "general", "stage": "handle", "duration": "x" * 17}, "json", "duration"),
    ({"tier": "general", "stage": "arrive", "duration": "1h"}, "json", "stage"),
    ({"tier": "urgent", "stage": "sign", "duration": "1h"}, "json", "tier"),
    ({"tier": "general", "stage": "sign", "duration": "1h", "clock": "lunar"}, "json", "clock"),
    ({"tier": "general", "stage": "sign", "duration": "1h", "category": "nope"}, None, "category"),
    ({"stage": "sign", "duration": "1h"}, "json", "tier"),
])
def test_bad_input_is_refused_naming_the_field(client, session, world, admin, body, where, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post(URL, json=body, headers=admin)
    assert r.status_code == 422
    errors = r.json["errors"][where] if where else r.json["errors"]
    assert field in errors, r.json
    assert session.execute(select(func.count()).select_from(TimeLimit)).scalar_one() == 0
    assert _ledger(session) == []


def test_unknown_category_filter_is_named(client, session, world, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{URL}?category=nope", headers=admin)
    assert r.status_code == 422 and "category" in r.json["errors"]


@pytest.mark.parametrize("who", ["dispatcher", "deputy", "san_handler"])
def test_only_admins_change_the_table(client, session, world, admin, who) -> None:  # type: ignore[no-untyped-def]
    made = client.post(URL, json={"tier": "simple", "stage": "check", "duration": "2h"}, headers=admin).json
    headers = bearer(session, world, who)
    r = client.post(URL, json={"tier": "simple", "stage": "check", "duration": "1m"}, headers=headers)
    assert r.status_code == 403
    assert client.delete(f"{URL}/{made['id']}", headers=headers).status_code == 403
    session.expire_all()
    row = session.get(TimeLimit, made["id"])
    assert row is not None and row.duration == "2h"
    denials = session.execute(select(AccessDenial).where(AccessDenial.person_id == world.people[who].id)).scalars().all()
    assert sorted(d.action for d in denials) == ["remove_time_limit", "set_time_limit"]
    assert len(_ledger(session)) == 1  # only the admin's change


def test_new_deadlines_follow_an_override(client, session, catalog, world, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.post(URL, json={"tier": "general", "stage": "sign", "duration": "3h", "clock": "wall",
                               "category": "road"}, headers=admin)
    assert r.status_code == 200
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="坑",
                            category_code="road", external_ref="tl-api-1")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
    row = session.execute(select(Deadline).where(Deadline.item_id == case.id, Deadline.item_type == "case",
                                                 Deadline.status == "pending")).scalar_one()
    assert (row.key, row.clock, row.due_at - row.armed_at) == ("sign", "wall", timedelta(hours=3))
