"""Emergency-linkage instructions (seed 001 篇三): every branch through the service layer."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from caseflow.deadlines.firing import fire_deadline
from caseflow.errors import TransitionRejected, ValidationFailed
from caseflow.models import CalendarOverride, Deadline, Instruction, LedgerEntry, Notification
from caseflow.security.actor import Actor
from caseflow.services import instructions as svc
from caseflow.services import routing

SH = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-03-10, 10:00 and 22:00 Shanghai; Saturday 2026-03-14 10:00; 2026-10-01 National Day.
WORK = datetime(2026, 3, 10, 10, 0, tzinfo=SH)
NIGHT = datetime(2026, 3, 10, 22, 0, tzinfo=SH)
WEEKEND = datetime(2026, 3, 14, 10, 0, tzinfo=SH)
HOLIDAY = datetime(2026, 10, 1, 10, 0, tzinfo=SH)


def answers(session, item_id):  # type: ignore[no-untyped-def]
    rows = session.execute(select(Notification).where(
        Notification.channel == "linkage_110", Notification.item_id == item_id).order_by(Notification.id)).scalars()
    return [r.payload for r in rows]


def ledger(session, item_id):  # type: ignore[no-untyped-def]
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == item_id).order_by(LedgerEntry.seq)).scalars())


def new(session, catalog, world, number="110-0001", category="garbage", **kw):  # type: ignore[no-untyped-def]
    item, created = svc.receive(session, catalog, actor=Actor.client_of("linkage_110"), number=number,
                                category=category, address="人民路 1 号", description="垃圾堆放", **kw)
    assert created
    return item


def signed_and_dispatched(session, catalog, world, now=NIGHT, **kw):  # type: ignore[no-untyped-def]
    item = new(session, catalog, world, **kw)
    liaison = world.actor("liaison")
    svc.sign(session, catalog, item.id, actor=liaison)
    svc.dispatch(session, catalog, item.id, actor=liaison, now=now)
    return session.get(Instruction, item.id)


def test_intake_is_idempotent_and_derives_area_from_grid(session, catalog, world) -> None:
    a, created_a = svc.receive(session, catalog, actor=Actor.client_of("linkage_110"), number="110-7",
                               category="garbage", grid="G02")
    b, created_b = svc.receive(session, catalog, actor=world.actor("liaison"), number="110-7", category="road")
    assert created_a and not created_b and a.id == b.id
    assert a.area_kind == "other" and a.record("area_source") == "grid" and a.state == "received"
    assert session.query(Instruction).count() == 1
    # The unsigned alarm is armed on receipt.
    assert session.execute(select(Deadline.key).where(Deadline.item_id == a.id)).scalars().all() == ["sign"]


@pytest.mark.parametrize("kw,field", [({"category": "nope"}, "category"), ({"category": None}, "category"),
                                      ({"number": "bad number!"}, "number"),
                                      ({"area_kind": "moon"}, "area_kind"), ({"severity": "huge"}, "severity")])
def test_intake_rejects_bad_input_naming_the_field(session, catalog, world, kw, field) -> None:  # type: ignore[no-untyped-def]
    args = {"number": "110-9", "category": "garbage", **kw}
    with pytest.raises(ValidationFailed) as err:
        svc.receive(session, catalog, actor=world.actor("liaison"), **args)
    assert err.value.field == field


def test_handler_cannot_file_an_instruction(session, catalog, world) -> None:
    from caseflow.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        svc.receive(session, catalog, actor=world.actor("san_handler"), number="110-1", category="garbage")


def test_declined_out_of_scope_explanation_goes_to_110(session, catalog, world) -> None:
    liaison = world.actor("liaison")
    garbage = new(session, catalog, world, number="110-in")
    with pytest.raises(TransitionRejected):  # in scope: cannot be declined
        svc.decline(session, catalog, garbage.id, actor=liaison, explanation="x")
    police = new(session, catalog, world, number="110-out", category="police")
    svc.sign(session, catalog, police.id, actor=liaison)
    with pytest.raises(TransitionRejected):  # out of scope: cannot be dispatched
        svc.dispatch(session, catalog, police.id, actor=liaison, department_id=world.sanitation.id, now=WORK)
    svc.decline(session, catalog, police.id, actor=liaison, explanation="治安案件属公安受理范围")
    police = session.get(Instruction, police.id)
    assert police.state == "declined" and police.record("decline_explanation") == "治安案件属公安受理范围"
    kinds = [(a["kind"], a.get("explanation")) for a in answers(session, police.id)]
    assert kinds == [("signed", None), ("declined", "治安案件属公安受理范围")]
    assert answers(session, police.id)[1]["instruction_no"] == "110-out"


@pytest.mark.parametrize("days_off", ["unit", "action_group"])
@pytest.mark.parametrize("now,day_off", [(WORK, False), (NIGHT, False), (WEEKEND, True), (HOLIDAY, True)],
                         ids=["working", "night", "weekend", "holiday"])
def test_routing_by_unit_hours_on_statutory_calendar(app, monkeypatch, session, catalog, world, now, day_off,  # type: ignore[no-untyped-def]
                                                     days_off) -> None:
    # Weekends and holidays: the unit in its hours (seed 篇三 三(一), the default), or the action
    # group all day (INSTRUCTION_DAYS_OFF_ROUTING=action_group). Nights always go to the group.
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING", days_off)
    to_group = now == NIGHT or (day_off and days_off == "action_group")
    item = new(session, catalog, world)
    route = routing.route_for(session, item, now.astimezone(timezone.utc))
    assert route.department.id == world.sanitation.id and route.to_action_group is to_group
    expected = "san_group_leader" if to_group else "san_head"
    assert [p.username for p in route.contacts] == [expected]


def test_routing_respects_unit_hours_and_make_up_workday(app, monkeypatch, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "INSTRUCTION_DAYS_OFF_ROUTING", "action_group")  # the calendar decides days
    item = new(session, catalog, world)
    world.sanitation.working_hours = "00:00-24:00"  # a 24-hour unit handles nights itself
    session.commit()
    assert routing.route_for(session, item, NIGHT).to_action_group is False
    world.sanitation.working_hours = ""
    assert routing.route_for(session, item, WEEKEND).to_action_group is True
    session.add(CalendarOverride(day=WEEKEND.date(), is_workday=True, note="调休上班"))
    session.commit()
    assert routing.route_for(session, item, WEEKEND).to_action_group is False


def test_unit_without_action_group_keeps_off_hours_work(session, catalog, world) -> None:
    item = new(session, catalog, world, category="road")
    route = routing.route_for(session, item, NIGHT)
    assert route.to_action_group is False and route.reason == "off_hours_no_action_group"
    assert [p.username for p in route.contacts] == ["road_head"]


def test_night_dispatch_goes_to_action_group_and_tells_leaders(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world, leader_on_site=True)
    assert item.state == "dispatched" and item.to_action_group and item.department_id == world.sanitation.id
    told = session.execute(select(Notification.person_id).where(
        Notification.item_id == item.id, Notification.channel != "linkage_110")).scalars().all()
    assert set(told) == {world.people["san_group_leader"].id, world.people["deputy"].id}
    due = svc.arrival_deadline(session, item).due_at
    assert due - item.dispatched_at == timedelta(minutes=30)  # main urban


def test_other_area_has_sixty_minutes(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world, area_kind="other")
    assert svc.arrival_deadline(session, item).due_at - item.dispatched_at == timedelta(minutes=60)


def test_late_arrival_with_reason_relayed_to_110(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world)
    handler = world.actor("san_handler")
    svc.explain_delay(session, catalog, item.id, actor=handler, reason="道路施工绕行")
    item = session.get(Instruction, item.id)
    assert item.state == "dispatched" and item.record("late_reason") == "道路施工绕行"
    assert answers(session, item.id)[-1] == {**answers(session, item.id)[-1], "kind": "delay", "reason": "道路施工绕行"}
    # Another department's handler does not even see it.
    from caseflow.errors import NotFound

    with pytest.raises(NotFound):
        svc.explain_delay(session, catalog, item.id, actor=world.actor("road_handler"), reason="x")


def _expire_arrival(session, catalog, item):  # type: ignore[no-untyped-def]
    row = svc.arrival_deadline(session, item)
    row.due_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    session.commit()
    return fire_deadline(session, catalog, row.id)


def test_late_with_no_word_fires_deadline_and_escalates(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world)
    from caseflow.models import EscalationRun

    outcome = _expire_arrival(session, catalog, item)
    assert outcome.result == "fired"
    item = session.get(Instruction, item.id)
    assert item.state == "late"
    runs = session.execute(select(EscalationRun).where(EscalationRun.item_id == item.id)).scalars().all()
    assert [r.chain for r in runs] == ["late_arrival"]
    assert [e.trigger for e in ledger(session, item.id)][-2:] == ["deadline:arrival", "mark_late"]
    # Arriving late is still recorded, and the ledger shows it was not on time.
    svc.arrive(session, catalog, item.id, actor=world.actor("san_handler"), situation="已到场")
    item = session.get(Instruction, item.id)
    assert item.state == "on_site" and svc.arrival_on_time(session, item) is False


def test_not_ours_on_site_explained_and_order_kept(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world)
    handler = world.actor("san_handler")
    svc.arrive(session, catalog, item.id, actor=handler, situation="现场为交通事故", place="人民路口")
    svc.report_not_ours(session, catalog, item.id, actor=handler, explanation="属交警处置")
    svc.keep_order(session, catalog, item.id, actor=handler, note="设置警戒，疏导群众")
    svc.keep_order(session, catalog, item.id, actor=handler, note="交警已到场，移交现场", responsible_arrived=True)
    item = session.get(Instruction, item.id)
    assert item.state == "not_ours" and item.record("not_ours")["explanation"] == "属交警处置"
    assert [k["responsible_arrived"] for k in item.record("keep_order")] == [False, True]
    assert [a["kind"] for a in answers(session, item.id)] == ["signed", "arrived", "not_ours"]
    assert answers(session, item.id)[1]["on_time"] is True


def test_larger_then_major_severity_reported_to_deputy_then_principal(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world)
    svc.arrive(session, catalog, item.id, actor=world.actor("san_handler"), situation="垃圾站起火")
    svc.report_severity(session, catalog, item.id, actor=world.actor("san_handler"), severity="larger")
    with pytest.raises(TransitionRejected):  # only a major event goes on to the principal leader
        svc.report_to_principal(session, catalog, item.id, actor=world.actor("deputy"))
    svc.report_severity(session, catalog, item.id, actor=world.actor("liaison"), severity="major")
    svc.report_to_principal(session, catalog, item.id, actor=world.actor("deputy"))
    item = session.get(Instruction, item.id)
    reports = item.record("severity_reports")
    deputy, principal = world.people["deputy"].id, world.people["principal"].id
    assert [(r["severity"], r["to"], r["person_id"]) for r in reports] == [
        ("larger", "deputy_in_charge", deputy), ("major", "deputy_in_charge", deputy), ("major", "principal", principal)]
    entries = [e for e in ledger(session, item.id) if e.trigger in ("report_severity", "report_to_principal")]
    assert [e.payload["reported_to_person_id"] for e in entries] == [deputy, deputy, principal]
    assert all(e.at is not None for e in entries) and entries[2].actor_id == world.people["deputy"].id
    told = session.execute(select(Notification.person_id).where(
        Notification.item_id == item.id, Notification.subject.contains("事件报告"))).scalars().all()
    assert told == [deputy, deputy, principal]
    with pytest.raises(ValidationFailed):
        svc.report_severity(session, catalog, item.id, actor=world.actor("liaison"), severity="ordinary")


def test_follow_up_then_result_reported_to_110(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world)
    handler, liaison = world.actor("san_handler"), world.actor("liaison")
    svc.arrive(session, catalog, item.id, actor=handler, situation="管道破裂")
    svc.open_follow_up(session, catalog, item.id, actor=handler, explanation="需次日更换管道")
    svc.report_result(session, catalog, item.id, actor=handler, result="管道已更换")
    svc.report_to_110(session, catalog, item.id, actor=liaison)
    item = session.get(Instruction, item.id)
    assert item.state == "closed" and item.closed_at is not None and item.record("follow_up") == "需次日更换管道"
    sent = answers(session, item.id)
    assert [a["kind"] for a in sent] == ["signed", "arrived", "follow_up", "result"]
    assert sent[-1]["result"] == "管道已更换" and sent[-1]["follow_up"] == "需次日更换管道"


def test_transfer_records_both_sides_and_rearms_arrival(session, catalog, world) -> None:
    item = signed_and_dispatched(session, catalog, world, now=WORK)
    first_due = svc.arrival_deadline(session, item)
    svc.transfer(session, catalog, item.id, actor=world.actor("liaison"), department_id=world.roads.id,
                 reason="属道路破损", now=WORK)
    item = session.get(Instruction, item.id)
    assert item.state == "dispatched" and item.department_id == world.roads.id
    assert item.record("transfers")[0] | {"at": None} == {
        "from_department_id": world.sanitation.id, "to_department_id": world.roads.id, "reason": "属道路破损", "at": None}
    entry = [e for e in ledger(session, item.id) if e.trigger == "transfer"][0]
    assert entry.payload["from_department_id"] == world.sanitation.id
    assert entry.payload["to_department_id"] == world.roads.id
    session.refresh(first_due)
    assert first_due.status == "cancelled" and svc.arrival_deadline(session, item).status == "pending"
    told = set(session.execute(select(Notification.person_id).where(
        Notification.item_id == item.id, Notification.channel != "linkage_110")).scalars())
    assert {world.people["san_head"].id, world.people["road_head"].id} <= told
    # The sanitation handler lost it; the road handler has it.
    svc.arrive(session, catalog, item.id, actor=world.actor("road_handler"), situation="路面塌陷")
