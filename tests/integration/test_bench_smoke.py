"""The benchmarks still run end to end, on a tiny scale (their figures are not checked here).

A service change that a bench's scripted lifecycle does not follow (a new required field, a
new rule) would otherwise only show the next time someone measures. Each bench creates and
drops a database of its own on the test server, so these need PostgreSQL.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

pytestmark = pytest.mark.postgres_only

REPO = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, timeout: float = 300) -> str:
    """Run ``bench/<script>`` against the test server; return its standard output (asserting exit 0)."""
    server = make_url(os.environ["CASEFLOW_TEST_DATABASE_URL"]).render_as_string(hide_password=False)
    env = {**os.environ, "CASEFLOW_DATABASE_URL": server, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return proc.stdout


def test_replay_day_drives_every_tier_to_its_end() -> None:
    out = run_bench("replay_day.py", "--cases", "40", "--instructions", "4", "--processes", "1",
                    "--profile", "0")
    last = out.strip().splitlines()[-1]
    m = re.fullmatch(r"replay: cases=40 instructions=4 transitions=(\d+) seconds=[\d.]+ "
                     r"transitions_per_s=\d+ p99_ms=[\d.]+ errors=0", last)
    assert m, last
    assert int(m.group(1)) > 40 * 4  # every case went through several transitions
    assert "open_items=0" in out and "duplicate_ledger_seq=0" in out


def test_deadlines_bench_fires_everything_once() -> None:
    out = run_bench("deadlines.py", "--count", "60", "--window-s", "6", "--burst", "20", "--workers", "1",
                    "--grace-s", "60")
    last = out.strip().splitlines()[-1]
    assert last.startswith("deadlines: pending=60 burst=20 fired=80 lost=0 duplicate=0 early=0 "), last


def test_reports_bench_times_a_month_and_a_year() -> None:
    # 2,000 cases spread over a year still put well over a hundred in the timed month (June).
    out = run_bench("reports.py", "--cases", "2000", "--repeat", "1", timeout=120)
    last = out.strip().splitlines()[-1]
    assert re.fullmatch(r"reports: cases=2000 monthly_s=\d+\.\d{3} yearly_s=\d+\.\d{3}", last), last
    month = re.search(r"^  month: reported=([\d,]+) closed=([\d,]+) ", out, re.M)
    year = re.search(r"^  year: reported=([\d,]+) ", out, re.M)
    assert month and year, out[-2000:]
    reported = int(month.group(1).replace(",", ""))
    assert 0 < reported < 2000 and int(month.group(2).replace(",", "")) > 0
    assert int(year.group(1).replace(",", "")) == 2000  # the year's report counts every generated case
