"""``caseflow up`` end to end: a real supervisor, web server, worker and embedded Redis."""
from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import _migrate
from tests.support.servers import free_port

pytestmark = pytest.mark.slow


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True
    return "\nState:\tZ" not in status


def _wait_for(predicate, timeout: float, what: str, log: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}; output:\n{log.read_text(errors='replace')[-4000:]}")


def _get(opener, url: str):  # type: ignore[no-untyped-def]
    with opener.open(url, timeout=10) as resp:
        return resp.status, resp.geturl(), resp.read().decode("utf-8")


def test_up_serves_the_console_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEFLOW_")}
    env["CASEFLOW_INSTANCE_PATH"] = str(tmp_path / "instance")
    log = tmp_path / "up.log"
    # Like conftest: migrate, then create tables a capability added since the last migration
    # file (tests/integration/test_migrations.py fails while any such table exists).
    (tmp_path / "instance").mkdir()
    _migrate(f"sqlite:///{tmp_path / 'instance' / 'caseflow.sqlite3'}")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from caseflow.cli import main; main(prog_name='caseflow')", "up", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
        )
    try:
        _wait_for(lambda: "caseflow is up" in log.read_text(errors="replace") or proc.poll() is not None,
                  180, "caseflow up", log)
        assert proc.poll() is None, log.read_text(errors="replace")
        text = log.read_text(errors="replace")
        assert "demo users (password 'caseflow-demo')" in text and "liaison" in text
        assert (tmp_path / "instance" / "caseflow.sqlite3").exists()

        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        assert _get(opener, base + "/")[0] == 200
        assert _get(opener, base + "/api/health")[0] == 200

        status, _url, page = _get(opener, base + "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        form = urllib.parse.urlencode({"csrf_token": token, "username": "liaison", "password": "caseflow-demo"})
        with opener.open(base + "/login", data=form.encode(), timeout=10) as resp:
            assert resp.status == 200 and resp.geturl() == base + "/liaison"
            assert "ZL" in resp.read().decode("utf-8")  # the demo's instructions are on the board

        text = log.read_text(errors="replace")
        pids = {name: int(pid) for name, pid in re.findall(r"^(web server|worker|reports worker) pid (\d+)$", text,
                                                            re.M)}
        redis_pid = int(re.search(r"embedded Redis: \S+ \(pid (\d+)\)", text).group(1))
        assert set(pids) == {"web server", "worker", "reports worker"}
        assert all(_alive(p) for p in [*pids.values(), redis_pid])
        # Each worker says what it serves once it runs: deadlines never wait behind a report,
        # reports run on a worker of their own.
        announced = {n: re.compile(rf"^worker \S+ on {queues} \(pid {pids[n]}\)$", re.M)
                     for n, queues in (("worker", "deadlines, default, notify"), ("reports worker", "reports"))}
        _wait_for(lambda: all(p.search(log.read_text(errors="replace")) for p in announced.values()),
                  60, "both workers to announce their queues", log)

        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0, log.read_text(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text(errors="replace")
    assert all(f"{name} (pid {pid}) stopped" in text for name, pid in pids.items()), text
    assert "embedded Redis stopped" in text
    assert "killing it" not in text  # each child stopped on SIGTERM, in time
    _wait_for(lambda: not any(_alive(p) for p in [*pids.values(), redis_pid]), 10, "children to exit", log)
    with pytest.raises(ConnectionRefusedError):  # nobody listens on the port any more
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with socket.socket() as s:  # and a new server could bind it (TIME_WAIT aside, as servers do)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen()
