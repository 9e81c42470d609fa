"""Fault tests with real processes: two ``caseflow worker`` subprocesses on a throwaway Redis
and a database of their own. Never touches the shared Redis/PostgreSQL beyond creating and
dropping its own database.

(a) SIGKILL the worker holding the scheduler while deadlines fall due;
(b) FLUSHALL Redis with 1,000 pending deadlines;
(c) database connections dropped (pg_terminate_backend) while deadlines fire.
Each: every deadline fires once (status ``fired``, one ``deadline:`` ledger entry), never early.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from caseflow.extensions import make_engine
from tests.conftest import _migrate
from tests.support.servers import RedisServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
QUEUE = "deadlines"

# Arms deadlines through the real services, then (as the brief for these tests allows) moves
# their due times to the near future and re-schedules them, as the arming transition would.
ARM_SCRIPT = r"""
import json, sys
from datetime import timedelta
from sqlalchemy import select, update
from caseflow import create_app
from caseflow.deadlines.scheduling import schedule_deadline
from caseflow.effects import Effects
from caseflow.extensions import db
from caseflow.models import Deadline, Instruction, utcnow
from caseflow.services import transition
from caseflow.workflow.engine import get_catalog

count, first_s, spread_s, prefix = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
app = create_app()
with app.app_context():
    session, catalog = db.session(), get_catalog(app)
    if session.execute(select(Instruction.id).limit(1)).first() is None:
        from tests.factories import build_world
        build_world(session); session.commit()
    from caseflow.models import Category, Person
    liaison = session.execute(select(Person).where(Person.username == "liaison")).scalar_one()
    from caseflow.security.actor import Actor
    actor = Actor.from_person(liaison)
    cat = session.execute(select(Category.id).limit(1)).scalar_one()
    ids = []
    for start in range(0, count, 200):
        effects = Effects()
        items = []
        for i in range(start, min(count, start + 200)):
            ins = Instruction(number=f"{prefix}-{i}", received_at=utcnow(), category_id=cat, area_kind="main_urban")
            transition.start(session, catalog, ins, workflow="instruction", actor=actor, role="liaison",
                             effects=effects, commit=False)
            items.append(ins)
        session.commit()
        effects.discard()  # re-scheduled below with the short due times
        base = utcnow()
        for n, ins in enumerate(items, start=start):
            due = base + timedelta(seconds=first_s + spread_s * n / max(1, count))
            row_id = session.execute(select(Deadline.id).where(Deadline.item_id == ins.id,
                                     Deadline.status == "pending")).scalar_one()
            session.execute(update(Deadline).where(Deadline.id == row_id).values(due_at=due))
            ids.append((row_id, due))
        session.commit()
        for row_id, due in ids[start:]:
            schedule_deadline(row_id, due)
    print(json.dumps([i for i, _ in ids]))
"""


class Stack:
    """A database and a throwaway Redis reachable from subprocesses, and workers on them."""

    def __init__(self, db_url: str, redis_server: RedisServer, tmp: Path) -> None:
        self.db_url = db_url
        self.redis_server = redis_server
        self.tmp = tmp
        self.engine = make_engine(db_url)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.env = {**os.environ, "CASEFLOW_DATABASE_URL": db_url, "CASEFLOW_REDIS_URL": redis_server.url,
                    "CASEFLOW_SWEEP_INTERVAL_S": "2", "CASEFLOW_SWEEP_GRACE_S": "1",
                    "CASEFLOW_INSTANCE_PATH": str(tmp / "instance"), "PYTHONPATH": str(REPO)}
        for key in ("CASEFLOW_TEST_DATABASE_URL", "CASEFLOW_TEST_REDIS_URL"):
            self.env.pop(key, None)

    @property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url)

    def arm(self, count: int, first_s: float, spread_s: float, prefix: str) -> list[int]:
        out = subprocess.run([sys.executable, "-c", ARM_SCRIPT, str(count), str(first_s), str(spread_s), prefix],
                             env=self.env, cwd=REPO, capture_output=True, timeout=300)
        assert out.returncode == 0, out.stderr.decode()[-3000:]
        return json.loads(out.stdout.decode().strip().splitlines()[-1])

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        with open(self.tmp / f"{name}.log", "wb") as log:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                [sys.executable, "-c", "from caseflow.cli import main; main()", "worker", "--name", name],
                env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.workers.append(proc)
        return proc

    def log(self, name: str, tail: int | None = 4000) -> str:
        """The worker's output: its last ``tail`` characters (all of it with ``tail=None``)."""
        out = (self.tmp / f"{name}.log").read_text(errors="replace")
        return out if tail is None else out[-tail:]

    def scheduler_holder_pid(self) -> int | None:
        """The worker pid whose scheduler holds the deadlines queue's lock."""
        conn = self.redis
        owner = conn.get(f"rq:scheduler-lock:{QUEUE}")
        if owner is None:
            return None
        pid = conn.hget(f"rq:scheduler:{owner.decode()}", "pid")
        if pid is None:
            return None
        with open(f"/proc/{int(pid)}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])  # the scheduler's parent: the worker

    def rows(self, ids: list[int]) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            result = conn.execute(text(
                "SELECT d.id, d.status, d.due_at, d.fired_at, "
                " (SELECT count(*) FROM ledger_entry l WHERE l.item_type = d.item_type AND l.item_id = d.item_id"
                "   AND l.trigger = 'deadline:' || d.key) AS entries FROM deadline d"))
            return [dict(r._mapping) for r in result if r.id in set(ids)]

    def wait_all_fired(self, ids: list[int], timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows(ids)
            if all(r["status"] == "fired" for r in rows) or time.monotonic() > deadline:
                return rows
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.workers:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.engine.dispose()


def _as_aware(t: Any) -> Any:
    from datetime import datetime, timezone

    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def assert_fired_once(rows: list[dict[str, Any]], ids: list[int], max_lag_s: float) -> None:
    assert len(rows) == len(ids)
    not_fired = [r["id"] for r in rows if r["status"] != "fired"]
    assert not not_fired, f"{len(not_fired)} deadline(s) never fired: {not_fired[:10]}"
    assert all(r["entries"] == 1 for r in rows), [r for r in rows if r["entries"] != 1][:5]
    lags = [(_as_aware(r["fired_at"]) - _as_aware(r["due_at"])).total_seconds() for r in rows]
    assert min(lags) >= 0, "a deadline fired early"
    assert max(lags) <= max_lag_s, f"max lag {max(lags):.1f}s"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    server = os.environ.get("CASEFLOW_TEST_DATABASE_URL")
    name = f"caseflow_faults_{secrets.token_hex(4)}"
    admin = None
    if server:
        admin = make_engine(server, isolation_level="AUTOCOMMIT", pool_size=1)
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'faults.sqlite3'}"
    _migrate(url)
    redis_server = RedisServer().start()
    st = Stack(url, redis_server, tmp_path)
    try:
        yield st
    finally:
        st.stop()
        redis_server.stop()
        if admin is not None:
            with admin.connect() as conn:  # ours: created above
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _wait(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_scheduler_worker_while_deadlines_fall_due(stack: Stack) -> None:
    a, b = stack.start_worker("wa"), stack.start_worker("wb")
    holder = _wait(stack.scheduler_holder_pid, 60, "a scheduler to take the lock")
    assert holder in (a.pid, b.pid), (stack.log("wa"), stack.log("wb"))
    ids = stack.arm(20, first_s=6, spread_s=4, prefix="KILL")
    time.sleep(3)
    old_owner = stack.redis.get(f"rq:scheduler-lock:{QUEUE}")
    os.killpg(holder, signal.SIGKILL)  # the worker and its scheduler child: a crash, no cleanup
    victim = a if holder == a.pid else b
    victim.wait(timeout=10)
    survivor = "wb" if victim is a else "wa"
    rows = stack.wait_all_fired(ids, timeout=75)
    assert_fired_once(rows, ids, max_lag_s=60)
    # The surviving worker also takes over RQ's scheduler quickly (lease 10 s + maintenance 5 s).
    _wait(lambda: stack.redis.get(f"rq:scheduler-lock:{QUEUE}") not in (None, old_owner), 40,
          f"scheduler failover; survivor log:\n{stack.log(survivor)}")


def test_flushall_with_1000_pending(stack: Stack) -> None:
    ids = stack.arm(1000, first_s=12, spread_s=10, prefix="FLUSH")
    assert stack.redis.zcard(f"rq:scheduled:{QUEUE}") == 1000
    stack.start_worker("wa"), stack.start_worker("wb")
    time.sleep(4)
    # Every alarm gone; the rows are the truth. FLUSHALL and the count run in one MULTI, so the
    # count sees the flush and nothing after it: the workers' sweeper starts re-arming at once.
    with stack.redis.pipeline(transaction=True) as pipe:
        pipe.flushall()
        pipe.zcard(f"rq:scheduled:{QUEUE}")
        pipe.exists(*[f"rq:job:deadline-{i}" for i in ids])
        _, scheduled, jobs = pipe.execute()
    assert (scheduled, jobs) == (0, 0)
    rows = stack.wait_all_fired(ids, timeout=120)
    assert_fired_once(rows, ids, max_lag_s=60)


@pytest.mark.skipif(not os.environ.get("CASEFLOW_TEST_DATABASE_URL"),
                    reason="pg_terminate_backend needs PostgreSQL; SQLite's retry is covered in "
                           "test_deadline_firing.test_fire_job_retries_after_operational_error")
def test_database_connections_dropped_while_firing(stack: Stack) -> None:
    ids = stack.arm(200, first_s=8, spread_s=6, prefix="DROP")
    stack.start_worker("wa"), stack.start_worker("wb")
    dbname = make_url(stack.db_url).database
    admin = make_engine(os.environ["CASEFLOW_TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT", pool_size=1)
    killed = 0
    try:
        end = time.monotonic() + 20  # the whole firing window and then some
        with admin.connect() as conn:
            while time.monotonic() < end:
                killed += conn.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": dbname}).scalar_one()
                time.sleep(0.3)
    finally:
        admin.dispose()
    assert killed > 0
    rows = stack.wait_all_fired(ids, timeout=90)
    assert_fired_once(rows, ids, max_lag_s=60)
    # The drops were survived by retrying (caseflow/jobs/deadlines.py), not by luck or the sweeper.
    logs = stack.log("wa", tail=None) + stack.log("wb", tail=None)
    assert "database error while firing" in logs, logs[-4000:]
