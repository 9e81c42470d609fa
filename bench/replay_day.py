"""Replay a megacity's day through the service layer, as fast as the machine allows.

    python bench/replay_day.py                       # 60,000 cases + 2,000 instructions
    python bench/replay_day.py --cases 6000 --instructions 200 --processes 2

What it does:

* **Generates the day**: ``--cases`` cases over the four tiers (simple 40%, general 45%,
  complex 12%, difficult 3%) and ``--instructions`` emergency-linkage instructions, each with an
  arrival hour drawn from a 12345-hotline-like curve (quiet at night, peaks 9-11 h and 14-17 h);
  about 3% of cases fail their check once and are reworked, 5% are supervised, 4% get an
  extension (requested and approved), and 5% of general cases go to the wrong unit first, which
  asks to return them (退单) and the dispatcher re-dispatches (only when
  ``caseflow/services/returns.py`` exists: otherwise skipped, and the output says so).
* **Drives every lifecycle to its end** in arrival order, through the service layer only
  (``caseflow.services.cases.*``, ``caseflow.services.instructions``; every state change goes
  through ``transition.fire``/``apply``/``start``): cases from intake to archive, instructions
  from receipt to the report to 110. Deadlines are armed and cancelled for real (rows in the
  database). Effects run for real too, against a **throwaway redis-server** the bench starts
  (RQ ``enqueue_at`` for each deadline, outbox jobs): no worker consumes them, so no deadline
  fires during the replay (they are hours away on the working clock anyway).
* ``--processes N``: the day is dealt round-robin to N processes (spawned, each with its own
  app and engine) that run at the same time.
* ``--profile K``: process 0 runs its first K lifecycles under cProfile; the top functions go
  to stdout and the full stats to a file.

Against ``CASEFLOW_DATABASE_URL`` (a PostgreSQL server): the bench creates its own database
``caseflow_replay_<random>`` and drops it after (``--keep-db`` keeps it). When that server runs
with ``autovacuum = off`` (the CI server does), ``bench/autovacuum.py`` vacuums and analyzes as
the default daemon would, so the day is measured as a production server would run it.

Last line: ``replay: cases=.. instructions=.. transitions=T seconds=S transitions_per_s=R p99_ms=P errors=E``
where T counts ledger entries written (one per transition, creation included), S is the
wall time of the replay (not setup), and p99 is over single service calls.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import math
import multiprocessing as mp
import os
import pstats
import random
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

# A 1x1 PNG: the site photo a simple case's result must carry.
SITE_PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                         "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e5270de1"
                         "0000000049454e44ae426082")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

TIERS = (("simple", 0.40), ("general", 0.45), ("complex", 0.12), ("difficult", 0.03))
# Relative arrivals per local hour 0..23 (a hotline day: quiet nights, morning and afternoon peaks).
HOURLY = (1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4.5, 6.0, 6.5, 6.0, 5.0, 5.0, 5.5, 6.0, 5.5, 4.5,
          3.5, 3.0, 2.6, 2.2, 1.8, 1.3)
REWORK, SUPERVISE, EXTEND, RETURN = 0.03, 0.05, 0.04, 0.05
# A city about 40 km across: duplicates (same category within 50 m and 24 h) stay rare.
LAT0, LON0, SPAN = 31.0, 121.2, 0.4


def plan_day(cases: int, instructions: int, seed: int, with_returns: bool) -> list[dict[str, Any]]:
    """The day's work items in arrival order."""
    rng = random.Random(seed)
    tiers, weights = zip(*TIERS)
    jobs = []
    for i in range(cases):
        tier = rng.choices(tiers, weights)[0]
        jobs.append({
            "kind": "case", "n": i, "tier": tier, "hour": rng.choices(range(24), HOURLY)[0],
            "rework": rng.random() < REWORK, "supervise": rng.random() < SUPERVISE,
            "extend": rng.random() < EXTEND,
            "return": with_returns and tier == "general" and rng.random() < RETURN,
            "lat": LAT0 + rng.random() * SPAN, "lon": LON0 + rng.random() * SPAN,
            "category": {"general": rng.choice(("garbage", "road"))}.get(tier, tier),
        })
    for i in range(instructions):
        jobs.append({"kind": "instruction", "n": i, "hour": rng.choices(range(24), HOURLY)[0],
                     "category": rng.choice(("garbage", "road"))})
    rng.shuffle(jobs)
    jobs.sort(key=lambda j: j["hour"])  # stable: random order within an hour
    return jobs


# --------------------------------------------------------------------------- setup


def create_database(server_url: str, name: str) -> str:
    """CREATE DATABASE and the current models' tables (create_all: the bench needs no migration
    history, and a capability may have added columns before its migration exists)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from caseflow.extensions import make_engine
    from caseflow.models import Base

    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    return url


def seed_database(url: str) -> None:
    """The street (tests/factories.build_world) plus one category per non-general tier."""
    from caseflow import create_app
    from caseflow.extensions import db
    from caseflow.models import Category, Department
    from tests.factories import build_world

    app = create_app({"DATABASE_URL": url, "REDIS_URL": "redis://127.0.0.1:1/0"})
    with app.app_context():
        session = db.session()
        world = build_world(session)
        for code, tier, dept in (("simple", "simple", world.sanitation), ("complex", "complex", world.roads),
                                 ("difficult", "difficult", world.roads)):
            session.add(Category(code=code, name=code, field="city", responsible_department=dept, default_tier=tier))
        session.commit()
        assert session.query(Department).count() == 2
        db.session.remove()
        db.engine.dispose()


class Replayer:
    """One process's share of the day."""

    def __init__(self, url: str, redis_url: str) -> None:
        from caseflow import create_app
        from caseflow.extensions import db
        from caseflow.models import Department, Person
        from caseflow.security.actor import Actor
        from caseflow.workflow.engine import get_catalog

        # Site photos go to a folder of this process's own, removed when the replay ends.
        self.upload_dir = tempfile.mkdtemp(prefix="caseflow-replay-uploads-")
        self.app = create_app({"DATABASE_URL": url, "REDIS_URL": redis_url, "UPLOAD_DIR": self.upload_dir})
        self.ctx = self.app.app_context()
        self.ctx.push()
        self.session = db.session()
        self.catalog = get_catalog(self.app)
        people = {p.username: p for p in self.session.query(Person)}
        self.a = {name: Actor.from_person(p) for name, p in people.items()}
        self.a["hotline"] = Actor.client_of("hotline")
        self.a["app"] = Actor.client_of("app")
        self.a["110"] = Actor.client_of("linkage_110")
        depts = {d.code: d.id for d in self.session.query(Department)}
        self.san, self.road = depts["SAN"], depts["ROAD"]
        self.session.commit()
        self.latencies: list[float] = []
        self.calls = 0
        self.errors: list[str] = []
        self.kinds: Counter[str] = Counter()

    def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one service call, timing it."""
        t0 = time.perf_counter()
        out = fn(self.session, self.catalog, *args, **kwargs)
        self.latencies.append((time.perf_counter() - t0) * 1000)
        self.calls += 1
        return out

    def site_photo(self, cid: int, actor: Any, tier: str) -> list[str]:
        """A simple case's result needs a site photo uploaded in this round (篇五: 现场照片);
        upload a tiny PNG through the attachments service and name it. Other tiers cite a
        reference in words, as before."""
        if tier != "simple":
            return ["photo-1"]
        from caseflow.services import attachments

        photo = attachments.store(self.session, item_type="case", item_id=cid, actor=actor,
                                  filename="site.png", stream=io.BytesIO(SITE_PNG))
        return [f"attachment:{photo.id}"]

    def run(self, job: dict[str, Any]) -> None:
        """One lifecycle to its end; an exception is counted as an error, never hidden."""
        try:
            if job["kind"] == "case":
                self.case(job)
            else:
                self.instruction(job)
            self.kinds[job.get("tier", "instruction")] += 1
        except Exception as exc:  # the bench reports every failure
            self.session.rollback()
            self.errors.append(f"{job['kind']} {job['n']} {job.get('tier', '')}: {exc.__class__.__name__}: {exc}"
                               + ("\n" + traceback.format_exc(limit=6) if len(self.errors) < 3 else ""))
        finally:
            # Keep the identity map small: a process handles tens of thousands of items.
            self.session.expunge_all()

    # ---------------------------------------------------------------- cases

    def case(self, job: dict[str, Any]) -> None:
        from caseflow.services.cases import closing, extension, handling, intake, review, supervision

        a, tier, n = self.a, job["tier"], job["n"]
        reporter = {"simple": a["san_handler"], "general": a["hotline"], "complex": a["app"],
                    "difficult": a["dispatcher"]}[tier]
        channel = {"simple": "patrol", "general": "hotline", "complex": "app", "difficult": "referral"}[tier]
        case, created = self.call(intake.report, channel=channel, actor=reporter, title=f"replay {tier} {n}",
                                  category_code=job["category"], lat=job["lat"], lon=job["lon"],
                                  external_ref=f"R{n}" if channel in ("hotline", "app") else None)
        assert created, "intake returned an existing case"
        cid, disp = case.id, a["dispatcher"]
        lead = a["san_handler"] if tier == "simple" or job["category"] == "garbage" else a["road_handler"]
        if tier != "simple":
            self.call(review.register, cid, actor=disp)
        if tier == "general":
            right = self.san if job["category"] == "garbage" else self.road
            if job["return"]:
                # Dispatched to the wrong unit, which asks to return it; the dispatcher re-dispatches.
                from caseflow.services import returns

                wrong, wrong_handler = (self.road, a["road_handler"]) if right == self.san else (self.san, a["san_handler"])
                self.call(handling.dispatch, cid, actor=disp, department_id=wrong)
                rr = self.call(returns.request_return, cid, wrong_handler, "不属本单位职责", "职责清单第3条",
                               suggested_department_id=right)
                self.call(returns.approve, rr.id, disp)
            else:
                self.call(handling.dispatch, cid, actor=disp, department_id=right)
            if job["supervise"]:
                self.call(supervision.supervise, cid, actor=disp, method="phone", requirement="立即签收")
            self.call(handling.sign, cid, actor=lead)
        elif tier == "complex":
            self.call(handling.dispatch, cid, actor=disp, department_id=self.road,
                      cooperating_department_ids=[self.san])
            self.call(handling.sign_part, cid, actor=a["san_handler"])
            self.call(handling.sign, cid, actor=lead)
            if job["supervise"]:
                self.call(supervision.supervise, cid, actor=a["deputy"], method="written", requirement="三日内完成")
            self.call(handling.report_part, cid, actor=a["san_handler"], result="配合完成")
        elif tier == "difficult":
            self.call(handling.escalate_to_district, cid, actor=disp, reason="需区级协调")
            self.call(handling.start_joint_handling, cid, actor=a["principal"], department_id=self.road)
            if job["supervise"]:
                self.call(supervision.supervise, cid, actor=a["principal"], method="on_site", requirement="现场协调")
        elif job["supervise"]:
            self.call(supervision.supervise, cid, actor=a["deputy"], method="on_site", requirement="今日内处理")
        if job["extend"]:
            self.call(extension.request_extension, cid, actor=lead, duration="4h", reason="需协调产权单位")
            self.call(extension.approve_extension, cid, actor=disp, reason="情况属实", duration="2h")
        self.call(handling.report_result, cid, actor=lead, result="已处置",
                  evidence_refs=self.site_photo(cid, lead, tier))
        if job["rework"]:
            self.call(closing.check_fail, cid, actor=disp, reason="仍有残留")
            self.call(handling.report_result, cid, actor=lead, result="已返工",
                      evidence_refs=self.site_photo(cid, lead, tier))
        self.call(closing.check_pass, cid, actor=disp, opinion="核查通过")
        final = self.call(closing.archive, cid, actor=disp)
        assert final.state == "archived", f"ended in {final.state}"

    # ---------------------------------------------------------------- instructions

    def instruction(self, job: dict[str, Any]) -> None:
        from caseflow.services import instructions as svc

        a = self.a
        item, created = self.call(svc.receive, actor=a["110"], number=f"110-R{job['n']}", category=job["category"],
                                  address="人民路 1 号", description="replay")
        assert created
        handler = a["san_handler"] if job["category"] == "garbage" else a["road_handler"]
        self.call(svc.sign, item.id, actor=a["liaison"])
        self.call(svc.dispatch, item.id, actor=a["liaison"])
        self.call(svc.arrive, item.id, actor=handler, situation="到场处置")
        self.call(svc.report_result, item.id, actor=handler, result="已处置")
        final = self.call(svc.report_to_110, item.id, actor=a["liaison"])
        assert final.state == "closed", f"ended in {final.state}"


def worker_main(index: int, url: str, redis_url: str, jobs: list[dict[str, Any]], profile_n: int,
                profile_path: str, ready: Any, go: Any, results: Any) -> None:
    """Entry point of one replay process: wait for the start signal, replay, report."""
    import logging

    logging.getLogger("caseflow.effects").setLevel(logging.CRITICAL)  # failures surface as errors
    logging.getLogger("transitions").setLevel(logging.WARNING)
    try:
        rep = Replayer(url, redis_url)
    except BaseException:
        results.put({"index": index, "fatal": traceback.format_exc()})
        ready.release()
        return
    ready.release()
    go.wait()
    started = time.perf_counter()
    profiled = jobs[:profile_n] if index == 0 else []
    if profiled:
        prof = cProfile.Profile()
        prof.enable()
        for job in profiled:
            rep.run(job)
        prof.disable()
        prof.dump_stats(profile_path)
    for job in jobs[len(profiled):]:
        rep.run(job)
    shutil.rmtree(rep.upload_dir, ignore_errors=True)
    results.put({"index": index, "latencies": rep.latencies, "calls": rep.calls, "errors": rep.errors,
                 "kinds": dict(rep.kinds), "seconds": time.perf_counter() - started})


def run_processes(n: int, url: str, redis_url: str, jobs: list[dict[str, Any]], profile_n: int,
                  profile_path: str) -> tuple[list[dict[str, Any]], float]:
    """Deal the jobs round-robin to ``n`` spawned processes; return their reports and the wall time."""
    ctx = mp.get_context("spawn")
    ready, go, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=worker_main, args=(i, url, redis_url, jobs[i::n], profile_n, profile_path,
                                                   ready, go, results), daemon=True) for i in range(n)]
    for proc in procs:
        proc.start()
    try:
        for _ in range(n):  # every process has its app and engine: start the clock together
            ready.acquire()
        t0 = time.perf_counter()
        go.set()
        outs = []
        while len(outs) < n:
            try:
                outs.append(results.get(timeout=5))
            except Exception:  # queue.Empty: make sure nobody died silently
                dead = [p for p in procs if p.exitcode not in (None, 0)]
                if dead:
                    raise RuntimeError(f"replay process died: exit codes {[p.exitcode for p in dead]}") from None
        seconds = time.perf_counter() - t0
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    fatal = [o["fatal"] for o in outs if "fatal" in o]
    if fatal:
        raise RuntimeError("replay process could not start:\n" + fatal[0])
    return sorted(outs, key=lambda o: o["index"]), seconds


def profile_summary(path: str, top: int = 25) -> str:
    """The top functions by own time and by cumulative time."""
    out = io.StringIO()
    stats = pstats.Stats(path, stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def count_rows(url: str) -> dict[str, int]:
    """Ledger entries and deadline rows by status, from the database."""
    from sqlalchemy import text

    from caseflow.extensions import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        counts = {"ledger": conn.execute(text("SELECT count(*) FROM ledger_entry")).scalar_one()}
        for status, n in conn.execute(text("SELECT status, count(*) FROM deadline GROUP BY status")).all():
            counts[f"deadline_{status}"] = n
        counts["open_items"] = conn.execute(text(
            "SELECT (SELECT count(*) FROM \"case\" WHERE state <> 'archived') + "
            "(SELECT count(*) FROM instruction WHERE state <> 'closed')")).scalar_one()
        counts["dup_ledger"] = conn.execute(text(
            "SELECT count(*) FROM (SELECT 1 FROM ledger_entry GROUP BY item_type, item_id, seq "
            "HAVING count(*) > 1) t")).scalar_one()
    engine.dispose()
    return counts


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(1, math.ceil(p / 100 * len(ordered))) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=60_000)
    parser.add_argument("--instructions", type=int, default=2_000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--profile", type=int, default=300, help="lifecycles profiled in process 0 (0: off)")
    parser.add_argument("--pgbench", action="store_true", help="also measure pgbench -N -c 2 -T 20")
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument("--autovacuum-naptime", type=float, default=60.0,
                        help="when the server's autovacuum is off, vacuum as it would every N seconds (bench/autovacuum.py; 0: do not)")
    args = parser.parse_args()

    server_url = os.environ.get("CASEFLOW_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    if not server_url.startswith("postgresql"):
        print("bench/replay_day.py needs PostgreSQL: set CASEFLOW_DATABASE_URL", file=sys.stderr)
        return 2
    from deadlines import drop_database

    from tests.support.servers import RedisServer

    with_returns = True
    jobs = plan_day(args.cases, args.instructions, args.seed, with_returns)
    tiers = Counter(j.get("tier", "instruction") for j in jobs)
    flags = {k: sum(1 for j in jobs if j.get(k)) for k in ("rework", "supervise", "extend", "return")}
    peak = Counter(j["hour"] for j in jobs).most_common(1)[0]
    print(f"replay: planned {dict(tiers)}; rework={flags['rework']} supervise={flags['supervise']} "
          f"extend={flags['extend']} returns={flags['return']}; "
          f"peak hour {peak[0]:02d}h with {peak[1]} arrivals", flush=True)
    dbname = f"caseflow_replay_{secrets.token_hex(4)}"
    tmp = Path(tempfile.mkdtemp(prefix="caseflow-replay-"))
    url = create_database(server_url, dbname)
    redis_server = RedisServer().start()
    print(f"replay: database {dbname}; effects go to a throwaway redis-server {redis_server.url} "
          f"(RQ jobs enqueued, none consumed)", flush=True)
    try:
        seed_database(url)
        n = max(1, args.processes)
        profile_path = str(tmp / "replay.prof")
        from autovacuum import Autovacuum

        with Autovacuum(url, naptime=args.autovacuum_naptime) as vacuum:
            outs, seconds = run_processes(n, url, redis_server.url, jobs, args.profile, profile_path)
        print(f"replay: {vacuum.describe()}", flush=True)
        counts = count_rows(url)
        if args.profile:
            print(profile_summary(profile_path))
            print(f"replay: full profile in {profile_path} (process 0, first {args.profile} lifecycles)")
        pg_tps = None
        if args.pgbench:
            from pgbench_ref import pgbench_tps

            pg_tps = pgbench_tps(server_url)
    finally:
        redis_server.stop()
        if not args.keep_db:
            drop_database(server_url, dbname)
    latencies = [x for o in outs for x in o["latencies"]]
    errors = [e for o in outs for e in o["errors"]]
    for e in errors[:5]:
        print("error:", e)
    calls = sum(o["calls"] for o in outs)
    transitions = counts["ledger"]
    rate = transitions / seconds if seconds else 0.0
    print(f"replay: processes={n} service_calls={calls} per_process_s={[round(o['seconds'], 1) for o in outs]} "
          f"deadlines={ {k[9:]: v for k, v in counts.items() if k.startswith('deadline_')} } "
          f"open_items={counts['open_items']} duplicate_ledger_seq={counts['dup_ledger']} "
          f"p50_ms={percentile(latencies, 50):.1f} max_ms={max(latencies or [0]):.0f}")
    if pg_tps is not None:
        print(f"replay: pgbench -N -c 2 -T 20 tps={pg_tps:.0f}; replay transitions/s to pgbench tps = {rate / pg_tps:.3f}")
    print(f"replay: cases={args.cases} instructions={args.instructions} transitions={transitions} "
          f"seconds={seconds:.1f} transitions_per_s={rate:.0f} p99_ms={percentile(latencies, 99):.1f} "
          f"errors={len(errors)}")
    return 0 if not errors and counts["open_items"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
