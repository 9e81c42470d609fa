"""Batch firing of a backlog: the same checks as one firing, one commit, jobs removed after."""
from __future__ import annotations

import threading

import pytest
from rq.job import Job
from sqlalchemy import func, select, update

from caseflow.deadlines import scheduling
from caseflow.deadlines.batch_firing import fire_due_batch
from caseflow.extensions import get_queue, get_redis
from caseflow.jobs import deadlines as deadline_jobs
from caseflow.models import Deadline, EscalationRun, Instruction, LedgerEntry
from caseflow.services.ledger_verify import verify_ledger

from .test_deadline_firing import deadline_entries, dispatched, make_due, pending_row


def _arrivals(session, catalog, world, n: int) -> list[tuple[Instruction, Deadline]]:  # type: ignore[no-untyped-def]
    out = []
    for i in range(n):
        ins = dispatched(session, catalog, world, number=f"110-B{i}")
        row = pending_row(session, ins, "arrival")
        make_due(session, row, seconds_ago=10 - i)
        out.append((ins, row))
    return out


def test_batch_fires_every_due_row_like_single_firing(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    pairs = _arrivals(session, catalog, world, 4)
    outcome = fire_due_batch(session, catalog, limit=10)
    assert sorted(outcome.fired) == sorted(row.id for _, row in pairs)
    assert outcome.stale == []
    for ins, row in pairs:
        session.refresh(row)
        session.refresh(ins)
        assert row.status == "fired" and row.fired_at >= row.due_at and row.fire_attempts == 1
        assert ins.state == "late"  # the arrival deadline's trigger ran
        assert deadline_entries(session, ins, "arrival") == 1
    # The escalation chain of each expiry started, and every item's hash chain is intact.
    runs = session.execute(select(func.count()).select_from(EscalationRun)).scalar_one()
    assert runs == 4
    checked, problems = verify_ledger(session)
    assert checked > 0 and problems == []


def test_batch_leaves_rows_not_due(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    (ins, row), = _arrivals(session, catalog, world, 1)
    later = dispatched(session, catalog, world, number="110-later")
    assert fire_due_batch(session, catalog).fired == [row.id]
    assert pending_row(session, later, "arrival").status == "pending"


def test_batch_closes_stale_rows_and_fires_one_row_per_item(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    (ins, row), (other, other_row) = _arrivals(session, catalog, world, 2)
    # A row armed by a visit the item has left (should not happen): closed, not fired.
    session.execute(update(Deadline).where(Deadline.id == row.id).values(state_seq=row.state_seq - 1))
    # A second due row on the other item: left for its own job in this batch.
    extra = Deadline(item_type="instruction", item_id=other.id, key="extra", state=other_row.state,
                     state_seq=other_row.state_seq, clock="wall", armed_at=other_row.armed_at,
                     due_at=other_row.due_at, status="pending", on_expiry={})
    session.add(extra)
    session.commit()
    outcome = fire_due_batch(session, catalog)
    assert outcome.stale == [row.id]
    assert outcome.fired == [other_row.id]
    session.refresh(row)
    assert row.status == "cancelled" and deadline_entries(session, ins, "arrival") == 0
    session.refresh(extra)
    # Its item moved to ``late``: the trigger's deadline swap cancelled the sibling row.
    assert extra.status == "cancelled"


def test_failed_batch_rolls_back_everything(session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pairs = _arrivals(session, catalog, world, 3)
    from caseflow.deadlines import batch_firing

    calls = {"n": 0}
    real = batch_firing._expire

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(batch_firing, "_expire", flaky)
    outcome = fire_due_batch(session, catalog)
    assert outcome.fired == [] and outcome.done == []
    for ins, row in pairs:
        session.refresh(row)
        assert row.status == "pending" and row.fire_attempts == 0
        assert deadline_entries(session, ins, "arrival") == 0


def test_job_fires_backlog_and_removes_its_jobs(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pairs = _arrivals(session, catalog, world, 5)
    queue = get_queue(app.config["DEADLINE_QUEUE"])
    queue.empty()
    for _, row in pairs:  # as the scheduler does once they are due: all five jobs are queued
        scheduling.enqueue_now(row.id)
    monkeypatch.setattr(deadline_jobs, "BACKLOG_MIN", 2)
    first = pairs[0][1]
    assert deadline_jobs.fire_deadline(first.id) == "fired"
    statuses = session.execute(select(Deadline.status).where(Deadline.id.in_([r.id for _, r in pairs]))).scalars()
    assert list(statuses) == ["fired"] * 5
    redis = get_redis()
    # The others' jobs are gone from the queue and from Redis; the first job is RQ's own.
    left = [j for j in queue.job_ids if j != scheduling.deadline_job_id(first.id)]
    assert left == []
    for _, row in pairs[1:]:
        assert not redis.exists(Job.key_for(scheduling.deadline_job_id(row.id)))


def test_settled_row_needs_no_lock(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    (ins, row), = _arrivals(session, catalog, world, 1)
    fire_due_batch(session, catalog)
    from caseflow.deadlines.firing import fire_deadline

    assert fire_deadline(session, catalog, row.id).result == "already fired"
    assert session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.item_id == ins.id, LedgerEntry.trigger == "deadline:arrival")).scalar_one() == 1


@pytest.mark.postgres_only
def test_batch_skips_items_locked_by_a_transition(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    (busy, busy_row), (free, free_row) = _arrivals(session, catalog, world, 2)
    from caseflow.extensions import db

    locked, release = threading.Event(), threading.Event()

    def hold_lock() -> None:
        with app.app_context():
            other = db.session()
            other.execute(select(Instruction).where(Instruction.id == busy.id).with_for_update())
            locked.set()
            release.wait(10)
            other.rollback()
            db.session.remove()

    t = threading.Thread(target=hold_lock)
    t.start()
    try:
        assert locked.wait(10)
        outcome = fire_due_batch(session, catalog)  # must not wait for the lock
    finally:
        release.set()
        t.join(10)
    assert outcome.fired == [free_row.id]
    session.refresh(busy_row)
    assert busy_row.status == "pending"


def test_job_keeps_firing_while_batches_come_back_full(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Rows due whose jobs RQ has not queued yet (a burst the scheduler is still moving): one
    # queued job is enough to start, and full batches mean there is more to fire.
    ids = [row.id for _, row in _arrivals(session, catalog, world, 5)]
    queue = get_queue(app.config["DEADLINE_QUEUE"])
    queue.empty()
    for deadline_id in ids[:3]:
        scheduling.enqueue_now(deadline_id)
    monkeypatch.setattr(deadline_jobs, "BACKLOG_MIN", 2)
    monkeypatch.setattr(deadline_jobs, "BACKLOG_BATCH", 2)
    assert deadline_jobs.fire_deadline(ids[0]) == "fired"
    statuses = session.execute(select(Deadline.status).where(Deadline.id.in_(ids))).scalars()
    assert list(statuses) == ["fired"] * 5
