"""Escalation chains: started by a fired arrival deadline, rounds to the right people, repeats,
stop conditions, acknowledgement, copied steps, emergency steps and the RQ job."""
from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import func, select, update

from caseflow.deadlines import escalation, firing
from caseflow.deadlines.targets import resolve_targets
from caseflow.errors import Conflict, PermissionDenied
from caseflow.extensions import get_queue, get_redis
from caseflow.jobs import escalations as escalation_jobs
from caseflow.models import (
    AccessDenial,
    Deadline,
    DutyShift,
    EscalationNotice,
    EscalationRun,
    Instruction,
    LedgerEntry,
    Notification,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.workflow.definition import EscalationSpec, StepSpec
from caseflow.workflow.engine import WorkflowCatalog


# --- helpers (also used by tests/api/test_escalations_api.py) --------------------------------

def dispatched_instruction(session, catalog, world, number="110-E1", **kw):  # type: ignore[no-untyped-def]
    """An instruction signed and dispatched to sanitation by the liaison."""
    ins = Instruction(number=number, received_at=utcnow(), category_id=world.cat_garbage.id,
                      area_kind="main_urban", description="路面垃圾堆积", **kw)
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"))
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=world.actor("liaison"),
                    data={"department_id": world.sanitation.id})
    return ins


def fire_row(session, catalog, item, key):  # type: ignore[no-untyped-def]
    """Move the item's pending ``key`` deadline into the past and fire it."""
    row = session.execute(select(Deadline).where(
        Deadline.item_type == item.item_type, Deadline.item_id == item.id, Deadline.key == key,
        Deadline.status == "pending")).scalar_one()
    session.execute(update(Deadline).where(Deadline.id == row.id).values(due_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert firing.fire_deadline(session, catalog, row.id).result == "fired"
    return row


def late_instruction(session, catalog, world, number="110-E1", catalog_for_start=None):  # type: ignore[no-untyped-def]
    """A dispatched instruction whose arrival deadline has fired; returns (instruction, run)."""
    ins = dispatched_instruction(session, catalog, world, number)
    row = fire_row(session, catalog_for_start or catalog, ins, "arrival")
    run = session.execute(select(EscalationRun).where(EscalationRun.deadline_id == row.id)).scalar_one()
    return ins, run


def make_due(session, run_id: int) -> None:  # type: ignore[no-untyped-def]
    """Pretend the run's next round fell due a second ago."""
    session.execute(update(EscalationRun).where(EscalationRun.id == run_id)
                    .values(next_at=utcnow() - timedelta(seconds=1)))
    session.commit()


def notices(session, run_id: int) -> list[tuple[int, int, str, int]]:  # type: ignore[no-untyped-def]
    """(step, repeat, target, person id) of every notice of a run, in order."""
    return [tuple(r) for r in session.execute(
        select(EscalationNotice.step_index, EscalationNotice.repeat_index, EscalationNotice.target,
               EscalationNotice.person_id).where(EscalationNotice.run_id == run_id).order_by(EscalationNotice.id)
    ).all()]


def escalate_entries(session, item, chain="late_arrival"):  # type: ignore[no-untyped-def]
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == item.item_type, LedgerEntry.item_id == item.id,
        LedgerEntry.trigger == f"escalate:{chain}").order_by(LedgerEntry.seq)).scalars())


def pid(world, name: str) -> int:  # type: ignore[no-untyped-def]
    return world.people[name].id


# --- starting ---------------------------------------------------------------------------------

def test_fired_arrival_deadline_starts_the_chain(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    before = utcnow()
    ins, run = late_instruction(session, catalog, world)
    session.refresh(ins)
    assert ins.state == "late"  # the expiry trigger ran, and the chain watches that state visit
    assert (run.state, run.state_seq, run.status, run.chain) == ("late", ins.state_seq, "active", "late_arrival")
    assert run.steps == [
        {"after": "0m", "after_s": 0, "notify": ["unit_head", "action_group_leader"], "repeat": 0,
         "every": "0m", "every_s": 0, "mode": "normal"},
        {"after": "10m", "after_s": 600, "notify": ["deputy_leader_in_charge"], "repeat": 2,
         "every": "10m", "every_s": 600, "mode": "normal"},
    ]
    assert before <= run.next_at <= utcnow()  # first step after 0m
    queue = get_queue(app.config["DEADLINE_QUEUE"])
    assert escalation.escalation_job_id(run.id, 0) in queue.scheduled_job_registry.get_job_ids()
    job = Job.fetch(escalation.escalation_job_id(run.id, 0), connection=get_redis())
    assert job.func_name == escalation.ADVANCE_JOB and job.args == (run.id,)


def test_starting_twice_for_one_state_visit_returns_the_same_run(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    from caseflow.effects import Effects

    ins, run = late_instruction(session, catalog, world)
    item = transition.lock_item(session, "instruction", ins.id)
    again = escalation.start_chain(session, catalog, item, "late_arrival", utcnow(), Effects())
    session.commit()
    assert again.id == run.id
    assert session.execute(select(func.count()).select_from(EscalationRun)).scalar_one() == 1


# --- rounds -----------------------------------------------------------------------------------

def test_rounds_tell_the_right_people_and_repeat(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    assert escalation.advance(session, catalog, run.id) == "notified"
    assert notices(session, run.id) == [
        (0, 0, "unit_head", pid(world, "san_head")),
        (0, 0, "action_group_leader", pid(world, "san_group_leader")),
    ]
    session.refresh(run)
    assert (run.step_index, run.repeat_index, run.status) == (1, 0, "active")
    # The second step waits its own 10 minutes.
    assert timedelta(seconds=598) < run.next_at - utcnow() <= timedelta(seconds=600)
    # Each person is told by e-mail (their default channel) through the outbox.
    mails = session.execute(select(Notification.person_id, Notification.channel, Notification.address)
                            .order_by(Notification.id)).all()
    assert [tuple(m) for m in mails] == [
        (pid(world, "san_head"), "email", "san_head@example.test"),
        (pid(world, "san_group_leader"), "email", "san_group_leader@example.test"),
    ]
    first = session.execute(select(Notification).order_by(Notification.id)).scalars().first()
    assert "超时未到场" in first.subject and "110-E1" in first.subject
    assert first.payload["run_id"] == run.id and first.payload["target"] == "unit_head"
    [entry] = escalate_entries(session, ins)
    assert entry.actor_role == "system" and entry.client == "escalation"
    assert entry.from_state == entry.to_state == "late"
    assert [n["person_id"] for n in entry.payload["notified"]] == [pid(world, "san_head"), pid(world, "san_group_leader")]

    # Step 2: the deputy leader in charge of the category's field, 1 + 2 repeats.
    for expected_repeat in (0, 1, 2):
        make_due(session, run.id)
        assert escalation.advance(session, catalog, run.id) == "notified"
        assert notices(session, run.id)[-1] == (1, expected_repeat, "deputy_leader_in_charge", pid(world, "deputy"))
        session.refresh(run)
        if expected_repeat < 2:
            assert run.repeat_index == expected_repeat + 1
            assert timedelta(seconds=598) < run.next_at - utcnow() <= timedelta(seconds=600)
    assert run.status == "done" and run.next_at is None
    assert len(notices(session, run.id)) == 5
    assert [e.payload["repeat"] for e in escalate_entries(session, ins)] == [0, 0, 1, 2]
    assert escalation.advance(session, catalog, run.id) == "already done"
    assert len(notices(session, run.id)) == 5


def test_never_early(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    assert escalation.advance(session, catalog, run.id) == "notified"
    assert escalation.advance(session, catalog, run.id) == "early"
    assert len(notices(session, run.id)) == 2
    assert len(escalate_entries(session, ins)) == 1


def test_stops_when_the_item_leaves_the_state(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    assert escalation.advance(session, catalog, run.id) == "notified"
    transition.fire(session, catalog, "instruction", ins.id, "arrive", actor=world.actor("san_handler"),
                    data={"situation": "已到场，正在清运"})
    make_due(session, run.id)
    assert escalation.advance(session, catalog, run.id) == "stopped"
    session.refresh(run)
    assert run.status == "stopped" and run.next_at is None
    assert len(notices(session, run.id)) == 2  # the deputy was never bothered
    assert escalation.advance(session, catalog, run.id) == "already stopped"
    assert not session.in_transaction()  # nothing reloaded after its rollback (no idle transaction)


def test_explaining_a_delay_does_not_stop_the_chain(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    # explain_delay stays in 'late' (no new state visit): the chain goes on.
    transition.fire(session, catalog, "instruction", ins.id, "explain_delay", actor=world.actor("san_handler"),
                    data={"reason": "道路拥堵"})
    make_due(session, run.id)
    assert escalation.advance(session, catalog, run.id) == "notified"
    assert notices(session, run.id)[-1][2] == "deputy_leader_in_charge"


# --- acknowledging ----------------------------------------------------------------------------

def test_acknowledge_stops_further_rounds(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    acked = escalation.acknowledge(session, run.id, world.actor("san_head"), comment="马上到")
    assert acked.status == "acknowledged" and acked.acknowledged_by_id == pid(world, "san_head")
    assert acked.acknowledged_at is not None and acked.next_at is None
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_id == ins.id, LedgerEntry.trigger == "acknowledge:late_arrival")).scalar_one()
    assert entry.actor_id == pid(world, "san_head") and entry.comment == "马上到"
    assert entry.payload["previous_status"] == "active"
    make_due(session, run.id)
    assert escalation.advance(session, catalog, run.id) == "already acknowledged"
    assert len(notices(session, run.id)) == 2
    with pytest.raises(Conflict):
        escalation.acknowledge(session, run.id, world.actor("deputy"))


def test_who_may_acknowledge(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    # Before the first round nobody has been told: a handler of the unit may not acknowledge yet.
    with pytest.raises(PermissionDenied):
        escalation.acknowledge(session, run.id, world.actor("san_head"))
    escalation.advance(session, catalog, run.id)
    for outsider in ("road_handler", "san_handler", "liaison"):
        with pytest.raises(PermissionDenied):
            escalation.acknowledge(session, run.id, world.actor(outsider))
    denials = session.execute(select(AccessDenial.action, AccessDenial.target)).all()
    assert len(denials) == 4 and all(tuple(d) == ("acknowledge", f"escalation {run.id}") for d in denials)
    session.refresh(run)
    assert run.status == "active"
    # A duty lead was never told but may take it on.
    assert escalation.acknowledge(session, run.id, world.actor("duty_lead")).status == "acknowledged"


def test_leaders_may_acknowledge_and_a_finished_run_too(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    for _ in range(4):
        make_due(session, run.id)
        assert escalation.advance(session, catalog, run.id) == "notified"
    session.refresh(run)
    assert run.status == "done"
    acked = escalation.acknowledge(session, run.id, world.actor("principal"))
    assert acked.status == "acknowledged" and acked.acknowledged_by_id == pid(world, "principal")


# --- copied steps -----------------------------------------------------------------------------

def _catalog_with_chain(catalog, steps):  # type: ignore[no-untyped-def]
    """A second catalog whose instruction workflow has a different late_arrival chain."""
    defs = []
    for d in catalog.all():
        if d.name == "instruction":
            escalations = dict(d.escalations)
            escalations["late_arrival"] = EscalationSpec(name="late_arrival", steps=tuple(steps), emergency_steps=())
            d = dataclasses.replace(d, escalations=escalations)
        defs.append(d)
    return WorkflowCatalog(defs)


def test_a_chain_in_flight_keeps_its_copied_steps(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    edited = _catalog_with_chain(catalog, [StepSpec(after="1m", notify=("principal_leader",), repeat=0, every="1m")])
    ins, run = late_instruction(session, catalog, world)
    # The definition changes (a reload with an edited YAML) while the chain runs.
    assert escalation.advance(session, edited, run.id) == "notified"
    make_due(session, run.id)
    assert escalation.advance(session, edited, run.id) == "notified"
    assert [n[2] for n in notices(session, run.id)] == ["unit_head", "action_group_leader", "deputy_leader_in_charge"]
    assert pid(world, "principal") not in {n[3] for n in notices(session, run.id)}
    # And the other way round: a run started on the edited chain keeps it.
    ins2, run2 = late_instruction(session, catalog, world, number="110-E2", catalog_for_start=edited)
    assert [s["notify"] for s in run2.steps] == [["principal_leader"]]
    make_due(session, run2.id)
    assert escalation.advance(session, catalog, run2.id) == "notified"
    assert notices(session, run2.id) == [(0, 0, "principal_leader", pid(world, "principal"))]
    session.refresh(run2)
    assert run2.status == "done"


# --- emergency mode and targets ---------------------------------------------------------------

def test_emergency_mode_uses_emergency_steps(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "EMERGENCY_MODE", world.street.code)
    ins, run = late_instruction(session, catalog, world)
    assert [s["notify"] for s in run.steps] == [
        ["unit_head", "action_group_leader", "deputy_leader_in_charge"], ["principal_leader"]]
    assert {s["mode"] for s in run.steps} == {"emergency"}
    assert escalation.advance(session, catalog, run.id) == "notified"
    assert {n[3] for n in notices(session, run.id)} == {
        pid(world, "san_head"), pid(world, "san_group_leader"), pid(world, "deputy")}
    # Another center's emergency does not switch this one.
    monkeypatch.setitem(app.config, "EMERGENCY_MODE", "OTHER")
    _, run2 = late_instruction(session, catalog, world, number="110-E2")
    assert {s["mode"] for s in run2.steps} == {"normal"}


def _on_duty_shift(session, catalog, world, lead, leader):  # type: ignore[no-untyped-def]
    now = utcnow()
    shift = DutyShift(center_id=world.street.id, starts_at=now - timedelta(hours=1),
                      ends_at=now + timedelta(hours=23), lead_id=lead.id, leader_on_shift_id=leader.id)
    transition.start(session, catalog, shift, workflow="duty_shift", actor=Actor.system(), role="system")
    transition.fire(session, catalog, "duty_shift", shift.id, "start", actor=Actor.system())
    return shift


def test_unsigned_instruction_tells_the_shift_lead_on_duty(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = Instruction(number="110-U1", received_at=utcnow(), category_id=world.cat_garbage.id,
                      grid_id=world.grid_main.id)
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    # No shift on duty yet: the round finds nobody, and the ledger says so.
    row = fire_row(session, catalog, ins, "sign")
    run = session.execute(select(EscalationRun).where(EscalationRun.deadline_id == row.id)).scalar_one()
    assert run.state == "received"
    assert escalation.advance(session, catalog, run.id) == "notified"
    [entry] = escalate_entries(session, ins, "unsigned")
    assert entry.payload["unresolved"] == ["shift_lead_on_duty"] and entry.payload["notified"] == []
    _on_duty_shift(session, catalog, world, world.people["duty_lead"], world.people["principal"])
    make_due(session, run.id)
    assert escalation.advance(session, catalog, run.id) == "notified"
    assert notices(session, run.id) == [(0, 1, "shift_lead_on_duty", pid(world, "duty_lead"))]


def test_resolve_targets(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = dispatched_instruction(session, catalog, world)
    names = lambda target: [p.username for p in resolve_targets(session, ins, target)]  # noqa: E731
    assert names("unit_head") == ["san_head"]
    assert names("action_group_leader") == ["san_group_leader"]
    assert names("deputy_leader_in_charge") == ["deputy"]
    assert names("principal_leader") == ["principal"]
    assert names("shift_lead_on_duty") == [] and names("leader_on_shift") == []
    assert names("duty_lead") == ["duty_lead", "duty_lead2"]
    assert names("admin") == ["admin"]
    # A category whose field has no deputy of its own falls back to any deputy of the center.
    world.cat_garbage.field = "water"
    session.commit()
    assert names("deputy_leader_in_charge") == ["deputy"]
    # Inactive people are never told.
    world.people["duty_lead2"].active = False
    session.commit()
    assert names("duty_lead") == ["duty_lead"]
    _on_duty_shift(session, catalog, world, world.people["duty_lead"], world.people["principal"])
    assert names("shift_lead_on_duty") == ["duty_lead"] and names("leader_on_shift") == ["principal"]
    with pytest.raises(ValueError):
        resolve_targets(session, ins, "nobody")


def test_preferred_channels(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    head = world.people["san_head"]
    head.phone = "13800000001"
    head.channels = ["wecom:https://qyapi.example.test/cgi-bin/webhook/send?key=abc", "sms", "pager"]
    leader = world.people["san_group_leader"]
    leader.email = ""
    leader.channels = []
    session.commit()
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    rows = session.execute(select(Notification.person_id, Notification.channel, Notification.address,
                                  Notification.payload).order_by(Notification.id)).all()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (head.id, "wecom", "https://qyapi.example.test/cgi-bin/webhook/send?key=abc"),
        (head.id, "sms", "13800000001"),
    ]
    assert rows[0][3]["mentioned_mobile_list"] == ["13800000001"]
    [entry] = escalate_entries(session, ins)
    # The group leader has no channel: still told in the console, listed as unreachable.
    assert entry.payload["unreachable"] == [leader.id]
    assert (0, 0, "action_group_leader", leader.id) in notices(session, run.id)


# --- jobs and sweeping ------------------------------------------------------------------------

def test_advance_job_on_a_real_worker(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    run_id = run.id
    queue = get_queue(app.config["DEADLINE_QUEUE"])
    # The scheduled round is due now; enqueue it as the scheduler would and let a worker run it.
    queue.enqueue(escalation.ADVANCE_JOB, run_id, job_id=escalation.escalation_job_id(run_id, 0))
    assert SimpleWorker([queue], connection=get_redis()).work(burst=True) is True
    job = Job.fetch(escalation.escalation_job_id(run_id, 0), connection=get_redis())
    assert job.get_status() == "finished" and job.return_value() == "notified"
    assert len(notices(session, run_id)) == 2
    # The next round was scheduled after commit with its own id.
    assert escalation.escalation_job_id(run_id, 1) in queue.scheduled_job_registry.get_job_ids()
    # Calling the job function directly again is harmless.
    assert escalation_jobs.advance_escalation(run_id) == "early"


def test_sweep_enqueues_due_runs(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    _, other = late_instruction(session, catalog, world, number="110-E2")
    escalation.advance(session, catalog, other.id)  # not due again for 10 minutes
    queue = get_queue(app.config["DEADLINE_QUEUE"])
    queue.empty()
    assert escalation.sweep_due(session, catalog, utcnow()) == 1
    assert queue.job_ids == [escalation.escalation_job_id(run.id, 0)]
    assert SimpleWorker([queue], connection=get_redis()).work(burst=True) is True
    assert len(notices(session, run.id)) == 2
    assert escalation.sweep_due(session, catalog, utcnow()) == 0


def test_sweep_advances_directly_when_redis_refuses(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)

    def refuse(*_a, **_k):  # type: ignore[no-untyped-def]
        import redis

        raise redis.ConnectionError("redis is down")

    monkeypatch.setattr(escalation, "enqueue_round_now", refuse)
    monkeypatch.setattr("caseflow.notify.outbox.schedule_delivery", refuse)
    assert escalation.sweep_due(session, catalog, utcnow()) == 1
    assert len(notices(session, run.id)) == 2
    # The outbox rows are there for the outbox sweeper even though nothing was enqueued.
    assert session.execute(select(func.count()).select_from(Notification)
                           .where(Notification.status == "pending")).scalar_one() == 2


def test_job_arriving_a_moment_early_waits_for_the_round(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    due = utcnow() + timedelta(milliseconds=400)
    session.execute(update(EscalationRun).where(EscalationRun.id == run.id).values(next_at=due))
    session.commit()
    run_id = run.id
    assert escalation_jobs.advance_escalation(run_id) == "notified"
    assert utcnow() >= due  # waited: never before next_at
    first_notice = session.execute(select(func.min(EscalationNotice.notified_at))
                                   .where(EscalationNotice.run_id == run_id)).scalar_one()
    assert first_notice >= due
