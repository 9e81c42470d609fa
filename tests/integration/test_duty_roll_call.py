"""Roll calls (点名应答) and the duty log."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from caseflow.deadlines.escalation import advance
from caseflow.deadlines.firing import fire_deadline
from caseflow.errors import PermissionDenied, ValidationFailed
from caseflow.models import Deadline, EscalationNotice, EscalationRun, LedgerEntry, RollCall, utcnow
from caseflow.services import transition
from caseflow.services.duty import log as duty_log

from .duty_support import lead_actor, plan


@pytest.fixture
def on_duty(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    return shifts[0]


def test_unanswered_roll_call_escalates_and_a_late_answer_stops_it(app, session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    asked = utcnow()
    entry = duty_log.record(session, catalog, world.street.id, "roll_call", actor=world.actor("duty_officer"),
                            asked_at=asked.isoformat(), summary="区城运中心视频点名")
    roll = session.execute(select(RollCall).where(RollCall.log_entry_id == entry.id)).scalar_one()
    row = session.execute(select(Deadline).where(Deadline.item_type == "roll_call", Deadline.item_id == roll.id)).scalar_one()
    minutes = app.config.get("ROLL_CALL_ANSWER_MIN") or 5
    assert abs((row.due_at - (asked + timedelta(minutes=minutes))).total_seconds()) < 1
    assert fire_deadline(session, catalog, row.id).result == "early"  # never before its time
    session.execute(update(Deadline).where(Deadline.id == row.id).values(due_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert fire_deadline(session, catalog, row.id).result == "fired"
    run = session.execute(select(EscalationRun).where(EscalationRun.item_type == "roll_call")).scalar_one()
    assert run.chain == "unanswered_roll_call" and run.steps[0]["mode"] == "normal"
    assert advance(session, catalog, run.id) == "notified"
    told = set(session.execute(select(EscalationNotice.person_id).where(EscalationNotice.run_id == run.id)).scalars())
    assert world.people["duty_lead"].id in told  # the shift lead on duty
    answered = duty_log.answer_roll_call(session, catalog, entry.id, actor=world.actor("duty_officer"))
    assert answered.answered_by_id == world.people["duty_officer"].id and answered.answered_at is not None
    last = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "roll_call")
                           .order_by(LedgerEntry.seq.desc()).limit(1)).scalar_one()
    assert last.trigger == "answer" and last.payload["late"] is True
    session.execute(update(EscalationRun).where(EscalationRun.id == run.id).values(next_at=utcnow()))
    session.commit()
    assert advance(session, catalog, run.id) == "stopped"  # answering ends the escalation


def test_answered_in_time_never_escalates(session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    entry = duty_log.record(session, catalog, world.street.id, "roll_call", actor=world.actor("duty_officer"))
    duty_log.answer_roll_call(session, catalog, entry.id, actor=world.actor("duty_lead"))
    row = session.execute(select(Deadline).where(Deadline.item_type == "roll_call")).scalar_one()
    assert row.status == "cancelled"
    assert fire_deadline(session, catalog, row.id).result == "already cancelled"
    assert session.execute(select(EscalationRun)).first() is None


def test_log_entries_validate_their_type(session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    officer = world.actor("duty_officer")
    with pytest.raises(ValidationFailed) as exc:
        duty_log.record(session, catalog, world.street.id, "visitor", actor=officer, asked="咨询低保")
    assert exc.value.field == "explained"  # never turned away without a record
    with pytest.raises(ValidationFailed) as exc:
        duty_log.record(session, catalog, world.street.id, "fax", actor=officer, summary="x")
    assert exc.value.field == "type"
    with pytest.raises(ValidationFailed) as exc:
        duty_log.record(session, catalog, world.street.id, "call_help", actor=officer, summary="求助", instruction_id=999)
    assert exc.value.field == "instruction_id"
    with pytest.raises(PermissionDenied):
        duty_log.record(session, catalog, world.street.id, "note", actor=world.actor("liaison"), summary="x")
    call = duty_log.record(session, catalog, world.street.id, "call_complaint", actor=officer, summary="投诉占道经营",
                           contact="138****0000")
    assert (call.shift_id, call.type) == (on_duty.id, "call_complaint")
    doc = duty_log.record(session, catalog, world.street.id, "urgent_document", actor=officer, summary="紧急公文")
    with pytest.raises(ValidationFailed) as exc:
        duty_log.report_urgent_document(session, doc.id, world.people["liaison"].id, "x", actor=officer)
    assert exc.value.field == "reported_to_id"


def test_log_entries_link_to_cases_and_instructions(session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    from caseflow.services.cases import intake

    from .duty_support import running_instruction

    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="占道经营",
                            category_code="garbage", address="和平路 5 号", grid_id=world.grid_main.id)
    ins = running_instruction(session, catalog, world)
    entry = duty_log.record(session, catalog, world.street.id, "call_complaint", actor=world.actor("duty_officer"),
                            summary="来电催办占道经营", case_id=str(case.id), instruction_id=ins.id)
    session.expire_all()
    again = duty_log.entry(session, entry.id)
    assert (again.case_id, again.instruction_id, again.shift_id) == (case.id, ins.id, on_duty.id)
    with pytest.raises(ValidationFailed) as exc:
        duty_log.record(session, catalog, world.street.id, "note", actor=world.actor("duty_officer"), summary="x",
                        case_id="abc")
    assert exc.value.field == "case_id"
