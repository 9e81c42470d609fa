"""HTTP load on gunicorn: a mixed read/write load at a fixed rate, open loop.

    python bench/api_load.py                          # 200 requests/s for 60 s
    python bench/api_load.py --rate 100 --seconds 20  # a quick run

Setup: a database of its own ``caseflow_api_<random>`` on the ``CASEFLOW_DATABASE_URL`` server
(created with the current models, dropped after), a throwaway redis-server, the street from
tests/factories.py, API tokens, and ``--seed-cases`` reported cases made through the intake
service. Then gunicorn with ``deploy/gunicorn.conf.py`` (its defaults: one worker per core,
4 threads each) on an ephemeral port.

The load: request *i* is due at ``start + i / rate`` whatever happened before (open loop: a
slow server does not slow the schedule down), sent by a pool of threads each holding a
keep-alive connection. Latency is measured from the request's due time to the last byte of the
answer, so queueing in the client counts against the server, not in its favour. The mix:

    35%  GET  /api/cases?per_page=20               (dispatcher's list)
    25%  GET  /api/cases/<id>                      (case detail with ledger and deadlines)
     5%  GET  /api/health
     5%  GET  /api/ready
    20%  POST /api/cases                           (hotline intake; unique external_ref)
    10%  POST /api/cases/<id>/register             (dispatcher; each seeded case once)

Last line: ``api: rps=R p50_ms=X p99_ms=X errors=E`` (errors: non-2xx answers and failed
connections). ``--cpu`` also prints the CPU seconds gunicorn, PostgreSQL (every postgres process
on the machine) and the client used during the load, and per request.
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import queue
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

MIX = (("list", 35), ("detail", 25), ("health", 5), ("ready", 5), ("intake", 20), ("register", 10))


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def seed(url: str, redis_url: str, cases: int) -> dict[str, Any]:
    """The street, tokens and ``cases`` reported cases; returns what the load needs."""
    from caseflow import create_app
    from caseflow.extensions import db
    from caseflow.security.actor import Actor
    from caseflow.security.tokens import issue_token
    from caseflow.services.cases import intake
    from caseflow.workflow.engine import get_catalog
    from tests.factories import build_world

    app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url})
    with app.app_context():
        session = db.session()
        world = build_world(session)
        tokens = {"dispatcher": issue_token(session, "load-d", person=world.people["dispatcher"]),
                  "hotline": issue_token(session, "load-h", client_kind="hotline")}
        catalog, hotline = get_catalog(app), Actor.client_of("hotline")
        ids = []
        for i in range(cases):
            case, _ = intake.report(session, catalog, channel="hotline", actor=hotline, title=f"seed {i}",
                                    category_code="garbage" if i % 2 else "road", external_ref=f"seed-{i}",
                                    lat=31.0 + (i % 97) * 0.003, lon=121.2 + (i % 89) * 0.003)
            ids.append(case.id)
            session.expunge_all()
        db.session.remove()
        db.engine.dispose()
    return {"tokens": tokens, "case_ids": ids}


def start_gunicorn(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """gunicorn -c deploy/gunicorn.conf.py on 127.0.0.1:port (its own process group)."""
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(REPO / "deploy" / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}", "wsgi:app"],
            env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """Poll /api/ready until 200 (every worker builds its app; give them a moment more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/ready")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not become ready")


def cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """utime + stime of each of these processes (and its reaped children) from /proc, in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        out[pid] = sum(int(v) for v in fields[11:15]) / tick  # utime, stime, cutime, cstime
    return out


def cpu_since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds between two ``cpu_by_pid`` readings; a process that started in between
    (a PostgreSQL backend for a new connection) counts whole."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())



def group_pids(pgid: int) -> list[int]:
    """The processes of process group ``pgid`` (gunicorn's arbiter and workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def postgres_pids() -> list[int]:
    """Every process named postgres (the server is shared: other users' work counts too)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the group, then SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class Load:
    """The fixed schedule and the threads that send it."""

    def __init__(self, port: int, rate: float, seconds: float, seeded: dict[str, Any], threads: int,
                 seed_value: int = 7) -> None:
        import random

        self.port, self.rate = port, rate
        self.total = int(rate * seconds)
        rng = random.Random(seed_value)
        kinds, weights = zip(*MIX)
        self.plan = [rng.choices(kinds, weights)[0] for _ in range(self.total)]
        self.case_ids = list(seeded["case_ids"])
        self.register_pool = list(seeded["case_ids"])
        rng.shuffle(self.register_pool)
        self.tokens = seeded["tokens"]
        self.threads = threads
        self.lock = threading.Lock()
        self.results: list[tuple[str, int, float, float]] = []  # kind, status, latency_ms, service_ms
        self.errors: Counter[str] = Counter()
        self.rng = rng

    def request_for(self, i: int, kind: str) -> tuple[str, str, dict[str, Any] | None, str]:
        """(method, path, json body, token) for request ``i``."""
        if kind == "list":
            return "GET", "/api/cases?per_page=20", None, "dispatcher"
        if kind == "detail":
            return "GET", f"/api/cases/{self.case_ids[i % len(self.case_ids)]}", None, "dispatcher"
        if kind == "health":
            return "GET", "/api/health", None, "dispatcher"
        if kind == "ready":
            return "GET", "/api/ready", None, "dispatcher"
        if kind == "intake":
            body = {"title": f"load {i}", "category": "garbage" if i % 2 else "road", "external_ref": f"load-{i}",
                    "lat": 31.0 + (i % 101) * 0.002, "lon": 121.2 + (i % 103) * 0.002, "address": "人民路"}
            return "POST", "/api/cases", body, "hotline"
        with self.lock:
            case_id = self.register_pool.pop() if self.register_pool else None
        if case_id is None:
            return "GET", "/api/health", None, "dispatcher"
        return "POST", f"/api/cases/{case_id}/register", {}, "dispatcher"

    def run(self) -> float:
        """Send the whole schedule; return the wall time from first due time to last answer."""
        work: queue.Queue[int | None] = queue.Queue()
        start = time.perf_counter() + 0.5
        self.start = start

        def sender() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            while True:
                i = work.get()
                if i is None:
                    conn.close()
                    return
                due = start + i / self.rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                kind = self.plan[i]
                method, path, body, who = self.request_for(i, kind)
                headers = {"Authorization": f"Bearer {self.tokens[who]}", "Connection": "keep-alive"}
                payload = None
                if body is not None:
                    payload = json.dumps(body).encode()
                    headers["Content-Type"] = "application/json"
                sent = time.perf_counter()
                try:
                    conn.request(method, path, body=payload, headers=headers)
                    resp = conn.getresponse()
                    resp.read()
                    status = resp.status
                except (OSError, http.client.HTTPException) as exc:
                    status = 0
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                    with self.lock:
                        self.errors[f"{kind}: {exc.__class__.__name__}"] += 1
                end = time.perf_counter()
                with self.lock:
                    self.results.append((kind, status, (end - due) * 1000, (end - sent) * 1000))
                    if status and not 200 <= status < 300:
                        self.errors[f"{kind}: HTTP {status}"] += 1

        pool = [threading.Thread(target=sender, daemon=True) for _ in range(self.threads)]
        for t in pool:
            t.start()
        for i in range(self.total):
            work.put(i)
        for _ in pool:
            work.put(None)
        for t in pool:
            t.join()
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200, help="requests per second")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=64, help="client threads (keep-alive connections)")
    parser.add_argument("--seed-cases", type=int, default=None, help="default: enough for every register")
    parser.add_argument("--web-workers", type=int, default=None, help="CASEFLOW_WEB_WORKERS (default: the conf's)")
    parser.add_argument("--pgbench", action="store_true", help="also measure pgbench -N -c 2 -T 20")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--cpu", action="store_true",
                        help="also report the CPU time of gunicorn, PostgreSQL (all of it) and this client "
                             "during the load")
    args = parser.parse_args()

    server_url = os.environ.get("CASEFLOW_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    if not server_url.startswith("postgresql"):
        print("bench/api_load.py needs PostgreSQL: set CASEFLOW_DATABASE_URL", file=sys.stderr)
        return 2
    from deadlines import drop_database
    from replay_day import create_database

    from tests.support.servers import RedisServer, free_port

    total = int(args.rate * args.seconds)
    cases = args.seed_cases if args.seed_cases is not None else int(total * 0.10 * 1.2) + 50
    dbname = f"caseflow_api_{secrets.token_hex(4)}"
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-api-"))
    url = create_database(server_url, dbname)
    redis_server = RedisServer().start()
    proc = None
    try:
        t0 = time.perf_counter()
        seeded = seed(url, redis_server.url, cases)
        print(f"api: database {dbname}, {cases} seeded cases in {time.perf_counter() - t0:.0f}s; "
              f"redis {redis_server.url}", flush=True)
        port = free_port()
        env = {**os.environ, "CASEFLOW_DATABASE_URL": url, "CASEFLOW_REDIS_URL": redis_server.url,
               "CASEFLOW_INSTANCE_PATH": str(tmp / "instance"), "CASEFLOW_SECRET_KEY": secrets.token_hex(16),
               "CASEFLOW_ACCESS_LOG": "", "PYTHONPATH": str(REPO)}
        if args.web_workers:
            env["CASEFLOW_WEB_WORKERS"] = str(args.web_workers)
        proc = start_gunicorn(env, port, tmp / "gunicorn.log")
        wait_ready(port, proc)
        time.sleep(2)  # let every worker finish building its app
        load = Load(port, args.rate, args.seconds, seeded, args.threads)
        if args.cpu:
            web0, pg0 = cpu_by_pid(group_pids(proc.pid)), cpu_by_pid(postgres_pids())
            client0 = time.process_time()
        wall = load.run()
        if args.cpu:
            used = (cpu_since(web0, cpu_by_pid(group_pids(proc.pid))), cpu_since(pg0, cpu_by_pid(postgres_pids())),
                    time.process_time() - client0)
            n = max(1, len(load.results))
            print("api: cpu during the load: " + ", ".join(
                f"{name} {s:.1f}s ({s / n * 1000:.2f} ms/request)"
                for name, s in zip(("gunicorn", "postgres", "client"), used)) + f"; wall {wall:.1f}s", flush=True)
    finally:
        if proc is not None:
            stop_process_group(proc)
        redis_server.stop()
        pg_tps = None
        if args.pgbench:
            from pgbench_ref import pgbench_tps

            pg_tps = pgbench_tps(server_url)
        if not args.keep_db:
            drop_database(server_url, dbname)
    latencies = [r[2] for r in load.results]
    ok = sum(1 for r in load.results if 200 <= r[1] < 300)
    errors = sum(load.errors.values())
    by_kind: dict[str, list[float]] = {}
    for kind, _status, lat, _svc in load.results:
        by_kind.setdefault(kind, []).append(lat)
    print("api: by kind: " + ", ".join(f"{k} n={len(v)} p50={percentile(v, 50):.0f} p99={percentile(v, 99):.0f}"
                                       for k, v in sorted(by_kind.items())))
    print(f"api: sent={len(load.results)} ok={ok} wall_s={wall:.1f} service_p99_ms="
          f"{percentile([r[3] for r in load.results], 99):.1f} max_ms={max(latencies or [0]):.0f} "
          f"errors_by_kind={dict(load.errors)} gunicorn log {tmp / 'gunicorn.log'}")
    rps = ok / wall if wall else 0.0
    if pg_tps is not None:
        print(f"api: pgbench -N -c 2 -T 20 tps={pg_tps:.0f}; api rps to pgbench tps = {rps / pg_tps:.3f}")
    print(f"api: rps={rps:.0f} p50_ms={percentile(latencies, 50):.1f} p99_ms={percentile(latencies, 99):.1f} "
          f"errors={errors}")
    return 0 if errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
