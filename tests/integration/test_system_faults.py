"""The whole system under faults, with real processes on servers of its own.

One stack for the module: a throwaway PostgreSQL cluster and redis-server
(tests/support/servers.py), gunicorn with deploy/gunicorn.conf.py (2 workers) serving the real
app plus one slow endpoint (tests/support/fault_app.py), and two ``caseflow worker`` processes
(RQ worker + scheduler + sweeper, sweeping every 2 s). A client thread files a case every
~100 ms through the API for the whole module and remembers every 2xx answer.

Faults, in order: SIGKILL a gunicorn worker mid-request (holding a row lock); SIGKILL an RQ
worker mid-job; restart Redis without persistence; restart PostgreSQL. After each: the system
is ready again within 30 s without help (``/api/ready`` green, requests succeed), and every
deadline due so far has fired exactly once. At the end: every 2xx intake has its case in the
database, and no ledger entry is duplicated (unique constraint present, and checked).

Runs in the PostgreSQL pass of CI (it starts its own servers either way; once is enough).
"""
from __future__ import annotations

import http.client
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import (
    PostgresCluster,
    RedisServer,
    find_redis_server,
    free_port,
    postgres_binaries_available,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not postgres_binaries_available() or find_redis_server() is None,
                       reason="needs PostgreSQL binaries and redis-server"),
    pytest.mark.skipif(not os.environ.get("CASEFLOW_TEST_DATABASE_URL"),
                       reason="system faults run once, in the PostgreSQL pass (own servers either way)"),
]

REPO = Path(__file__).resolve().parents[2]
RECOVERY_S = 30.0


class Stack:
    """Servers, web, workers and a client for one module."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.pg = PostgresCluster().start()
        self.redis = RedisServer().start()
        self.db_url = self.pg.create_database("caseflow_faults")
        self.port = free_port()
        self.env = {
            **os.environ, "PYTHONPATH": str(REPO), "CASEFLOW_DATABASE_URL": self.db_url,
            "CASEFLOW_REDIS_URL": self.redis.url, "CASEFLOW_SECRET_KEY": secrets.token_hex(16),
            "CASEFLOW_INSTANCE_PATH": str(tmp / "instance"), "CASEFLOW_FAULT_DIR": str(tmp),
            "CASEFLOW_SWEEP_INTERVAL_S": "2", "CASEFLOW_SWEEP_GRACE_S": "1",
            "CASEFLOW_WEB_WORKERS": "2", "CASEFLOW_WEB_THREADS": "4", "CASEFLOW_ACCESS_LOG": "",
        }
        for key in ("CASEFLOW_TEST_DATABASE_URL", "CASEFLOW_TEST_REDIS_URL"):
            self.env.pop(key, None)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._seed()
        self.start_web()
        self.start_worker("w1")
        self.start_worker("w2")
        self.wait_ready("first start")
        self.accepted: list[tuple[str, int]] = []  # (external_ref, case id) of every 2xx intake
        self.intake_errors = 0
        self._stop_client = threading.Event()
        self._client = threading.Thread(target=self._intake_loop, daemon=True)
        self._client.start()

    # ------------------------------------------------------------------ setup
    def app(self):  # type: ignore[no-untyped-def]
        """An app in this process on the stack's database and Redis (same queue names)."""
        from caseflow import create_app

        if not hasattr(self, "_app"):
            self._app = create_app({"DATABASE_URL": self.db_url, "REDIS_URL": self.redis.url,
                                    "SECRET_KEY": "faults"})
        return self._app

    def _seed(self) -> None:
        from caseflow.extensions import db
        from caseflow.models import Base
        from caseflow.security.tokens import issue_token
        from tests.factories import build_world

        app = self.app()
        with app.app_context():
            Base.metadata.create_all(db.engine)
            session = db.session()
            world = build_world(session)
            self.tokens = {"110": issue_token(session, "110", client_kind="linkage_110"),
                           "hotline": issue_token(session, "12345", client_kind="hotline"),
                           "dispatcher": issue_token(session, "d", person=world.people["dispatcher"])}
            session.commit()
            db.session.remove()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def start_web(self) -> None:
        self._spawn("web", [sys.executable, "-m", "gunicorn", "-c", str(REPO / "deploy" / "gunicorn.conf.py"),
                            "--bind", f"127.0.0.1:{self.port}", "tests.support.fault_app:app"])

    def start_worker(self, name: str) -> None:
        self._spawn(name, [sys.executable, "-c", "from caseflow.cli import main; main()", "worker",
                           "--name", f"faults-{name}-{secrets.token_hex(3)}"])

    def log(self, name: str) -> str:
        path = self.tmp / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        self._stop_client.set()
        self._client.join(10)
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if hasattr(self, "_app"):
            with self._app.app_context():
                from caseflow.extensions import db

                db.engine.dispose()
        self.redis.stop()
        self.pg.stop()

    # ------------------------------------------------------------------ HTTP
    def request(self, method: str, path: str, body: Any = None, who: str = "dispatcher",
                timeout: float = 10) -> tuple[int, Any]:
        """(status, json) or (0, error name) when the connection failed."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            try:
                return resp.status, json.loads(raw or b"null")
            except ValueError:
                return resp.status, raw.decode(errors="replace")
        except (OSError, http.client.HTTPException) as exc:
            return 0, exc.__class__.__name__
        finally:
            conn.close()

    def _intake_loop(self) -> None:
        n = 0
        while not self._stop_client.is_set():
            n += 1
            ref = f"fault-{n}"
            status, body = self.request("POST", "/api/cases", {"title": f"故障测试 {n}", "category": "garbage",
                                                               "external_ref": ref}, who="hotline", timeout=5)
            if status in (200, 201):
                self.accepted.append((ref, body["id"]))
            else:
                self.intake_errors += 1
            self._stop_client.wait(0.1)

    def wait_ready(self, what: str, timeout: float = RECOVERY_S) -> float:
        """Seconds until /api/ready is 200 and a write succeeds; fails the test after ``timeout``."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            status, _ = self.request("GET", "/api/ready", timeout=2)
            if status == 200:
                ok, _ = self.request("POST", "/api/cases", {"title": "probe", "category": "road",
                                                            "external_ref": f"probe-{secrets.token_hex(4)}"},
                                     who="hotline", timeout=5)
                if ok == 201:
                    return time.monotonic() - started
            time.sleep(0.25)
        pytest.fail(f"not ready {timeout:.0f} s after {what}\nweb log:\n{self.log('web')}\n"
                    f"w1 log:\n{self.log('w1')}")

    # ------------------------------------------------------------------ deadlines
    def arm(self, count: int, first_s: float, spread_s: float, *, schedule: bool = True) -> list[int]:
        """File ``count`` instructions through the API (each arms its 5-minute sign deadline), then
        bring the deadlines forward to fall due between ``first_s`` and ``first_s + spread_s`` from
        now and schedule their RQ jobs as arming does."""
        numbers = [f"F{secrets.token_hex(4)}-{i}" for i in range(count)]
        for number in numbers:
            status, body = self.request("POST", "/api/instructions", {"number": number, "category": "garbage"},
                                        who="110")
            assert status == 201, body
        from sqlalchemy import select, update

        from caseflow.deadlines.scheduling import schedule_deadline
        from caseflow.extensions import db
        from caseflow.models import Deadline, Instruction, utcnow

        with self.app().app_context():
            session = db.session()
            ids = list(session.execute(select(Deadline.id).join(Instruction, Instruction.id == Deadline.item_id)
                                       .where(Deadline.item_type == "instruction", Instruction.number.in_(numbers))
                                       .order_by(Deadline.id)).scalars())
            now = utcnow()
            dues = {i: now + timedelta(seconds=first_s + spread_s * k / max(1, count - 1)) for k, i in enumerate(ids)}
            for deadline_id, due in dues.items():
                session.execute(update(Deadline).where(Deadline.id == deadline_id).values(due_at=due))
            session.commit()
            if schedule:
                for deadline_id, due in dues.items():
                    schedule_deadline(deadline_id, due)
            db.session.remove()
        assert len(ids) == count
        return ids

    def deadline_rows(self, ids: list[int]) -> list[Any]:
        from sqlalchemy import select

        from caseflow.extensions import db
        from caseflow.models import Deadline

        with self.app().app_context():
            rows = db.session().execute(select(Deadline.id, Deadline.status, Deadline.due_at, Deadline.fired_at)
                                        .where(Deadline.id.in_(ids))).all()
            db.session.remove()
        return rows

    def wait_fired(self, ids: list[int], timeout: float) -> None:
        """Every row fired (never early) within ``timeout``, each with exactly one ledger entry."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                rows = self.deadline_rows(ids)
            except Exception:  # the database may still be coming back
                rows = []
            if rows and all(r.status == "fired" for r in rows):
                break
            time.sleep(0.5)
        else:
            pending = [r for r in rows if r.status != "fired"]
            pytest.fail(f"{len(pending)} of {len(ids)} deadlines not fired within {timeout:.0f} s: {pending[:5]}\n"
                        f"w1:\n{self.log('w1')}")
        assert all(r.fired_at >= r.due_at for r in rows), "a deadline fired early"
        assert self.duplicate_firings(ids) == 0

    def duplicate_firings(self, ids: list[int]) -> int:
        from sqlalchemy import text

        from caseflow.extensions import db

        with self.app().app_context():
            n = db.session().execute(text(
                "SELECT count(*) FROM (SELECT (payload->>'deadline_id')::int AS d FROM ledger_entry "
                "WHERE trigger LIKE 'deadline:%' GROUP BY 1 HAVING count(*) > 1) t")).scalar_one()
            db.session.remove()
        return int(n)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = Stack(tmp_path_factory.mktemp("faults"))
    try:
        yield s
    finally:
        s.stop()


def _wait_file(path: Path, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.05)
    pytest.fail(f"{path.name} never appeared")


def test_kill_web_worker_mid_request(stack: Stack) -> None:
    status, case = stack.request("POST", "/api/cases", {"title": "慢请求", "category": "garbage",
                                                        "external_ref": "slow-1"}, who="hotline")
    assert status == 201
    outcome: dict[str, Any] = {}
    slow = threading.Thread(target=lambda: outcome.update(r=stack.request(
        "POST", f"/api/_fault/slow-register/{case['id']}?sleep=20", timeout=40)))
    slow.start()
    pid = _wait_file(stack.tmp / f"web-{case['id']}.pid", 10)
    assert pid != stack.procs["web"].pid  # a worker, not the gunicorn master
    os.kill(pid, signal.SIGKILL)
    slow.join(40)
    assert outcome["r"][0] == 0 or outcome["r"][0] >= 500, outcome  # no 2xx for the killed request
    took = stack.wait_ready("SIGKILL of a web worker")
    # The killed transaction held the case's row lock: rolled back, so the case moves on normally.
    status, body = stack.request("POST", f"/api/cases/{case['id']}/register", {})
    assert status == 200 and body["state"] == "registered", body
    status, detail = stack.request("GET", f"/api/cases/{case['id']}")
    assert [e["trigger"] for e in detail["ledger"]] == ["report", "register"]
    assert took < RECOVERY_S
    print(f"\nweb worker SIGKILL: ready again after {took:.1f} s")


def test_kill_rq_worker_mid_job(stack: Stack) -> None:
    from caseflow.extensions import get_queue

    ids = stack.arm(20, first_s=2, spread_s=4)
    slow_id = stack.arm(1, first_s=1, spread_s=0, schedule=False)[0]
    pid_path = stack.tmp / "job.pid"
    with stack.app().app_context():
        get_queue(stack.app().config["DEADLINE_QUEUE"]).enqueue(
            "tests.support.fault_jobs.slow_fire", slow_id, str(pid_path), 30, job_timeout=60)
    pid = _wait_file(pid_path, 15)
    victim = next(name for name, p in stack.procs.items() if p.pid == pid)
    os.kill(pid, signal.SIGKILL)  # SimpleWorker: the job runs in the worker process itself
    stack.procs[victim].wait(10)
    stack.start_worker(victim + "b")  # what systemd's Restart=always does; the other worker carries on
    # The killed job's deadline is still pending in the database: the sweeper fires it.
    started = time.monotonic()
    stack.wait_fired(ids + [slow_id], timeout=RECOVERY_S)
    print(f"\nRQ worker SIGKILL: all 21 deadlines fired {time.monotonic() - started:.1f} s after the kill")
    stack.wait_ready("SIGKILL of an RQ worker")


def test_restart_redis_without_persistence(stack: Stack) -> None:
    ids = stack.arm(30, first_s=4, spread_s=8)
    before = len(stack.accepted)
    stack.redis.restart()  # same port, empty: every scheduled job is gone
    with stack.redis.client() as conn:
        # None of the scheduled alarms came back (workers re-register their own keys at once). One
        # EXISTS for all, straight after the start: the sweeper's next pass may re-arm them.
        assert conn.exists(*[f"rq:job:deadline-{i}" for i in ids]) == 0
    took = stack.wait_ready("Redis restart")
    stack.wait_fired(ids, timeout=RECOVERY_S)
    print(f"\nRedis restart: ready after {took:.1f} s; 30 lost alarms fired")
    time.sleep(1)
    assert len(stack.accepted) > before, "intake did not resume"
    assert took < RECOVERY_S


def test_restart_postgresql(stack: Stack) -> None:
    ids = stack.arm(20, first_s=3, spread_s=5)
    before = len(stack.accepted)
    stack.pg.restart()  # fast shutdown: every connection is cut, then crash-free start on the same port
    took = stack.wait_ready("PostgreSQL restart")
    stack.wait_fired(ids, timeout=RECOVERY_S)
    print(f"\nPostgreSQL restart: ready after {took:.1f} s; 20 deadlines fired")
    time.sleep(1)
    assert len(stack.accepted) > before, "intake did not resume"
    assert took < RECOVERY_S


def test_every_2xx_has_its_effect_and_no_ledger_duplicates(stack: Stack) -> None:
    stack._stop_client.set()
    stack._client.join(10)
    from sqlalchemy import inspect, select, text

    from caseflow.extensions import db
    from caseflow.models import Case, CaseReporter

    assert len(stack.accepted) > 50
    print(f"\nintake during the faults: {len(stack.accepted)} accepted (2xx), {stack.intake_errors} refused/failed")
    with stack.app().app_context():
        session = db.session()
        refs = dict(session.execute(select(CaseReporter.external_ref, CaseReporter.case_id)
                                    .where(CaseReporter.external_ref.like("fault-%"))).all())
        missing = [(ref, cid) for ref, cid in stack.accepted if refs.get(ref) != cid]
        assert missing == [], f"2xx without effect: {missing[:5]}"
        assert session.execute(select(Case.id).where(Case.id.in_([c for _, c in stack.accepted]))).scalars().all()
        uniques = [set(u["column_names"]) for u in inspect(db.engine).get_unique_constraints("ledger_entry")]
        assert {"item_type", "item_id", "seq"} in uniques
        dup = session.execute(text("SELECT count(*) FROM (SELECT 1 FROM ledger_entry GROUP BY item_type, item_id, "
                                   "seq HAVING count(*) > 1) t")).scalar_one()
        assert dup == 0
        # Every deadline that fell due during the module fired (none left behind by any fault).
        overdue = session.execute(text("SELECT count(*) FROM deadline WHERE status = 'pending' "
                                       "AND due_at < now() - interval '5 seconds'")).scalar_one()
        assert overdue == 0
        db.session.remove()
