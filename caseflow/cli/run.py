"""``caseflow up``: the newcomer command. Migrate, load the demo street into an empty database,
start Redis (embedded unless configured), the web server and two RQ workers; Ctrl-C stops all.

Two workers, because a worker runs one job at a time: the first serves deadlines, default and
notify (with the sweeper), the second only the reports queue, so a yearly report (about a minute
over a million cases) never holds back a deadline firing.

The children run in their own session (process group), so a Ctrl-C in the terminal reaches
only this supervisor, which then stops each child once and in order: a second signal to the
RQ worker would turn its warm shutdown into a cold one. On Linux each child also gets
SIGTERM if the supervisor itself dies, so nothing is left running.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

STOP_TIMEOUT_S = 15.0
READY_TIMEOUT_S = 60.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Ask Linux to send SIGTERM to this child when the supervisor dies (prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)
    except Exception:  # not Linux: the children just outlive a killed supervisor
        pass


class Child:
    """One supervised process."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            argv, env=env, start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.proc.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.proc.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; return the exit code."""
        if self.alive():
            try:
                self.proc.terminate()
            except ProcessLookupError:
                pass
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                click.echo(f"{self.name} did not stop in {timeout:.0f} s; killing it", err=True)
                self.proc.kill()
        return self.proc.wait()


def _secret_key(instance_path: str) -> str:
    """A per-instance secret key kept in the instance folder, unless one is configured.

    The default key in config.py is public; sessions signed with it could be forged.
    """
    configured = os.environ.get("CASEFLOW_SECRET_KEY")
    if configured:
        return configured
    path = Path(instance_path) / "secret_key"
    if not path.exists():
        path.write_text("cf-" + secrets.token_urlsafe(32), "utf-8")  # "cf-": never parsed as JSON
        path.chmod(0o600)
    return path.read_text("utf-8").strip()


def _web_argv(host: str, port: int, workers: int) -> list[str]:
    """gunicorn when installed (POSIX), else werkzeug's threaded server in a child process.

    ``caseflow:create_app()`` rather than ``wsgi:app``: the factory is importable from an
    installed package, wsgi.py only from the repository root.
    """
    if os.name == "posix" and importlib.util.find_spec("gunicorn") is not None:
        argv = [sys.executable, "-m", "gunicorn", "--bind", f"{host}:{port}", "--workers", str(workers),
                "--graceful-timeout", "10", "--timeout", "60"]
        if _gunicorn_has("control_socket_disable"):
            # gunicorn 25+ opens a control socket in ~/.gunicorn by default; two instances
            # (or a test beside a running console) would fight over it.
            argv.append("--no-control-socket")
        return argv + ["caseflow:create_app()"]
    code = ("import sys; from werkzeug.serving import run_simple; from caseflow import create_app; "
            "run_simple(sys.argv[1], int(sys.argv[2]), create_app(), threaded=True)")
    return [sys.executable, "-c", code, host, str(port)]


def _gunicorn_has(setting: str) -> bool:
    from gunicorn import config

    return any(s.name == setting for s in config.KNOWN_SETTINGS)


def _wait_ready(url: str, web: Child, stopping: threading.Event) -> bool:
    """Poll ``url`` until it answers 200; False when the server died or we were told to stop."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and not stopping.is_set():
        if not web.alive():
            return False
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our own URL)
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        stopping.wait(0.25)
    return False


# (child name, extra ``caseflow worker`` arguments): the deadline worker with the sweeper, then
# the report worker (reports queue only; one sweeper is enough).
WORKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("worker", ()),
    ("reports worker", ("--queues", "reports", "--no-sweeper")),
)


def _start_workers(children: list[Child], env: dict[str, str]) -> None:
    """``caseflow worker`` (scheduler and deadline sweeper) and ``caseflow worker --queues reports``."""
    for name, extra in WORKERS:
        argv = [sys.executable, "-c", "from caseflow.cli import main; main(prog_name='caseflow')", "worker", *extra]
        worker = Child(name, argv, env)
        children.append(worker)
        click.echo(f"{name} pid {worker.pid}")


def _demo_users() -> list[str]:
    from sqlalchemy import select

    from caseflow.extensions import db
    from caseflow.models import Person

    return list(db.session().execute(
        select(Person.username).where(Person.email.like("%@demo.caseflow.local")).order_by(Person.id)
    ).scalars())


@click.command("up")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address the web server binds.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the console and API.")
@click.option("--web-workers", default=2, show_default=True, type=int, help="gunicorn worker processes.")
@click.option("--no-worker", is_flag=True, help="Do not start the RQ workers (deadlines and reports will wait).")
@click.option("--no-demo", is_flag=True, help="Do not load the demo street into an empty database.")
@with_appcontext
def up_command(host: str, port: int, web_workers: int, no_worker: bool, no_demo: bool) -> None:
    """Run everything a newcomer needs: database, Redis, web console and API, workers."""
    from caseflow.embedded_redis import ensure_embedded_redis, shutdown_embedded_redis
    from caseflow.extensions import db

    from .database import initialise_database

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    children: list[Child] = []
    stopping = threading.Event()
    exit_code = 0
    embedded = False
    previous: dict[int, Any] = {}

    def _on_signal(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            click.echo(f"\n{signal.Signals(signum).name} received: stopping...", err=True)
        stopping.set()

    try:
        redis_url = app.config.get("REDIS_URL") or ""
        if not redis_url:
            redis_url = ensure_embedded_redis(app.instance_path)
            app.config["REDIS_URL"] = redis_url
            embedded = True
            from caseflow.extensions import get_redis

            click.echo(f"embedded Redis: {redis_url} (pid {get_redis(app).info('server')['process_id']})")
        initialise_database()
        click.echo(f"database: {db.engine.url.render_as_string(hide_password=True)}")  # type: ignore[union-attr]
        from sqlalchemy import select

        from caseflow.models import Person

        has_people = db.session().execute(select(Person.id).limit(1)).first() is not None
        if not has_people and not no_demo:
            from caseflow.demo import load_demo

            click.echo("loading the demo street (first start)...")
            click.echo(load_demo(db.session(), app.extensions["caseflow.workflows"]))
        users = _demo_users()
        # End our transaction and close our connections: on SQLite an open transaction holds
        # the write lock (BEGIN IMMEDIATE) and the children would wait for it.
        db.session.remove()
        db.engine.dispose()  # type: ignore[union-attr]

        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, _on_signal)

        env = dict(os.environ)
        env.update({
            "CASEFLOW_REDIS_URL": redis_url,
            "CASEFLOW_DATABASE_URL": app.config["DATABASE_URL"],
            "CASEFLOW_INSTANCE_PATH": app.instance_path,
            "CASEFLOW_SECRET_KEY": _secret_key(app.instance_path),
        })
        web = Child("web server", _web_argv(host, port, web_workers), env)
        children.append(web)
        click.echo(f"web server pid {web.pid}")
        probe_host = "127.0.0.1" if host in ("0.0.0.0", "") else ("[::1]" if host == "::" else host)
        if _wait_ready(f"http://{probe_host}:{port}/api/health", web, stopping):
            if not no_worker:
                _start_workers(children, env)
            click.echo("")
            click.echo(f"caseflow is up: http://{probe_host}:{port}/   (API docs: /api/docs; Ctrl-C stops everything)")
            if users:
                click.echo(f"demo users (password 'caseflow-demo'): {', '.join(users)}")
        elif not stopping.is_set():
            click.echo("the web server did not come up; see its output above", err=True)
            exit_code = 1
            stopping.set()
        while not stopping.is_set():
            for child in children:
                if not child.alive():
                    click.echo(f"{child.name} exited with code {child.proc.returncode}; stopping", err=True)
                    exit_code = 1
                    stopping.set()
            stopping.wait(0.5)
    finally:
        # The workers first, the report worker before the deadline worker (which may be firing a
        # deadline), then the web server.
        for child in reversed(children):
            code = child.stop()
            click.echo(f"{child.name} (pid {child.pid}) stopped, exit code {code}")
        if embedded:
            shutdown_embedded_redis()
            click.echo("embedded Redis stopped")
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if exit_code:
        sys.exit(exit_code)
