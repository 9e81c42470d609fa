"""Deadline benchmark: N deadlines armed through real transitions, fired by real workers.

    python bench/deadlines.py                      # 100,000 over 10 min + a 2,000 burst, 2 workers
    python bench/deadlines.py --count 2000 --window-s 60 --burst 500

Against the configured PostgreSQL and Redis (``CASEFLOW_DATABASE_URL`` names the server: the
bench creates its own database ``caseflow_bench_<token>`` there and drops it after;
``CASEFLOW_REDIS_URL``, default redis://127.0.0.1:6379/12, gets queues of its own).

How arming stays real: a bench workflow (written to a temp dir and given to every process
via ``CASEFLOW_WORKFLOWS_DIR``) drives instructions through one state ``armed`` whose
deadline ``due`` takes its duration from the item (``after: {by: caller_contact, "1": 1s,
"2": 2s, ...}``), on expiry firing the trigger ``expire`` (like ``mark_late``). Each item is
created with ``transition.start`` (500 per transaction, the commit then schedules each RQ job
as the service always does), choosing the whole-second duration ``k = ceil(target - now)`` so
its due time falls in ``[target, target + 1 s)``. Targets: ``count`` spread evenly over
``window_s`` starting after the arming lead, plus ``burst`` items whose targets are one and
the same whole second in the middle of the window (their due times fall inside that second).
Items are armed in due order; the lead (``--lead-s``, default: a guess at the arming time)
lets arming finish before the window opens so it does not compete with firing.

Lag = ``fired_at - due_at`` from the database (``fired_at`` is the firing transaction's time).
lost = rows still not fired at the end; duplicate = extra ``deadline:`` ledger entries;
early = rows fired before their due time.
"""
from __future__ import annotations

import argparse
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORKFLOW = """\
name: bench_deadline
version: 1
item: instruction
title: {{zh: 时限压测, en: Deadline benchmark}}
initial: armed
states:
  - name: armed
    label: {{zh: 计时中, en: Armed}}
    deadlines:
      - id: due
        after: {{by: caller_contact, {table}}}
        on_expiry: {{trigger: expire}}
  - name: expired
    label: {{zh: 已超时, en: Expired}}
    final: true
transitions:
  - {{trigger: expire, source: armed, dest: expired, roles: [system]}}
"""


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (0 for an empty list)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def write_workflow(folder: Path, max_seconds: int) -> None:
    table = ", ".join(f'"{k}": {k}s' for k in range(1, max_seconds + 1))
    (folder / "bench_deadline.yaml").write_text(WORKFLOW.format(table=table))


def create_database(server_url: str, name: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from caseflow.extensions import make_engine

    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    from caseflow.extensions import make_engine as mk
    from caseflow.migrate import upgrade
    from caseflow.models import Base

    engine = mk(url)
    upgrade(engine)
    Base.metadata.create_all(engine, checkfirst=True)
    engine.dispose()
    return url


def drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import text

    from caseflow.extensions import make_engine

    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:  # ours: created by this run
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def start_workers(n: int, env: dict[str, str], logdir: Path) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i in range(n):
        with open(logdir / f"worker-{i}.log", "wb") as log:
            procs.append(subprocess.Popen(
                [sys.executable, "-c", "from caseflow.cli import main; main()", "worker",
                 "--name", f"bench-{env['CASEFLOW_DEADLINE_QUEUE']}-{i}"],
                env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
    return procs


def stop_workers(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()


def arm(app, targets: list[tuple[float, str]], batch: int) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Arm one instruction per target through ``transition.start``; return (seconds, behind)."""
    from caseflow.effects import Effects
    from caseflow.extensions import db
    from caseflow.models import Instruction
    from caseflow.security.actor import Actor
    from caseflow.services import transition
    from caseflow.workflow.engine import get_catalog

    actor = Actor.system("bench")
    started = time.monotonic()
    behind = 0
    with app.app_context():
        session, catalog = db.session(), get_catalog(app)
        for start in range(0, len(targets), batch):
            effects = Effects()
            for i in range(start, min(len(targets), start + batch)):
                target, number = targets[i]
                k = math.ceil(target - time.time())
                if k < 1:
                    behind += 1
                    k = 1
                ins = Instruction(number=number, received_at=datetime.now(timezone.utc),
                                  caller_contact=str(k))
                transition.start(session, catalog, ins, workflow="bench_deadline", actor=actor,
                                 role="system", effects=effects, commit=False)
            session.commit()
            effects.dispatch()  # schedules each deadline on RQ, as every transition does
            session.expunge_all()
        db.session.remove()
    return time.monotonic() - started, behind


def measure(url: str) -> dict[str, object]:
    from sqlalchemy import text

    from caseflow.extensions import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT d.status, d.due_at, d.fired_at, i.number FROM deadline d "
            "JOIN instruction i ON i.id = d.item_id AND d.item_type = 'instruction'")).all()
        dup = conn.execute(text(
            "SELECT coalesce(sum(c - 1), 0) FROM (SELECT count(*) AS c FROM ledger_entry "
            "WHERE trigger = 'deadline:due' GROUP BY item_type, item_id) t WHERE c > 1")).scalar_one()
    engine.dispose()
    lags, burst_lags = [], []
    fired = lost = early = 0
    for status, due, fired_at, number in rows:
        if status != "fired":
            lost += 1
            continue
        fired += 1
        lag = (fired_at - due).total_seconds()
        if lag < 0:
            early += 1
        lags.append(lag)
        if number.startswith("B-"):
            burst_lags.append(lag)
    return {"fired": fired, "lost": lost, "early": early, "duplicate": int(dup), "lags": lags,
            "burst_lags": burst_lags, "rows": len(rows)}


def pending_count(url: str) -> int:
    from sqlalchemy import text

    from caseflow.extensions import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM deadline WHERE status = 'pending'")).scalar_one()
    engine.dispose()
    return int(n)


def cleanup_redis(redis_url: str, token: str) -> None:
    import redis

    conn = redis.Redis.from_url(redis_url)
    for pattern in (f"*{token}*", "rq:job:deadline-*"):
        batch = []
        for key in conn.scan_iter(match=pattern, count=5000):
            batch.append(key)
            if len(batch) >= 5000:
                conn.delete(*batch)
                batch = []
        if batch:
            conn.delete(*batch)
    conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100_000, help="deadlines spread over the window")
    parser.add_argument("--window-s", type=float, default=600, help="window the deadlines fall due in")
    parser.add_argument("--burst", type=int, default=2000, help="extra deadlines due in one same second")
    parser.add_argument("--workers", type=int, default=2, help="caseflow worker processes")
    parser.add_argument("--lead-s", type=float, default=None,
                        help="seconds from start to the window (default: 20 + items/220, arming runs at ~250-300/s)")
    parser.add_argument("--batch", type=int, default=500, help="items armed per transaction")
    parser.add_argument("--grace-s", type=float, default=120, help="wait after the window before counting lost")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the bench database")
    args = parser.parse_args()

    server_url = os.environ.get("CASEFLOW_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    redis_url = os.environ.get("CASEFLOW_REDIS_URL") or "redis://127.0.0.1:6379/12"
    if not server_url.startswith("postgresql"):
        print("bench/deadlines.py needs PostgreSQL: set CASEFLOW_DATABASE_URL", file=sys.stderr)
        return 2
    token = secrets.token_hex(4)
    dbname = f"caseflow_bench_{token}"
    total = args.count + args.burst
    lead = args.lead_s if args.lead_s is not None else 20 + total / 220
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-bench-"))
    write_workflow(tmp, int(lead + args.window_s + 30))
    print(f"bench: database {dbname}, redis {redis_url}, logs {tmp}", flush=True)
    url = create_database(server_url, dbname)
    env = {**os.environ, "CASEFLOW_DATABASE_URL": url, "CASEFLOW_REDIS_URL": redis_url,
           "CASEFLOW_WORKFLOWS_DIR": str(tmp), "CASEFLOW_INSTANCE_PATH": str(tmp / "instance"),
           "CASEFLOW_DEADLINE_QUEUE": f"bench-deadlines-{token}", "CASEFLOW_DEFAULT_QUEUE": f"bench-default-{token}",
           "CASEFLOW_NOTIFY_QUEUE": f"bench-notify-{token}", "PYTHONPATH": str(REPO)}
    os.environ.update({k: v for k, v in env.items() if k.startswith("CASEFLOW_")})
    procs: list[subprocess.Popen[bytes]] = []
    try:
        from caseflow import create_app

        app = create_app()
        procs = start_workers(args.workers, env, tmp)
        t_start = time.time()
        t0 = t_start + lead
        burst_second = math.floor(t0 + args.window_s / 2)
        targets = [(t0 + args.window_s * i / max(1, args.count), f"N-{i}") for i in range(args.count)]
        targets += [(float(burst_second), f"B-{i}") for i in range(args.burst)]
        targets.sort()
        arm_s, behind = arm(app, targets, args.batch)
        print(f"armed {total} in {arm_s:.1f}s ({total / arm_s:.0f}/s) through transition.start; "
              f"window opens in {t0 - time.time():.1f}s; fell behind: {behind}", flush=True)
        end = t0 + args.window_s + args.grace_s
        while time.time() < end:
            left = pending_count(url)
            print(f"  t={time.time() - t0:+.0f}s pending={left}", flush=True)
            if time.time() > t0 + args.window_s and left == 0:
                break
            time.sleep(5)
        stats = measure(url)
    finally:
        stop_workers(procs)
        cleanup_redis(redis_url, token)
        if not args.keep_db:
            drop_database(server_url, dbname)
    lags, burst_lags = stats["lags"], stats["burst_lags"]  # type: ignore[assignment]
    print(f"rows={stats['rows']} workers={args.workers} window_s={args.window_s:g} lead_s={lead:.0f}")
    print(f"deadlines: pending={args.count} burst={args.burst} fired={stats['fired']} lost={stats['lost']} "
          f"duplicate={stats['duplicate']} early={stats['early']} lag_p50_s={percentile(lags, 50):.3f} "  # type: ignore[arg-type]
          f"lag_p99_s={percentile(lags, 99):.3f} lag_max_s={max(lags or [0.0]):.3f} "  # type: ignore[arg-type]
          f"burst_p99_s={percentile(burst_lags, 99):.3f}")  # type: ignore[arg-type]
    ok = stats["lost"] == 0 and stats["duplicate"] == 0 and stats["early"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
