"""Firing deadlines: idempotent, never early, no-op on stale rows; the job on a real RQ worker;
the sweeper firing overdue rows and re-arming lost alarms."""
from __future__ import annotations

from datetime import timedelta

from rq import SimpleWorker
from rq.job import Job
from sqlalchemy import func, select, update

from caseflow.deadlines import firing, scheduling
from caseflow.deadlines.sweeper import locked_sweep, sweep_once
from caseflow.extensions import get_queue, get_redis
from caseflow.jobs import deadlines as deadline_jobs
from caseflow.models import Deadline, Instruction, LedgerEntry, utcnow
from caseflow.services import transition


def new_instruction(session, catalog, world, number="110-D1"):  # type: ignore[no-untyped-def]
    ins = Instruction(number=number, received_at=utcnow(), category_id=world.cat_garbage.id,
                      area_kind="main_urban", description="井盖缺失")
    return transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"),
                            role="liaison")


def dispatched(session, catalog, world, number="110-D1"):  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world, number)
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"))
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=world.actor("liaison"),
                    data={"department_id": world.sanitation.id})
    return ins


def pending_row(session, item, key):  # type: ignore[no-untyped-def]
    return session.execute(select(Deadline).where(
        Deadline.item_id == item.id, Deadline.key == key, Deadline.status == "pending")).scalar_one()


def make_due(session, row, seconds_ago: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    """Pretend the row was armed long ago: its due time passed ``seconds_ago``."""
    session.execute(update(Deadline).where(Deadline.id == row.id)
                    .values(due_at=utcnow() - timedelta(seconds=seconds_ago)))
    session.commit()


def deadline_entries(session, item, key):  # type: ignore[no-untyped-def]
    return session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.item_type == item.item_type, LedgerEntry.item_id == item.id,
        LedgerEntry.trigger == f"deadline:{key}")).scalar_one()


def test_firing_twice_fires_once(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    row = pending_row(session, ins, "sign")
    make_due(session, row)
    first = firing.fire_deadline(session, catalog, row.id)
    second = firing.fire_deadline(session, catalog, row.id)
    assert first.result == "fired"
    assert second.result == "already fired"
    session.refresh(row)
    assert row.status == "fired" and row.fired_at is not None and row.fired_at >= row.due_at
    assert row.fire_attempts == 1
    assert deadline_entries(session, ins, "sign") == 1


def test_never_fires_early(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    row = pending_row(session, ins, "sign")
    outcome = firing.fire_deadline(session, catalog, row.id)
    assert outcome.result == "early"
    assert not session.in_transaction()  # nothing reloaded after its rollback (no idle transaction)
    assert 4 * 60 < outcome.seconds_early <= 5 * 60
    session.refresh(row)
    assert row.status == "pending" and row.fired_at is None
    assert deadline_entries(session, ins, "sign") == 0


def test_stale_row_is_a_no_op(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    row = pending_row(session, ins, "sign")
    # The item moved on without the row being cancelled (should not happen; must stay harmless).
    session.execute(update(Instruction).where(Instruction.id == ins.id).values(state_seq=Instruction.state_seq + 5))
    session.commit()
    make_due(session, row)
    outcome = firing.fire_deadline(session, catalog, row.id)
    assert outcome.result == "stale"
    session.refresh(row)
    assert row.status == "cancelled" and row.fired_at is None
    assert deadline_entries(session, ins, "sign") == 0
    # A cancelled row (the item left the state properly) is not fired either.
    ins2 = new_instruction(session, catalog, world, "110-D2")
    row2 = pending_row(session, ins2, "sign")
    transition.fire(session, catalog, "instruction", ins2.id, "sign", actor=world.actor("liaison"))
    make_due(session, row2)
    assert firing.fire_deadline(session, catalog, row2.id).result == "already cancelled"


def test_arrival_expiry_marks_instruction_late(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = dispatched(session, catalog, world)
    row = pending_row(session, ins, "arrival")
    assert row.on_expiry.get("trigger") == "mark_late"
    make_due(session, row)
    assert firing.fire_deadline(session, catalog, row.id).result == "fired"
    session.expire_all()
    item = session.get(Instruction, ins.id)
    assert item.state == "late"
    triggers = list(session.execute(select(LedgerEntry.trigger).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == ins.id).order_by(LedgerEntry.seq)).scalars())
    assert triggers[-2:] == ["deadline:arrival", "mark_late"]


def test_fire_job_runs_on_a_real_rq_worker(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = dispatched(session, catalog, world, "110-W1")
    row = pending_row(session, ins, "arrival")
    ins_id, row_id = ins.id, row.id
    make_due(session, row)
    scheduling.enqueue_now(row_id)
    queue = get_queue(app_ctx.config["DEADLINE_QUEUE"])
    assert queue.count == 1
    worked = SimpleWorker([queue], connection=get_redis()).work(burst=True)
    assert worked is True
    job = Job.fetch(scheduling.deadline_job_id(row_id), connection=get_redis())
    assert job.get_status() == "finished" and job.return_value() == "fired"
    state = session.execute(select(Instruction.state).where(Instruction.id == ins_id)).scalar_one()
    status = session.execute(select(Deadline.status).where(Deadline.id == row_id)).scalar_one()
    assert (state, status) == ("late", "fired")


def test_fire_job_retries_after_operational_error(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    from caseflow.extensions import db

    ins = new_instruction(session, catalog, world, "110-R1")
    row = pending_row(session, ins, "sign")
    row_id = row.id
    make_due(session, row)
    calls = {"n": 0}

    def drop_first(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if "FROM deadline" in statement and calls["n"] == 0:
            calls["n"] += 1
            raise OperationalError(statement, params, Exception("server closed the connection unexpectedly"))

    event.listen(db.engine, "before_cursor_execute", drop_first)
    try:
        assert deadline_jobs.fire_deadline(row_id) == "fired"
    finally:
        event.remove(db.engine, "before_cursor_execute", drop_first)
    assert calls["n"] == 1
    assert db.session.execute(select(Deadline.status).where(Deadline.id == row_id)).scalar_one() == "fired"


def test_sweeper_fires_overdue_and_rearms_lost_alarms(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    overdue = new_instruction(session, catalog, world, "110-S1")
    soon = new_instruction(session, catalog, world, "110-S2")
    later = new_instruction(session, catalog, world, "110-S3")
    rows = {n: pending_row(session, i, "sign") for n, i in (("overdue", overdue), ("soon", soon), ("later", later))}
    ids = {n: r.id for n, r in rows.items()}
    make_due(session, rows["overdue"], seconds_ago=30)
    session.execute(update(Deadline).where(Deadline.id == ids["soon"]).values(due_at=utcnow() + timedelta(seconds=20)))
    session.commit()
    conn = get_redis()
    for n in ids.values():  # Redis lost every alarm
        Job.fetch(scheduling.deadline_job_id(n), connection=conn).delete()
    report = sweep_once(session, catalog, limit=10, horizon_s=60)
    assert report.fired == 1 and report.failed == 0
    assert report.rearmed == 1  # "soon" only: "later" is re-armed when it enters the window
    assert Job.exists(scheduling.deadline_job_id(ids["soon"]), connection=conn)
    assert not Job.exists(scheduling.deadline_job_id(ids["later"]), connection=conn)
    statuses = dict(session.execute(select(Deadline.id, Deadline.status).where(Deadline.id.in_(ids.values()))).all())
    assert statuses == {ids["overdue"]: "fired", ids["soon"]: "pending", ids["later"]: "pending"}
    # A second sweep finds nothing left to do.
    again = locked_sweep(session, catalog)
    assert (again.skipped, again.fired, again.rearmed) == (False, 0, 0)


def test_only_one_sweeper_at_a_time(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    from caseflow.deadlines.sweeper import sweeper_lock
    from caseflow.extensions import db

    other = db.engine  # a second session on its own connection plays the other worker
    from sqlalchemy.orm import Session

    with sweeper_lock(session) as first:
        assert first is True
        with Session(other) as s2, sweeper_lock(s2) as second:
            assert second is False
            assert locked_sweep(s2, catalog).skipped is True
    with Session(other) as s3, sweeper_lock(s3) as after:
        assert after is True
