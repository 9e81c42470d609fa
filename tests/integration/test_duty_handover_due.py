"""The 08:30 handover is due whether or not anyone opens it: the deadline is armed on the shift
when it goes on duty and escalates to the leaders through the ordinary deadline machinery."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select, update

from caseflow.deadlines import sweeper
from caseflow.deadlines.escalation import advance
from caseflow.models import Deadline, EscalationNotice, EscalationRun, LedgerEntry, utcnow
from caseflow.services import transition
from caseflow.services.duty import handover as hs
from caseflow.services.duty import handover_clock

from .duty_support import lead_actor, plan, shift, today


def _shift_deadline(session, shift_id, status=None):  # type: ignore[no-untyped-def]
    session.expire_all()
    query = select(Deadline).where(Deadline.item_type == "duty_shift", Deadline.item_id == shift_id,
                                   Deadline.key == "handover")
    if status:
        query = query.where(Deadline.status == status)
    return session.execute(query).scalars().all()


def _grace(app) -> timedelta:  # type: ignore[no-untyped-def]
    return timedelta(minutes=int(app.config.get("HANDOVER_GRACE_MIN") or 30))


def test_going_on_duty_arms_the_handover_deadline_at_0830_plus_grace(app, session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=3, first_day=today() + timedelta(days=1))
    first = shifts[0]
    assert _shift_deadline(session, first.id) == []  # a planned shift has no deadline yet
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    [row] = _shift_deadline(session, first.id, "pending")
    lag = (row.due_at - (first.ends_at + _grace(app))).total_seconds()
    assert 0 <= lag < 1  # the shift's end plus the grace (to the second), not "1d30m after it started"
    assert row.on_expiry == {"escalation": "late_handover"}
    # A handover completed normally: the next shift goes on duty with its own deadline, and
    # opening the handover cancelled the outgoing shift's (the handover's own took over).
    out_lead, in_lead = lead_actor(world, first), lead_actor(world, shifts[1])
    h = hs.open_handover(session, catalog, first.id, actor=out_lead)
    assert [d.status for d in _shift_deadline(session, first.id)] == ["cancelled"]
    hs.submit(session, catalog, h.id, actor=out_lead)
    hs.accept_all(session, catalog, h.id, actor=in_lead)
    hs.complete(session, catalog, h.id, actor=in_lead)
    [nxt] = _shift_deadline(session, shifts[1].id, "pending")
    assert 0 <= (nxt.due_at - (shift(session, shifts[1].id).ends_at + _grace(app))).total_seconds() < 1


def test_a_handover_nobody_opens_escalates_to_the_leaders(app, session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2, first_day=today() + timedelta(days=1))
    first = shifts[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    [row] = _shift_deadline(session, first.id, "pending")
    # 08:30 + grace has passed and nobody opened the handover: the sweep (as after a lost RQ job)
    # fires the deadline like any other.
    session.execute(update(Deadline).where(Deadline.id == row.id).values(due_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    report = sweeper.sweep_once(session, catalog)
    assert report.fired >= 1 and not [e for e in report.errors if "deadline" in e]
    [fired] = _shift_deadline(session, first.id)
    assert fired.status == "fired"
    run = session.execute(select(EscalationRun).where(
        EscalationRun.item_type == "duty_shift", EscalationRun.item_id == first.id)).scalar_one()
    assert run.chain == "late_handover" and run.steps[0]["mode"] == "normal"
    assert advance(session, catalog, run.id) == "notified"
    told = set(session.execute(select(EscalationNotice.person_id).where(EscalationNotice.run_id == run.id)).scalars())
    # The center's leaders and the lead who has not opened it.
    assert {world.people["deputy"].id, world.people["principal"].id, world.people["duty_lead"].id} <= told
    triggers = list(session.execute(select(LedgerEntry.trigger).where(
        LedgerEntry.item_type == "duty_shift", LedgerEntry.item_id == first.id).order_by(LedgerEntry.seq)).scalars())
    assert "deadline:handover" in triggers and "escalate:late_handover" in triggers
    # Opening it now stops the shift's chain; the handover's own deadline is already due.
    h = hs.open_handover(session, catalog, first.id, actor=lead_actor(world, first))
    session.execute(update(EscalationRun).where(EscalationRun.id == run.id).values(next_at=utcnow()))
    session.commit()
    assert advance(session, catalog, run.id) == "stopped"
    own = session.execute(select(Deadline).where(Deadline.item_type == "handover", Deadline.item_id == h.id,
                                                 Deadline.status == "pending")).scalar_one()
    assert own.due_at == first.ends_at + _grace(app)


def test_the_sweeper_arms_shifts_on_duty_without_the_deadline(app, session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2, first_day=today() + timedelta(days=1))
    first = shifts[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    # A shift that went on duty before the deadline existed has no row.
    session.execute(delete(Deadline).where(Deadline.item_type == "duty_shift", Deadline.item_id == first.id))
    session.commit()
    assert handover_clock.arm_missing(session, catalog) == 1
    [row] = _shift_deadline(session, first.id, "pending")
    assert row.due_at == first.ends_at + _grace(app) and row.state_seq == shift(session, first.id).state_seq
    assert handover_clock.arm_missing(session, catalog) == 0  # once only
    report = sweeper.sweep_once(session, catalog)
    assert report.housekeeping["handover_deadlines"] == 0
    # Planned shifts are not armed: their clock starts when they go on duty.
    assert _shift_deadline(session, shifts[1].id) == []
