"""Report benchmark: a generated, realistic year of cases, then the monthly and yearly reports timed.

    python bench/reports.py                  # ~1,000,000 cases (+ ~8M ledger entries)
    python bench/reports.py --cases 100000   # a quick run

``CASEFLOW_DATABASE_URL`` names the PostgreSQL **server**: the bench creates its own database
``caseflow_bench_reports_<token>`` there and drops it at the end (``--keep-db`` keeps it).

Loading does not go through the service layer (a million transitions would take hours): the
rows a year of real work leaves behind are generated in Python and written with PostgreSQL
``COPY`` in batches — cases, their ledger entries (report, register, dispatch, sign, results,
checks, rework, extensions, deferrals, supervisions, redispatches, callbacks, archive),
deadline rows (fired when the step came late), supervision rows, return requests with their
decisions, and emergency instructions (about one per 25 cases) with their ledger entries.
Secondary indexes are dropped before the load and built after it, then ``ANALYZE``.

The distributions are meant to look like a street center's year (seed 004: ~2,600 reports a
day for a county): a daily rhythm peaking mid-morning, channels (patrol 40 %, 12345 30 %,
app 15 %, sensors 8 %, referrals 5 %, 110 2 %), tiers (simple 30 %, general ~50 %, complex ~13 %,
difficult ~5 %), 30 categories and 35 grids with Zipf-like weights (hot spots), ~6 % voided,
~8 % reworked, ~4 % extended, ~5 % supervised, ~2 % returned, a long-tailed handling time.

Then, in a fresh session as the API would, ``build_report`` (everything a report holds:
indicators by six slices with medians, instructions, trend, recurring problems, assessment)
for one month (June) and for the whole year. ``case_fact`` is emptied first; each period's
first run folds its cases' facts and is printed on its own, the median of the ``--repeat``
runs after it is the figure; between the month and the year 1 % of June's cases get a new
ledger entry and the month is built twice more (the cost of re-folding what moved).
Last line:

    reports: cases=N monthly_s=X yearly_s=X
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import secrets
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

YEAR = 2025
SH_OFFSET = 8 * 3600  # Asia/Shanghai, no DST
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 12, 14, 13, 11, 8, 9, 11, 11, 10, 9, 7, 6, 5, 4, 2, 1]
CHANNELS = [("patrol", 40), ("hotline", 30), ("app", 15), ("sensor", 8), ("referral", 5), ("linkage_110", 2)]
HASH = "0" * 64
BATCH = 20_000


def ts(epoch: float) -> str:
    """COPY text for a UTC timestamp."""
    return time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(epoch))


def lognormal(median_s: float, sigma: float = 0.9) -> float:
    """A long-tailed duration around ``median_s``."""
    return median_s * math.exp(random.gauss(0, sigma))


def weighted(items: list[Any], weights: list[float]) -> Any:
    return random.choices(items, weights)[0]


class Copier:
    """COPY rows into a table: the given columns, plus constant fills for NOT NULL columns with defaults."""

    def __init__(self, table: Any, columns: list[str], fill_time: str) -> None:
        from sqlalchemy import JSON

        self.name = table.name
        self.columns = list(columns)
        fills = []
        for col in table.columns:
            if col.name in columns or col.nullable:
                continue
            default = col.default
            if default is not None and not callable(default.arg):
                value = default.arg
                fills.append((col.name, "t" if value is True else "f" if value is False else str(value)))
            elif isinstance(col.type, JSON) or "JSON" in type(col.type).__name__.upper():
                fills.append((col.name, "{}"))
            elif "Date" in type(col.type).__name__ or "UTC" in type(col.type).__name__:
                fills.append((col.name, fill_time))
            else:
                raise SystemExit(f"bench: {table.name}.{col.name} is NOT NULL without a default; add it to the bench")
        self.columns += [n for n, _ in fills]
        self.suffix = "".join("\t" + v for _, v in fills)

    def copy(self, conn: Any, lines: list[str]) -> None:
        if not lines:
            return
        buf = "".join(line + self.suffix + "\n" for line in lines)
        cols = ", ".join(f'"{c}"' for c in self.columns)
        with conn.cursor() as cur, cur.copy(f'COPY "{self.name}" ({cols}) FROM STDIN') as cp:
            cp.write(buf.encode("utf-8"))


def create_database(server_url: str, name: str) -> str:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from caseflow.extensions import make_engine

    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    from sqlalchemy import text

    from caseflow.extensions import make_engine

    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --------------------------------------------------------------------------- reference data


def reference_data(session: Any) -> dict[str, Any]:
    """A street: 20 departments, 30 categories (each with its department), 35 grids, a few people."""
    from caseflow.models import Area, Category, Center, Department, Grid, Person

    street = Center(code="S01", name="示范街道城运中心", level="street")
    main, other = Area(code="main", name="主城区", kind="main_urban"), Area(code="other", name="其它区域", kind="other")
    session.add_all([street, main, other])
    session.flush()
    depts = [Department(code=f"D{i:02d}", name=f"部门{i:02d}", kind="unit", center_id=street.id) for i in range(20)]
    session.add_all(depts)
    session.flush()
    cats = [Category(code=f"C{i:02d}", name=f"问题类型{i:02d}", field="city",
                     responsible_department_id=depts[i % 20].id, default_tier="general") for i in range(30)]
    grids = [Grid(code=f"G{i:02d}", name=f"网格{i:02d}", area_id=(main if i < 24 else other).id,
                  center_id=street.id) for i in range(35)]
    person = Person(username="bench", full_name="bench")
    session.add_all(cats + grids + [person])
    session.commit()
    return {"depts": [d.id for d in depts], "cats": [(c.id, c.responsible_department_id) for c in cats],
            "grids": [(g.id, "main_urban" if g.code < "G24" else "other") for g in grids], "person": person.id}


# --------------------------------------------------------------------------- one case's life


class Gen:
    """Generates the rows of cases and instructions as COPY text lines."""

    def __init__(self, ref: dict[str, Any], year: int, seed: int) -> None:
        random.seed(seed)
        self.ref = ref
        self.start = datetime(year, 1, 1, tzinfo=timezone.utc).timestamp() - SH_OFFSET
        self.days = (date(year + 1, 1, 1) - date(year, 1, 1)).days
        self.cat_w = [1 / (i + 1) ** 0.9 for i in range(len(ref["cats"]))]
        self.grid_w = [3 if i in (2, 7, 11) else 1 / (1 + i % 9) + 0.5 for i in range(len(ref["grids"]))]
        self.ledger_id = 0
        self.deadline_id = 0
        self.sup_id = 0
        self.rr_id = 0

    def when(self) -> float:
        day = random.randrange(self.days)
        hour = weighted(list(range(24)), HOUR_WEIGHTS)
        return self.start + day * 86400 + hour * 3600 + random.random() * 3600

    def case(self, cid: int, out: dict[str, list[str]]) -> None:
        t = self.when()
        channel = weighted([c for c, _ in CHANNELS], [w for _, w in CHANNELS])
        if channel == "patrol" and random.random() < 0.7:
            tier = "simple"
        else:
            tier = weighted(["general", "complex", "difficult"], [75, 18, 7])
        cat, dept = weighted(self.ref["cats"], self.cat_w)
        grid, area = weighted(self.ref["grids"], self.grid_w)
        wf = f"case_{tier}"
        entries: list[tuple[str, float, str | None, str]] = [("report", t, "reported", "{}")]
        deadlines: list[tuple[str, str, float, float, bool]] = []  # key, state, armed, due, fired
        state, closed_at, now = "reported", None, t

        def step(trigger: str, delay: float, to: str | None = None, payload: str = "{}") -> float:
            nonlocal now, state
            now += max(delay, 1.0)
            entries.append((trigger, now, to, payload))
            if to:
                state = to
            return now

        def limit(key: str, st: str, armed: float, seconds: float, left: float) -> None:
            deadlines.append((key, st, armed, armed + seconds, left > armed + seconds))

        if tier == "simple":
            armed = now
            step("report_result", lognormal(3600, 0.7), "checking")
            limit("handle", "reported", armed, 4 * 3600, now)
        else:
            armed = now
            if random.random() < 0.06:
                step("void", lognormal(1800), "voided", '{"reason": "duplicate"}')
                self.flush_case(cid, t, channel, tier, cat, grid, area, None, wf, "voided", None, entries, deadlines, out)
                return
            step("register", lognormal(1500, 0.8), "registered")
            if tier == "general":
                limit("review", "reported", armed, 2 * 3600, now)
            if tier == "difficult":
                step("escalate_to_district", lognormal(1800), "escalated")
                armed = now
                step("start_joint_handling", lognormal(6 * 3600), "joint_handling")
                limit("coordinate", "escalated", armed, 86400, now)
            else:
                step("dispatch", lognormal(900, 0.7), "dispatched")
                armed = now
                step("sign", lognormal(2400, 0.8), "handling")
                limit("sign", "dispatched", armed, 2 * 3600, now)
            handle_s = {"general": 86400, "complex": 5 * 86400, "difficult": 10 * 86400}[tier]
            armed = now
            if random.random() < 0.05:
                step("supervise", lognormal(4 * 3600), None, '{"method": "phone"}')
                self.supervision(cid, dept, now, out)
            if random.random() < 0.04:
                step("request_extension", lognormal(3 * 3600), None, '{"duration": "1d"}')
                if random.random() < 0.8:
                    step("approve_extension", lognormal(1800), None, '{"duration": "1d"}')
                    handle_s += 86400
                else:
                    step("reject_extension", lognormal(1800), None, "{}")
            if random.random() < 0.01:
                step("request_deferral", lognormal(3 * 3600), None, "{}")
                step("approve_deferral", lognormal(1800), None, "{}")
                step("resume", lognormal(3 * 86400), None, "{}")
            if tier != "difficult" and random.random() < 0.02:
                self.return_request(cid, dept, now + 1800, out)
                step("redispatch", lognormal(3 * 3600), "dispatched", "{}")
                dept = random.choice(self.ref["depts"])
                step("sign", lognormal(2400), "handling")
            if random.random() < 0.04:  # stalled: still being handled, its limit long passed
                limit("handle", "handling", armed, handle_s, armed + 2 * handle_s)
                self.flush_case(cid, t, channel, tier, cat, grid, area, dept, wf, state, None, entries, deadlines,
                                out)
                return
            step("report_result", lognormal(handle_s / 4, 1.0), "checking")
            limit("handle", "handling", armed, handle_s, now)
        for _ in range(3):
            armed = now
            if random.random() < 0.08:
                step("check_fail", lognormal(3 * 3600), "handling" if tier != "simple" else "reported",
                     '{"reason": "未整改到位"}')
                limit("check", "checking", armed, 4 * 3600, now)
                step("report_result", lognormal(6 * 3600), "checking")
                continue
            step("check_pass", lognormal(2 * 3600, 0.8), "closed")
            limit("check", "checking", armed, 4 * 3600, now)
            closed_at = now
            break
        if closed_at is not None:
            if channel in ("hotline", "app") and random.random() < 0.6:
                grade = weighted([1, 2, 3, 4, 5], [3, 5, 12, 30, 50])
                step("callback", lognormal(86400), None, json.dumps({"grade": grade}))
            if random.random() < 0.9:
                step("archive", lognormal(3 * 86400), "archived")
        self.flush_case(cid, t, channel, tier, cat, grid, area, dept, wf, state, closed_at, entries, deadlines, out)

    def flush_case(self, cid: int, t: float, channel: str, tier: str, cat: int, grid: int, area: str,
                   dept: int | None, wf: str, state: str, closed_at: float | None,
                   entries: list[tuple[str, float, str | None, str]],
                   deadlines: list[tuple[str, str, float, float, bool]], out: dict[str, list[str]]) -> None:
        n = r"\N"
        last = entries[-1][1]
        out["case"].append("\t".join([
            str(cid), wf, "1", state, str(len(entries)), ts(last), ts(t), ts(last), "{}",
            f"B{cid:09d}", channel, tier, str(cat), str(grid), area, str(dept) if dept else n,
            f"问题 {cid}", ts(t), ts(closed_at) if closed_at else n, str(len(entries))]))
        prev = None
        for seq, (trigger, at, to, payload) in enumerate(entries, start=1):
            self.ledger_id += 1
            out["ledger_entry"].append("\t".join([
                str(self.ledger_id), "case", str(cid), str(seq), ts(at), "dispatcher", trigger,
                prev or n, to or n, wf, "1", payload, HASH, HASH]))
            prev = to or prev
        for seq, (key, st, armed, due, fired) in enumerate(deadlines, start=1):
            self.deadline_id += 1
            out["deadline"].append("\t".join([
                str(self.deadline_id), "case", str(cid), key, st, str(seq), ts(armed), ts(due),
                "fired" if fired else "cancelled", ts(due) if fired else n]))

    def supervision(self, cid: int, dept: int, at: float, out: dict[str, list[str]]) -> None:
        self.sup_id += 1
        out["supervision"].append("\t".join([str(self.sup_id), str(cid), str(dept), "phone", ts(at), "加快处置"]))

    def return_request(self, cid: int, dept: int, at: float, out: dict[str, list[str]]) -> None:
        self.rr_id += 1
        rid = self.rr_id
        approved = random.random() < 0.6
        decided = at + lognormal(3600)
        state = "approved" if approved else "rejected"
        out["return_request"].append("\t".join([
            str(rid), str(cid), str(dept), str(self.ref["person"]), "非本单位职责", "职责清单", "return_request", "1",
            state, "1", ts(decided), ts(at), ts(decided), "{}"]))
        for seq, (trigger, when, to) in enumerate((("request", at, "requested"),
                                                   ("approve_return" if approved else "reject_return", decided, state)),
                                                  start=1):
            self.ledger_id += 1
            out["ledger_entry"].append("\t".join([
                str(self.ledger_id), "return_request", str(rid), str(seq), ts(when), "dispatcher", trigger,
                r"\N", to, "return_request", "1", "{}", HASH, HASH]))

    def instruction(self, iid: int, out: dict[str, list[str]]) -> None:
        n = r"\N"
        t = self.when()
        cat, dept = weighted(self.ref["cats"], self.cat_w)
        grid, area = weighted(self.ref["grids"], self.grid_w)
        signed = t + random.uniform(30, 300)
        steps = [("create", t, "received"), ("sign", signed, "signed")]
        if random.random() < 0.03:
            steps.append(("decline", signed + 60, "declined"))
            dispatched = arrived = closed = None
            state = "declined"
        else:
            dispatched = signed + random.uniform(60, 300)
            steps.append(("dispatch", dispatched, "dispatched"))
            arrived = None if random.random() < 0.03 else dispatched + lognormal(1200 if area == "main_urban" else 2400, 0.45)
            closed = None
            state = "dispatched"
            if arrived:
                steps.append(("arrive", arrived, "on_site"))
                closed = arrived + lognormal(3600)
                steps += [("report_result", closed - 60, "handled"), ("close", closed, "closed")]
                state = "closed"
        severity = weighted(["ordinary", "larger", "major"], [90, 9, 1])
        out["instruction"].append("\t".join([
            str(iid), "instruction", "1", state, str(len(steps)), ts(steps[-1][1]), ts(t), ts(steps[-1][1]), "{}",
            f"110-{iid:08d}", ts(t), str(cat), str(grid), area, severity, str(dept) if dispatched else n,
            ts(signed), ts(dispatched) if dispatched else n, ts(arrived) if arrived else n, ts(closed) if closed else n]))
        for seq, (trigger, when, to) in enumerate(steps, start=1):
            self.ledger_id += 1
            out["ledger_entry"].append("\t".join([
                str(self.ledger_id), "instruction", str(iid), str(seq), ts(when), "liaison", trigger,
                r"\N", to, "instruction", "1", "{}", HASH, HASH]))


COLUMNS = {
    "case": ["id", "workflow", "workflow_version", "state", "state_seq", "state_entered_at", "created_at",
             "updated_at", "data", "number", "channel", "tier", "category_id", "grid_id", "area_kind",
             "department_id", "title", "reported_at", "closed_at", "ledger_seq"],
    "ledger_entry": ["id", "item_type", "item_id", "seq", "at", "actor_role", "trigger", "from_state", "to_state",
                     "workflow", "workflow_version", "payload", "prev_hash", "hash"],
    "deadline": ["id", "item_type", "item_id", "key", "state", "state_seq", "armed_at", "due_at", "status",
                 "fired_at"],
    "supervision": ["id", "case_id", "department_id", "method", "at", "requirement"],
    "return_request": ["id", "case_id", "department_id", "requested_by_id", "reason", "basis", "workflow",
                       "workflow_version", "state", "state_seq", "state_entered_at", "created_at", "updated_at",
                       "data"],
    "instruction": ["id", "workflow", "workflow_version", "state", "state_seq", "state_entered_at", "created_at",
                    "updated_at", "data", "number", "received_at", "category_id", "grid_id", "area_kind",
                    "severity", "department_id", "signed_at", "dispatched_at", "arrived_at", "closed_at"],
}
ORDER = ("case", "instruction", "return_request", "supervision", "ledger_entry", "deadline")


def load(url: str, n_cases: int, year: int, seed: int) -> dict[str, int]:
    """Create the schema, load the generated year with COPY, build indexes, ANALYZE; returns row counts."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session
    from sqlalchemy.schema import CreateIndex

    from caseflow.extensions import make_engine
    from caseflow.models import Base

    engine = make_engine(url)
    Base.metadata.create_all(engine)
    tables = {name: Base.metadata.tables[name] for name in ORDER}
    indexes = [ix for t in tables.values() for ix in t.indexes]
    with engine.begin() as conn:
        for ix in indexes:
            conn.execute(text(f'DROP INDEX IF EXISTS "{ix.name}"'))
    with Session(engine) as session:
        ref = reference_data(session)
    fill = ts(datetime(year + 1, 1, 31, tzinfo=timezone.utc).timestamp())
    copiers = {name: Copier(tables[name], COLUMNS[name], fill) for name in ORDER}
    gen = Gen(ref, year, seed)
    n_instructions = max(1, n_cases // 25)
    counts = dict.fromkeys(ORDER, 0)
    raw = engine.raw_connection()
    conn = raw.driver_connection
    started = time.perf_counter()
    try:
        with conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
        done = 0
        while done < n_cases:
            out: dict[str, list[str]] = {name: [] for name in ORDER}
            upto = min(n_cases, done + BATCH)
            for cid in range(done + 1, upto + 1):
                gen.case(cid, out)
            first_i = done * n_instructions // n_cases + 1
            last_i = upto * n_instructions // n_cases
            for iid in range(first_i, last_i + 1):
                gen.instruction(iid, out)
            for name in ORDER:
                copiers[name].copy(conn, out[name])
                counts[name] += len(out[name])
            conn.commit()
            done = upto
            if done % 100_000 == 0 or done == n_cases:
                rate = done / (time.perf_counter() - started)
                print(f"  loaded {done:,} cases ({rate:,.0f}/s)", flush=True)
    finally:
        raw.close()
    t0 = time.perf_counter()
    with engine.begin() as c:
        for name, col in (("case", "id"), ("ledger_entry", "id"), ("deadline", "id"), ("supervision", "id"),
                          ("return_request", "id"), ("instruction", "id")):
            c.execute(text(f"SELECT setval(pg_get_serial_sequence('\"{name}\"', '{col}'), "
                           f"(SELECT coalesce(max({col}), 1) FROM \"{name}\"))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("SET maintenance_work_mem = '1GB'"))
        for ix in indexes:
            c.execute(CreateIndex(ix))
        # VACUUM sets the visibility map (autovacuum does so in production) for index-only scans.
        c.execute(text("VACUUM ANALYZE"))
    print(f"  indexes and VACUUM ANALYZE: {time.perf_counter() - t0:.1f} s", flush=True)
    engine.dispose()
    return counts


def timed(url: str, kind: str, start: str, as_of: datetime, repeat: int) -> tuple[list[float], dict[str, Any]]:
    """Seconds of each of ``repeat`` runs of ``build_report`` for the period, each in a fresh session."""
    from sqlalchemy.orm import Session

    from caseflow.analysis.periods import parse_period
    from caseflow.analysis.reports import build_report
    from caseflow.extensions import make_engine

    engine = make_engine(url)
    times, data = [], {}
    for _ in range(repeat):
        with Session(engine) as session:
            t0 = time.perf_counter()
            data = build_report(session, parse_period(kind, start, "Asia/Shanghai"), as_of=as_of)
            times.append(time.perf_counter() - t0)
    engine.dispose()
    return times, data


def forget_facts(url: str) -> None:
    """Empty ``case_fact``, so every run of the bench starts with none folded."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("TRUNCATE case_fact"))
    engine.dispose()


def move_cases(url: str, year: int, month: int, every: int, at: datetime) -> int:
    """Give every ``every``-th case of the month a new ledger entry (a callback, grade 4, at ``at``),
    keeping each case's ledger head in step, as a day of work would; returns how many moved."""
    from sqlalchemy import create_engine, text

    first = datetime(year, month, 1, tzinfo=timezone.utc).timestamp() - SH_OFFSET
    nxt = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=timezone.utc).timestamp() - SH_OFFSET
    where = "reported_at >= :s AND reported_at < :e AND id % :every = 0"
    params = {"s": datetime.fromtimestamp(first, timezone.utc), "e": datetime.fromtimestamp(nxt, timezone.utc),
              "every": every, "at": at, "hash": HASH}
    engine = create_engine(url)
    with engine.begin() as c:
        moved = c.execute(text(
            'INSERT INTO ledger_entry (item_type, item_id, seq, at, actor_role, client, trigger, workflow, '
            'workflow_version, payload, comment, prev_hash, hash) '
            "SELECT 'case', id, ledger_seq + 1, :at, 'dispatcher', '', 'callback', workflow, 1, "
            "'{\"grade\": 4}', '', :hash, :hash FROM \"case\" WHERE " + where), params).rowcount
        c.execute(text('UPDATE "case" SET ledger_seq = ledger_seq + 1 WHERE ' + where), params)
    engine.dispose()
    return moved


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases in the generated year")
    parser.add_argument("--year", type=int, default=YEAR)
    parser.add_argument("--month", type=int, default=6, help="the month whose report is timed")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each report (the median is printed)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--keep-db", action="store_true", help="keep the bench database")
    parser.add_argument("--db", default=None, help="reuse an existing loaded bench database (with --keep-db)")
    args = parser.parse_args()
    server = os.environ.get("CASEFLOW_DATABASE_URL", "")
    if not server.startswith("postgresql"):
        print("bench/reports.py needs CASEFLOW_DATABASE_URL naming a PostgreSQL server", file=sys.stderr)
        return 2
    name = args.db or f"caseflow_bench_reports_{secrets.token_hex(4)}"
    try:
        if args.db:
            from sqlalchemy.engine import make_url

            url = make_url(server).set(database=name).render_as_string(hide_password=False)
        else:
            url = create_database(server, name)
            t0 = time.perf_counter()
            counts = load(url, args.cases, args.year, args.seed)
            print(f"loaded in {time.perf_counter() - t0:.1f} s: "
                  + ", ".join(f"{k}={v:,}" for k, v in counts.items()), flush=True)
        as_of = datetime(args.year + 1, 1, 31, tzinfo=timezone.utc)
        month = f"{args.year}-{args.month:02d}"
        forget_facts(url)
        # The first run of a period folds its cases' facts (caseflow/analysis/case_facts.py);
        # the runs after it find them folded, as every report does once its period was reported.
        runs, mdata = timed(url, "month", month, as_of, 1 + args.repeat)
        monthly = statistics.median(runs[1:])
        print(f"  month: first run (folds its {mdata['cases']['total']['reported']:,} cases) {runs[0]:.3f} s; "
              "then " + ", ".join(f"{t:.3f}" for t in runs[1:]) + " s", flush=True)
        moved = move_cases(url, args.year, args.month, 100, as_of - timedelta(days=7))
        again, _ = timed(url, "month", month, as_of, 2)
        print(f"  month after {moved:,} of its cases got a new ledger entry: "
              + ", ".join(f"{t:.3f}" for t in again) + " s", flush=True)
        runs, ydata = timed(url, "year", str(args.year), as_of, 1 + max(1, args.repeat - 1))
        yearly = statistics.median(runs[1:])
        print(f"  year: first run (folds the rest of the year) {runs[0]:.3f} s; then "
              + ", ".join(f"{t:.3f}" for t in runs[1:]) + " s", flush=True)
        for label, data in (("month", mdata), ("year", ydata)):
            t = data["cases"]["total"]
            print(f"  {label}: reported={t['reported']:,} closed={t['closed']:,} closure_rate={t['closure_rate']} "
                  f"on_time={t['on_time_closure_rate']} rework={t['rework_rate']} "
                  f"median_total_h={(t['stages']['total']['median_s'] or 0) / 3600:.1f} "
                  f"arrival_on_time={data['instructions']['total']['arrival_on_time_rate']} "
                  f"recurring={len(data['recurring']['by_grid'])}+{len(data['recurring']['by_hour'])}")
    finally:
        if not args.keep_db and not args.db:
            drop_database(server, name)
        elif not args.db:
            print(f"kept database {name}")
    print(f"reports: cases={args.cases} monthly_s={monthly:.3f} yearly_s={yearly:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
