"""Rota gaps, swaps and emergency mode (平急转换)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from caseflow.deadlines.emergency import emergency_active
from caseflow.deadlines.firing import fire_deadline
from caseflow.errors import Conflict, ValidationFailed
from caseflow.models import Deadline, DutyShift, EscalationRun, LedgerEntry, Notification, utcnow
from caseflow.services.duty import emergency, rota, special_periods

from .duty_support import plan, running_instruction, today


def _gap_notices(session, shift_id=None):  # type: ignore[no-untyped-def]
    return [n for n in session.execute(select(Notification)).scalars() if n.payload.get("kind") == "rota_gap"
            and (shift_id is None or n.payload.get("shift_id") == shift_id)]


def test_gaps_are_warned_to_the_centers_leaders_once(session, catalog, world):  # type: ignore[no-untyped-def]
    day = today()
    shifts = plan(session, catalog, world, days=3, first_day=day - timedelta(days=1))
    gaps = rota.find_gaps(session, world.street.id, 3)
    assert {g.shift_id for g in gaps} == {0}  # lead + officer = minimum 2 on ordinary days
    assert all(g.reasons == ["no_shift"] for g in gaps)  # only the days beyond the rota
    rows = rota.warn_gaps(session, world.street.id, 3)
    assert rows and {r.person_id for r in rows} == {world.people["deputy"].id, world.people["principal"].id}
    assert rota.warn_gaps(session, world.street.id, 3) == []  # the same gap is warned once
    # A sensitive period declared after publication: tomorrow's shift now needs a leader on shift,
    # and the center's leaders hear of it at once.
    special_periods.declare_period(session, world.street.id, "sensitive", "两会", day + timedelta(days=1),
                                   day + timedelta(days=1), actor=world.actor("admin"), min_staff=2)
    by_shift = {g.shift_id: g for g in rota.find_gaps(session, world.street.id, 3)}
    assert by_shift[shifts[2].id].reasons == ["no_leader_on_shift"]
    assert by_shift[shifts[2].id].special == "两会 (敏感时期)"
    warned = _gap_notices(session, shifts[2].id)
    assert {n.person_id for n in warned} == {world.people["deputy"].id, world.people["principal"].id}
    assert all("两会" in n.subject and "无带班领导" in n.subject and "须有带班领导" in n.body for n in warned)
    assert rota.warn_gaps(session, world.street.id, 3) == []
    rota.assign(session, shifts[2].id, world.people["deputy"].id, "leader_on_shift", actor=world.actor("admin"))
    assert shifts[2].id not in {g.shift_id for g in rota.find_gaps(session, world.street.id, 3)}
    with pytest.raises(ValidationFailed) as exc:
        rota.assign(session, shifts[2].id, world.people["liaison"].id, "duty_officer", actor=world.actor("admin"))
    assert exc.value.field == "person_id"


def test_swap_requested_and_approved(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2, first_day=today() + timedelta(days=1))
    target = shifts[0]
    assert target.lead_id == world.people["duty_lead"].id
    swap = rota.request_swap(session, target.id, world.people["duty_lead"].id, world.people["duty_lead2"].id,
                             "家中有事", actor=world.actor("duty_lead"))
    with pytest.raises(ValidationFailed):
        rota.request_swap(session, target.id, world.people["duty_lead"].id, world.people["liaison"].id, "x",
                          actor=world.actor("duty_lead"))
    done = rota.decide_swap(session, swap.id, True, actor=world.actor("principal"))
    assert done.status == "approved"
    assert session.get(DutyShift, target.id).lead_id == world.people["duty_lead2"].id
    with pytest.raises(Conflict):
        rota.decide_swap(session, swap.id, True, actor=world.actor("principal"))
    assert "swap" in session.execute(select(LedgerEntry.trigger).where(
        LedgerEntry.item_type == "duty_shift", LedgerEntry.item_id == target.id)).scalars().all()


def test_emergency_mode_raises_staffing_and_shortens_chains(session, catalog, world):  # type: ignore[no-untyped-def]
    plan(session, catalog, world, days=3)
    assert rota.find_gaps(session, world.street.id, 1) == []  # lead + officer: enough in normal mode
    with pytest.raises(ValidationFailed) as exc:
        emergency.declare(session, world.street.id, "typhoon", "", "全街道", actor=world.actor("principal"))
    assert exc.value.field == "reason"
    period = emergency.declare(session, world.street.id, "typhoon", "台风“梅花”登陆", "全街道",
                               actor=world.actor("principal"))
    assert emergency_active(session, world.street.id)
    gaps = [g for g in rota.find_gaps(session, world.street.id, 1) if g.shift_id]
    assert gaps and all({"under_minimum", "no_leader_on_shift"} <= set(g.reasons) for g in gaps)
    assert {n.person_id for n in _gap_notices(session)} == {world.people["deputy"].id, world.people["principal"].id}
    with pytest.raises(Conflict):
        emergency.declare(session, world.street.id, "snow_ice", "again", "x", actor=world.actor("principal"))

    ins = running_instruction(session, catalog, world)
    row = session.execute(select(Deadline).where(Deadline.item_type == "instruction", Deadline.item_id == ins.id,
                                                 Deadline.key == "arrival")).scalar_one()
    session.execute(update(Deadline).where(Deadline.id == row.id).values(due_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert fire_deadline(session, catalog, row.id).result == "fired"
    run = session.execute(select(EscalationRun).where(EscalationRun.chain == "late_arrival")).scalar_one()
    assert [s["mode"] for s in run.steps] == ["emergency", "emergency"]
    assert [s["after_s"] for s in run.steps] == [0, 300]  # 5m instead of the normal 10m

    with pytest.raises(ValidationFailed) as exc:
        emergency.end(session, period.id, "  ", actor=world.actor("principal"))
    assert exc.value.field == "summary"
    emergency.end(session, period.id, "无人员伤亡, 转移群众 120 人", actor=world.actor("principal"))
    assert not emergency_active(session, world.street.id)
    switches = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "center", LedgerEntry.item_id == world.street.id).order_by(LedgerEntry.seq)).scalars().all()
    assert [(e.trigger, e.from_state, e.to_state) for e in switches] == [
        ("declare_emergency", "normal", "emergency"), ("end_emergency", "emergency", "normal")]
    assert switches[1].prev_hash == switches[0].hash
