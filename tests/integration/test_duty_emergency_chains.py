"""Emergency mode switches escalation chains already running to their emergency variants; ending
it leaves running chains on the steps they have."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from caseflow.deadlines import sweeper
from caseflow.deadlines.emergency_switch import switch_running_chains, switched_position
from caseflow.deadlines.escalation import advance
from caseflow.models import EmergencyPeriod, EscalationRun, LedgerEntry, utcnow
from caseflow.services.duty import emergency

from .test_escalation import late_instruction, make_due, notices, pid


def _run(session, run_id):  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(EscalationRun, run_id)


def test_declaring_emergency_switches_a_running_chain(session, catalog, world):  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    assert [s["mode"] for s in run.steps] == ["normal", "normal"]
    assert advance(session, catalog, run.id) == "notified"  # round 1 of 4: unit head, action-group leader
    run = _run(session, run.id)
    sent_at = run.next_at - timedelta(minutes=10)  # the normal chain waits 10m for the deputy
    assert (run.step_index, run.repeat_index) == (1, 0)

    emergency.declare(session, world.street.id, "typhoon", "台风登陆", "全街道", actor=world.actor("principal"))
    run = _run(session, run.id)
    assert [s["mode"] for s in run.steps] == ["emergency", "emergency"]
    # One round was sent, so the run goes on at the emergency chain's second round (the principal
    # leader), 5m after the first round instead of 10m.
    assert (run.step_index, run.repeat_index) == (1, 0)
    assert abs((run.next_at - (sent_at + timedelta(minutes=5))).total_seconds()) < 1
    [entry] = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == ins.id,
        LedgerEntry.trigger == "emergency_steps:late_arrival")).scalars().all()
    assert entry.payload["before"]["rounds_sent"] == 1 and entry.payload["to"] == "emergency"
    assert switch_running_chains(session, catalog, world.street.id) == 0  # once only

    make_due(session, run.id)
    assert advance(session, catalog, run.id) == "notified"
    assert notices(session, run.id)[-1] == (1, 0, "principal_leader", pid(world, "principal"))
    run = _run(session, run.id)
    assert run.next_at is not None and (run.next_at - utcnow()) <= timedelta(minutes=5)  # every 5m now


def test_ending_emergency_leaves_running_chains_on_their_steps(session, catalog, world):  # type: ignore[no-untyped-def]
    period = emergency.declare(session, world.street.id, "snow_ice", "冰冻", "主干道", actor=world.actor("principal"))
    _, run = late_instruction(session, catalog, world)
    assert {s["mode"] for s in run.steps} == {"emergency"}  # started in emergency mode
    emergency.end(session, period.id, "道路已通行", actor=world.actor("principal"))
    report = sweeper.sweep_once(session, catalog)
    assert report.housekeeping["emergency_chains"] == 0
    run = _run(session, run.id)
    assert {s["mode"] for s in run.steps} == {"emergency"} and run.status == "active"
    # A chain that starts after the end is normal again.
    _, later = late_instruction(session, catalog, world, number="110-E9")
    assert {s["mode"] for s in later.steps} == {"normal"}


def test_the_sweep_switches_a_chain_the_declaration_missed(app, session, catalog, world, monkeypatch):  # type: ignore[no-untyped-def]
    _, run = late_instruction(session, catalog, world)
    # Emergency mode came into force without the switch running (e.g. a chain that started
    # while the declaration was committing): the next sweep switches it.
    session.add(EmergencyPeriod(center_id=world.street.id, kind="other", reason="演练", scope="全街道",
                                started_at=utcnow()))
    session.commit()
    report = sweeper.sweep_once(session, catalog)
    assert report.housekeeping["emergency_chains"] == 1
    assert {s["mode"] for s in _run(session, run.id).steps} == {"emergency"}
    # The EMERGENCY_MODE setting (a drill) switches too; another center's does not.
    session.execute(select(EmergencyPeriod)).scalar_one().ended_at = utcnow()
    session.commit()
    _, other = late_instruction(session, catalog, world, number="110-E2")
    monkeypatch.setitem(app.config, "EMERGENCY_MODE", "D01")
    assert switch_running_chains(session, catalog) == 0
    monkeypatch.setitem(app.config, "EMERGENCY_MODE", "S01")
    assert switch_running_chains(session, catalog) == 1
    assert {s["mode"] for s in _run(session, other.id).steps} == {"emergency"}


def test_switched_position_keeps_the_rounds_sent():  # type: ignore[no-untyped-def]
    now = utcnow()

    def step(after_s, repeat=0, every_s=0, mode="normal"):  # type: ignore[no-untyped-def]
        return {"after_s": after_s, "repeat": repeat, "every_s": every_s, "mode": mode, "notify": ["leader"]}

    normal = [step(0, repeat=1, every_s=600), step(1800)]
    # Two rounds sent (the chain waits 30m for its third); the emergency chain has only two.
    run = EscalationRun(steps=normal, step_index=1, repeat_index=0, next_at=now + timedelta(minutes=25),
                        started_at=now - timedelta(minutes=15))
    short = [step(0, mode="emergency"), step(120, mode="emergency")]
    # Its last round once more, 2m after the last round sent (5 minutes ago): due now.
    assert switched_position(run, short, now) == (1, 0, now)
    # Nothing sent yet (first round in 10m): the emergency first round comes sooner, never later.
    fresh = EscalationRun(steps=[step(600)], step_index=0, repeat_index=0, next_at=now + timedelta(minutes=10),
                          started_at=now)
    assert switched_position(fresh, [step(60, mode="emergency")], now) == (0, 0, now + timedelta(minutes=1))
    assert switched_position(fresh, [step(3600, mode="emergency")], now) == (0, 0, now + timedelta(minutes=10))
