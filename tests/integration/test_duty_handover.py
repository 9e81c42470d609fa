"""The 08:30 handover: three days of rota carrying open items forward, a disputed item, a late handover."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from caseflow.deadlines.escalation import advance
from caseflow.deadlines.firing import fire_deadline
from caseflow.errors import Conflict, PermissionDenied, TransitionRejected
from caseflow.models import (
    Deadline,
    EscalationNotice,
    EscalationRun,
    Handover,
    HandoverItem,
    LedgerEntry,
    Notification,
    utcnow,
)
from caseflow.services import transition
from caseflow.services.duty import handover as hs
from caseflow.services.duty import log as duty_log

from .duty_support import lead_actor, plan, running_instruction, shift


def _hand_over(session, catalog, world, out_shift, accept=True):  # type: ignore[no-untyped-def]
    """Open and submit a handover; with ``accept`` the incoming lead accepts every item and completes."""
    out_lead = lead_actor(world, out_shift)
    h = hs.open_handover(session, catalog, out_shift.id, actor=out_lead)
    hs.submit(session, catalog, h.id, actor=out_lead)
    if accept:
        in_lead = lead_actor(world, h.incoming_shift)
        for item in hs.items(session, h.id):
            hs.accept_item(session, catalog, h.id, item.id, actor=in_lead)
        hs.complete(session, catalog, h.id, actor=in_lead)
    return h


def _refs(session, handover_id):  # type: ignore[no-untyped-def]
    return {(i.kind, i.ref_type, i.ref_id) for i in hs.items(session, handover_id)}


def test_three_days_of_rota_carry_open_items_forward(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=4)
    assert [s.lead_id for s in shifts[:2]] == [world.people["duty_lead"].id, world.people["duty_lead2"].id]
    assert all(s.ends_at - s.starts_at == timedelta(days=1) for s in shifts)
    # 08:30 Asia/Shanghai is 00:30 UTC.
    assert (shifts[0].starts_at.hour, shifts[0].starts_at.minute) == (0, 30)
    first = shifts[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))

    # Day 1: an instruction is dispatched and still running at 08:30; an urgent document arrives.
    ins = running_instruction(session, catalog, world)
    doc = duty_log.record(session, catalog, world.street.id, "urgent_document", actor=world.actor("duty_officer"),
                          summary="区委紧急通知: 防汛检查")
    assert doc.shift_id == first.id
    h1 = _hand_over(session, catalog, world, first, accept=False)
    refs = _refs(session, h1.id)
    assert ("instruction", "instruction", ins.id) in refs
    assert ("urgent_document", "duty_log_entry", doc.id) in refs
    arrival = session.execute(select(Deadline).where(
        Deadline.item_type == "instruction", Deadline.item_id == ins.id, Deadline.key == "arrival")).scalar_one()
    assert ("deadline", "deadline", arrival.id) in refs
    # The outgoing shift cannot close before the handover is complete.
    with pytest.raises(TransitionRejected, match="handover_completed"):
        transition.fire(session, catalog, "duty_shift", first.id, "close", actor=lead_actor(world, first))
    in_lead = lead_actor(world, shifts[1])
    for item in hs.items(session, h1.id):
        hs.accept_item(session, catalog, h1.id, item.id, actor=in_lead, note="已了解")
    hs.complete(session, catalog, h1.id, actor=in_lead)
    assert shift(session, first.id).state == "closed"
    assert shift(session, shifts[1].id).state == "on_duty"
    # People coming on shift got the open items.
    notes = session.execute(select(Notification).where(
        Notification.item_type == "handover", Notification.item_id == h1.id)).scalars().all()
    assert {n.person_id for n in notes} == {world.people["duty_lead2"].id, world.people["duty_officer"].id}
    assert all(ins.number in n.body for n in notes)

    # Day 2: the urgent document is reported and done; the instruction still runs.
    duty_log.report_urgent_document(session, doc.id, world.people["principal"].id, "立即转发各单位落实",
                                    actor=world.actor("duty_officer"))
    duty_log.complete_urgent_document(session, doc.id, "已转发并回报", actor=world.actor("duty_officer"))
    h2 = _hand_over(session, catalog, world, shift(session, shifts[1].id), accept=False)
    refs2 = _refs(session, h2.id)
    assert ("instruction", "instruction", ins.id) in refs2  # carried forward
    assert ("urgent_document", "duty_log_entry", doc.id) not in refs2
    carried = next(i for i in hs.items(session, h2.id) if i.ref_type == "instruction")
    back_lead = lead_actor(world, shifts[2])
    for item in hs.items(session, h2.id):
        hs.accept_item(session, catalog, h2.id, item.id, actor=back_lead)
    hs.complete(session, catalog, h2.id, actor=back_lead)
    assert session.get(HandoverItem, carried.id).status == "accepted"
    assert session.get(HandoverItem, carried.id).reviewed_by_id == world.people["duty_lead"].id

    # Day 3: the instruction is finished; it no longer appears.
    liaison = world.actor("liaison")
    transition.fire(session, catalog, "instruction", ins.id, "arrive", actor=liaison, data={"situation": "到场"})
    transition.fire(session, catalog, "instruction", ins.id, "report_result", actor=liaison, data={"result": "已清运"})
    transition.fire(session, catalog, "instruction", ins.id, "report_to_110", actor=liaison)
    h3 = _hand_over(session, catalog, world, shift(session, shifts[2].id))
    assert not any(r[1] == "instruction" for r in _refs(session, h3.id))
    assert shift(session, shifts[2].id).state == "closed"
    assert shift(session, shifts[3].id).state == "on_duty"
    # Every handover step is in the handover's ledger.
    triggers = list(session.execute(select(LedgerEntry.trigger).where(
        LedgerEntry.item_type == "handover", LedgerEntry.item_id == h2.id).order_by(LedgerEntry.seq)).scalars())
    assert triggers[:2] == ["open", "submit"] and triggers[-1] == "accept"
    assert triggers.count("accept_item") == len(refs2)


def test_disputed_item_blocks_completion_until_resolved(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    first = shifts[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    entry = duty_log.record(session, catalog, world.street.id, "visitor", actor=world.actor("duty_officer"),
                            asked="反映噪声扰民", explained="已解释夜间施工许可", guided_to="城管中队", flagged=True)
    out_lead, in_lead = lead_actor(world, first), lead_actor(world, shifts[1])
    h = hs.open_handover(session, catalog, first.id, actor=out_lead)
    # The incoming lead cannot prepare; the outgoing lead cannot accept.
    with pytest.raises(TransitionRejected, match="actor_is_outgoing_lead"):
        hs.submit(session, catalog, h.id, actor=in_lead)
    hs.add_note(session, catalog, h.id, "夜间来访一起, 需回访", actor=out_lead)
    hs.submit(session, catalog, h.id, actor=out_lead)
    item = next(i for i in hs.items(session, h.id) if i.kind == "flagged_entry")
    assert item.ref_id == entry.id
    with pytest.raises(TransitionRejected, match="actor_is_incoming_lead"):
        hs.accept_item(session, catalog, h.id, item.id, actor=out_lead)
    disputed = hs.dispute_item(session, catalog, h.id, item.id, "回访对象和时间未写明", actor=in_lead)
    assert (disputed.status, disputed.review_note) == ("disputed", "回访对象和时间未写明")
    with pytest.raises(TransitionRejected, match="all_handover_items_accepted"):
        hs.complete(session, catalog, h.id, actor=in_lead)
    assert shift(session, first.id).state == "handing_over"
    # The outgoing lead answers on the item; it goes back to the incoming lead, who accepts.
    hs.add_note(session, catalog, h.id, "回访张先生, 今日 10:00 前", actor=out_lead, item_id=item.id)
    session.expire_all()
    assert session.get(HandoverItem, item.id).status == "pending"
    hs.accept_item(session, catalog, h.id, item.id, actor=in_lead)
    done = hs.complete(session, catalog, h.id, actor=in_lead)
    assert done.state == "completed"
    assert session.get(Handover, h.id).data["notes"][0]["note"] == "夜间来访一起, 需回访"
    # Completed is read-only: nothing more can be noted.
    with pytest.raises(Exception) as exc:
        hs.add_note(session, catalog, h.id, "补充", actor=out_lead)
    assert getattr(exc.value, "status", None) == 409


def test_only_the_shift_lead_opens_and_the_next_shift_must_exist(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=1)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    with pytest.raises(PermissionDenied):
        hs.open_handover(session, catalog, shifts[0].id, actor=world.actor("duty_lead2"))
    with pytest.raises(Conflict, match="next shift"):
        hs.open_handover(session, catalog, shifts[0].id, actor=lead_actor(world, shifts[0]))
    assert shift(session, shifts[0].id).state == "on_duty"  # nothing half-done


def test_late_handover_escalates_to_the_leader(app, session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    first = shifts[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    h = hs.open_handover(session, catalog, first.id, actor=lead_actor(world, first))
    row = session.execute(select(Deadline).where(
        Deadline.item_type == "handover", Deadline.item_id == h.id, Deadline.status == "pending")).scalar_one()
    grace = app.config.get("HANDOVER_GRACE_MIN") or 30
    assert row.due_at == first.ends_at + timedelta(minutes=grace)  # 08:30 + grace, not "1h after opening"
    hs.submit(session, catalog, h.id, actor=lead_actor(world, first))
    row = session.execute(select(Deadline).where(
        Deadline.item_type == "handover", Deadline.item_id == h.id, Deadline.status == "pending")).scalar_one()
    assert row.due_at == first.ends_at + timedelta(minutes=grace)  # still pinned after submit
    session.execute(update(Deadline).where(Deadline.id == row.id).values(due_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert fire_deadline(session, catalog, row.id).result == "fired"
    run = session.execute(select(EscalationRun).where(
        EscalationRun.item_type == "handover", EscalationRun.item_id == h.id)).scalar_one()
    assert run.chain == "late_handover" and run.steps[0]["mode"] == "normal"
    assert advance(session, catalog, run.id) == "notified"
    told = set(session.execute(select(EscalationNotice.person_id).where(EscalationNotice.run_id == run.id)).scalars())
    assert {world.people["deputy"].id, world.people["principal"].id} <= told


def test_reminder_goes_to_people_going_off_shift_once(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    first = shifts[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    before = first.ends_at - timedelta(minutes=20)
    assert hs.send_reminders(session, now=first.ends_at - timedelta(hours=3)) == 0  # too early
    assert hs.send_reminders(session, now=before) == 1
    assert hs.send_reminders(session, now=before + timedelta(minutes=5)) == 0  # once only
    told = set(session.execute(select(Notification.person_id).where(
        Notification.item_type == "duty_shift", Notification.item_id == first.id)).scalars())
    assert told == {world.people["duty_lead"].id, world.people["duty_officer"].id}


def test_case_reviews_and_open_return_requests_are_collected(session, catalog, world):  # type: ignore[no-untyped-def]
    """A case awaiting review, a return request awaiting the dispatcher and one awaiting the leader
    are all open items; a decided request is not."""
    from caseflow.services import returns
    from caseflow.services.cases import handling, intake, review

    first = plan(session, catalog, world, days=2)[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    dispatcher = world.actor("dispatcher")

    def case(title):  # type: ignore[no-untyped-def]
        c, _ = intake.report(session, catalog, channel="hotline", actor=dispatcher, title=title,
                             category_code="garbage", address="和平路 3 号", grid_id=world.grid_main.id)
        return c

    waiting = case("待核实的案件")
    to_return = case("垃圾堆放")
    review.register(session, catalog, to_return.id, actor=dispatcher)
    handling.dispatch(session, catalog, to_return.id, actor=dispatcher, department_id=world.sanitation.id)
    handler = world.actor("san_handler")
    first_ask = returns.request_return(session, catalog, to_return.id, handler, "属道路养护职责", "职责清单 第3条")
    returns.reject(session, catalog, first_ask.id, dispatcher, "暴露垃圾属环卫所职责")
    # A repeated request with a new basis goes to the leader (leader_review).
    to_leader = returns.request_return(session, catalog, to_return.id, handler, "属道路养护职责",
                                       "区政府办公室关于道路设施管养分工的通知")
    assert to_leader.state == "leader_review"
    other = case("另一个案件")
    review.register(session, catalog, other.id, actor=dispatcher)
    handling.dispatch(session, catalog, other.id, actor=dispatcher, department_id=world.sanitation.id)
    requested = returns.request_return(session, catalog, other.id, handler, "属道路养护职责", "职责清单 第5条")
    assert requested.state == "requested"

    found = {(f.kind, f.ref_type, f.ref_id): f.summary for f in hs.find_open_items(session, catalog, first)}
    assert ("case_review", "case", waiting.id) in found
    assert ("return_request", "return_request", requested.id) in found
    assert ("return_request", "return_request", to_leader.id) in found
    assert "待领导审核" in found[("return_request", "return_request", to_leader.id)]
    assert ("return_request", "return_request", first_ask.id) not in found
    # Collected onto the handover itself, too.
    h = hs.open_handover(session, catalog, first.id, actor=lead_actor(world, first))
    refs = _refs(session, h.id)
    assert {("return_request", "return_request", to_leader.id), ("return_request", "return_request", requested.id),
            ("case_review", "case", waiting.id)} <= refs
