"""Weekends and holidays in instruction routing: a per-center setting.

Seed 001 篇三 三(一): the units take events received in their working hours "包括双休日和节假日";
the action groups take those outside working hours (三(二)). That is the default (``unit``); a
center may instead send every weekend and holiday instruction to the action group
(``action_group``, issue #4's reading), by default or per center code.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from caseflow import create_app
from caseflow.config import DefaultConfig
from caseflow.models import ActionGroup, Department, Instruction, Notification
from caseflow.security.actor import Actor
from caseflow.services import instructions as svc
from caseflow.services import ledger_export, routing
from tests.factories import make_person

SH = ZoneInfo("Asia/Shanghai")
SATURDAY_10 = datetime(2026, 3, 14, 10, 0, tzinfo=SH)  # a weekend morning, inside the default hours
SATURDAY_22 = datetime(2026, 3, 14, 22, 0, tzinfo=SH)
NATIONAL_DAY_15 = datetime(2026, 10, 2, 15, 0, tzinfo=SH)  # a statutory holiday afternoon


def _receive(session, catalog, number: str, category: str = "garbage") -> Instruction:  # type: ignore[no-untyped-def]
    item, created = svc.receive(session, catalog, actor=Actor.client_of("linkage_110"), number=number,
                                category=category, address="人民路 1 号")
    assert created
    return item


def _district_unit(session, world) -> Department:  # type: ignore[no-untyped-def]
    """A unit of the district center (D01) with its own action group and a category."""
    from caseflow.models import Category

    unit = Department(code="ENF", name="执法大队", kind="unit", center=world.district)
    session.add(unit)
    session.flush()
    unit.head = make_person(session, "enf_head", ["handler"], department=unit, center=world.district)
    leader = make_person(session, "enf_group_leader", ["handler"], department=unit, center=world.district)
    session.add(ActionGroup(department=unit, name="执法大队应急行动组", leader=leader))
    session.add(Category(code="building", name="违法建设", field="city", responsible_department=unit,
                         default_tier="general"))
    session.commit()
    return unit


def test_the_default_is_the_seed_reading() -> None:
    assert DefaultConfig.INSTRUCTION_DAYS_OFF_ROUTING == "unit"
    assert DefaultConfig.INSTRUCTION_DAYS_OFF_ROUTING_CENTERS == ""
    assert routing.parse_days_off_settings({}) == ("unit", {})


@pytest.mark.parametrize("days_off,told,group", [("unit", "san_head", False),
                                                  ("action_group", "san_group_leader", True)])
def test_saturday_morning_dispatch_follows_the_setting(app, monkeypatch, session, catalog, world,  # type: ignore[no-untyped-def]
                                                       days_off, told, group) -> None:
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING", days_off)
    item = _receive(session, catalog, "110-SAT")
    liaison = world.actor("liaison")
    svc.sign(session, catalog, item.id, actor=liaison)
    svc.dispatch(session, catalog, item.id, actor=liaison, now=SATURDAY_10)
    item = session.get(Instruction, item.id)
    assert item.state == "dispatched" and item.department_id == world.sanitation.id
    assert item.to_action_group is group
    people = session.execute(select(Notification.person_id).where(
        Notification.item_id == item.id, Notification.channel != "linkage_110")).scalars().all()
    assert people == [world.people[told].id]
    [row] = ledger_export.ledger_rows(session)
    assert row["unit"] == ("环卫所（应急行动组）" if group else "环卫所")


@pytest.mark.parametrize("days_off", ["unit", "action_group"])
def test_nights_go_to_the_action_group_either_way(app, monkeypatch, session, catalog, world, days_off) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING", days_off)
    item = _receive(session, catalog, "110-NIGHT")
    route = routing.route_for(session, item, SATURDAY_22.astimezone(timezone.utc))
    assert route.to_action_group is True and route.reason == "off_hours_action_group"
    # A holiday afternoon inside the unit's hours depends on the setting.
    holiday = routing.route_for(session, item, NATIONAL_DAY_15)
    assert holiday.to_action_group is (days_off == "action_group")


def test_unit_hours_apply_on_days_off_in_unit_mode(app, monkeypatch, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING", "unit")
    item = _receive(session, catalog, "110-HOURS")
    world.sanitation.working_hours = "09:00-12:00"
    session.commit()
    assert routing.route_for(session, item, datetime(2026, 3, 14, 11, 59, tzinfo=SH)).to_action_group is False
    assert routing.route_for(session, item, datetime(2026, 3, 14, 12, 0, tzinfo=SH)).to_action_group is True
    assert routing.route_for(session, item, datetime(2026, 3, 14, 8, 59, tzinfo=SH)).to_action_group is True


def test_per_center_setting_wins_over_the_default(app, monkeypatch, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    _district_unit(session, world)
    street_item = _receive(session, catalog, "110-S01")  # garbage: sanitation, street center S01
    district_item = _receive(session, catalog, "110-D01", category="building")  # the district's unit

    # Default unit; the street center sends weekends to its action groups.
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING", "unit")
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING_CENTERS", " S01 : action_group ")
    assert routing.days_off_routing(session, world.street.id) == "action_group"
    assert routing.days_off_routing(session, world.district.id) == "unit"
    street = routing.route_for(session, street_item, SATURDAY_10)
    district = routing.route_for(session, district_item, SATURDAY_10)
    assert street.to_action_group is True and [p.username for p in street.contacts] == ["san_group_leader"]
    assert district.to_action_group is False and [p.username for p in district.contacts] == ["enf_head"]

    # The other way round: default action_group, the district center keeps its units on duty.
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING", "action_group")
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING_CENTERS", "D01:unit")
    assert routing.route_for(session, street_item, SATURDAY_10).to_action_group is True
    district = routing.route_for(session, district_item, SATURDAY_10)
    assert district.to_action_group is False and [p.username for p in district.contacts] == ["enf_head"]


@pytest.mark.parametrize("config,named", [
    ({"INSTRUCTION_DAYS_OFF_ROUTING": "nobody"}, "INSTRUCTION_DAYS_OFF_ROUTING must be one of unit, action_group"),
    ({"INSTRUCTION_DAYS_OFF_ROUTING_CENTERS": "S01"}, "INSTRUCTION_DAYS_OFF_ROUTING_CENTERS: 'S01' is not"),
    ({"INSTRUCTION_DAYS_OFF_ROUTING_CENTERS": "S01:unit,S02:group"},
     "INSTRUCTION_DAYS_OFF_ROUTING_CENTERS (S02) must be one of"),
])
def test_a_bad_setting_stops_the_start_naming_it(app_config, config, named) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError) as err:
        create_app({**app_config, **config})
    assert named in str(err.value)


def test_settings_parse_with_spaces_and_empty_parts() -> None:
    assert routing.parse_days_off_settings({"INSTRUCTION_DAYS_OFF_ROUTING": " action_group ",
                                            "INSTRUCTION_DAYS_OFF_ROUTING_CENTERS": "S01:unit, ,S02: action_group"}) \
        == ("action_group", {"S01": "unit", "S02": "action_group"})
