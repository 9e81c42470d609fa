"""``caseflow worker`` (RQ worker + scheduler + sweeper) and ``caseflow sweep``.

Why these settings (read against rq 2.x ``worker/base.py``, ``scheduler.py``, ``defaults.py``):

* RQ's scheduler takes a per-queue lock ``rq:scheduler-lock:<queue>`` whose TTL is
  hard-coded as ``interval + 60`` (61 s), and a worker without the lock only retries it in
  ``run_maintenance_tasks``, i.e. every ``maintenance_interval`` (default 600 s), checked
  between blocking dequeues of ``worker_ttl - 15`` s (default 405 s). Together that is the
  ~13 minutes it takes a stock RQ to move the scheduler after its worker died.
  :class:`CaseflowScheduler` leases the lock for ``SCHEDULER_LOCK_TTL_S`` (10 s) and renews
  it every second; workers use ``maintenance_interval`` = ``WORKER_MAINTENANCE_S`` (5 s) and
  ``worker_ttl`` = ``WORKER_TTL_S`` (20 s, so an idle worker wakes every 5 s). A dead
  scheduler is replaced within about 10 + 5 s; meanwhile the sweeper fires overdue rows.
* The stock scheduler polls every whole second and RQ stores due times as whole seconds
  (we round up, so a job is never early): lag would be up to 2 s before the job even runs.
  Ours polls every ``SCHEDULER_POLL_S`` (0.2 s).
* The scheduler is a forked child. If the worker is killed it would live on as an orphan
  holding the lock, so it stops itself when its parent is gone.
* Default worker class: a non-forking worker (``SimpleWorker``). A firing is a few short SQL
  statements (~5 ms); forking a work-horse per job costs more than the job and caps a
  worker at well under 100 jobs/s. Jobs are ours and short (``job_timeout`` 120 s still
  applies via SIGALRM). ``--worker-class fork`` gives RQ's forking worker.
* Queues: by default deadlines, default and notify (:data:`DEFAULT_WORKER_QUEUES`), never
  ``reports``. A worker runs one job at a time, and a yearly report (about a minute over a
  million cases) would hold back every deadline firing behind it; reports get a worker of their
  own (``caseflow worker --queues reports --no-sweeper``; ``caseflow up`` starts one).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from rq.scheduler import RQScheduler
from rq.worker import SimpleWorker, Worker

log = logging.getLogger("caseflow.worker")

# Same contract as RQ's own lock script: 1 acquired, 2 refreshed, 0 held by another scheduler.
_LOCK_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if not value then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return 1
elseif value == ARGV[1] then
    redis.call('EXPIRE', KEYS[1], ARGV[2])
    return 2
end
return 0
"""


class CaseflowScheduler(RQScheduler):
    """RQ's scheduler with a short lock lease, sub-second polling and an orphan check."""

    lock_ttl_s: int = 10
    poll_s: float = 0.2
    heartbeat_s: float = 1.0

    def __init__(self, *args: Any, lock_ttl_s: int = 10, poll_s: float = 0.2, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lock_ttl_s = int(lock_ttl_s)
        self.poll_s = float(poll_s)
        self.heartbeat_s = min(1.0, self.lock_ttl_s / 3)
        self._parent_pid = os.getpid()  # the worker; the forked child compares against it

    @property
    def should_reacquire_locks(self) -> bool:
        """Retry queues we do not hold once per lease (RQ waits 120 s)."""
        if self._queue_names == self.acquired_locks:
            return False
        if not self.lock_acquisition_time:
            return True
        return (datetime.now() - self.lock_acquisition_time).total_seconds() > self.lock_ttl_s

    def _lock_outcomes(self, names: list[str]) -> list[int]:
        script = self.connection.register_script(_LOCK_SCRIPT)
        with self.connection.pipeline() as pipe:
            for name in names:
                script(keys=[self.get_locking_key(name)], args=[self.name, self.lock_ttl_s], client=pipe)
            return [int(r) for r in pipe.execute()]

    def acquire_locks(self, auto_start: bool = False) -> set[str]:
        """Acquire or refresh the per-queue locks with our lease; start if asked and won."""
        names = sorted(self._queue_names)
        won = {n for n, outcome in zip(names, self._lock_outcomes(names)) if outcome in (1, 2)}
        for name in won - self._acquired_locks:
            self.log.info("Acquired scheduler lock for %s", name)
        self._scheduled_job_registries = []
        self._acquired_locks = won
        self.lock_acquisition_time = datetime.now()
        if won and auto_start and (not self._process or not self._process.is_alive()):
            self.start()
        return won

    def heartbeat(self) -> None:
        """Renew our leases; a lock another scheduler took is dropped."""
        names = sorted(self._acquired_locks)
        outcomes = self._lock_outcomes(names) if names else []
        lost = {n for n, outcome in zip(names, outcomes) if outcome == 0}
        if lost:
            self.log.warning("Scheduler locks for %s were taken over", ", ".join(sorted(lost)))
            self._acquired_locks -= lost
            self._scheduled_job_registries = []
        if hasattr(self, "save"):  # rq >= 2.x keeps a metadata hash; keep it fresh
            self.last_heartbeat = datetime.now().astimezone()
            try:
                self.connection.expire(self.key, int(self.interval) + 60)
            except Exception:  # metadata only
                pass

    def work(self) -> None:
        """RQ's loop with a shorter sleep, and an exit when the parent worker is gone."""
        self._install_signal_handlers()
        if hasattr(self, "register_birth"):
            self.register_birth()
        last_beat = 0.0
        while True:
            if self._stop_requested or os.getppid() != self._parent_pid:
                self.stop()
                break
            if self.should_reacquire_locks:
                self.acquire_locks()
            if time.monotonic() - last_beat >= self.heartbeat_s:
                self.heartbeat()
                last_beat = time.monotonic()
            self.enqueue_scheduled_jobs()
            time.sleep(self.poll_s)


class _CaseflowWorkerMixin:
    """Start :class:`CaseflowScheduler` instead of RQ's own."""

    scheduler_lock_ttl_s: int = 10
    scheduler_poll_s: float = 0.2

    def _start_scheduler(self, burst: bool = False, logging_level: Any = "INFO",
                         date_format: Any = None, log_format: Any = None) -> None:
        from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT

        self.scheduler = CaseflowScheduler(  # type: ignore[attr-defined]
            self.queues,  # type: ignore[attr-defined]
            connection=self.connection,  # type: ignore[attr-defined]
            logging_level=logging_level if logging_level is not None else self.log.level,  # type: ignore[attr-defined]
            date_format=date_format or DEFAULT_LOGGING_DATE_FORMAT,
            log_format=log_format or DEFAULT_LOGGING_FORMAT,
            serializer=self.serializer,  # type: ignore[attr-defined]
            lock_ttl_s=self.scheduler_lock_ttl_s, poll_s=self.scheduler_poll_s,
        )
        sched = self.scheduler  # type: ignore[attr-defined]
        sched.acquire_locks()
        if sched.acquired_locks:
            if burst:
                try:
                    sched.enqueue_scheduled_jobs()
                finally:
                    sched.release_locks()
            else:
                sched.start()


class CaseflowSimpleWorker(_CaseflowWorkerMixin, SimpleWorker):
    """Runs jobs in the worker process (no fork per job); see the module docstring."""


class CaseflowForkWorker(_CaseflowWorkerMixin, Worker):
    """RQ's forking worker with our scheduler."""


WORKER_CLASSES = {"simple": CaseflowSimpleWorker, "fork": CaseflowForkWorker}


class SweeperThread(threading.Thread):
    """Runs the locked sweep every ``interval`` seconds inside a worker process."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__(name="caseflow-sweeper", daemon=True)
        self.app = app
        self.interval = interval
        self._stopping = threading.Event()

    def run(self) -> None:
        from caseflow.deadlines.sweeper import locked_sweep
        from caseflow.extensions import db
        from caseflow.workflow.engine import get_catalog

        with self.app.app_context():
            catalog = get_catalog(self.app)
            while not self._stopping.is_set():
                try:
                    report = locked_sweep(db.session(), catalog)
                    if report.fired or report.rearmed or report.failed:
                        log.warning("%s", report)
                    else:
                        log.debug("%s", report)
                except Exception:  # the loop must survive a DB or Redis outage
                    log.exception("sweep failed; retrying in %.0f s", self.interval)
                finally:
                    db.session.remove()
                self._stopping.wait(self.interval)

    def stop(self, timeout: float = 15) -> None:
        """Ask the loop to end and wait for the sweep in progress."""
        self._stopping.set()
        self.join(timeout)


# What ``caseflow worker`` serves without --queues: everything but the long report jobs.
DEFAULT_WORKER_QUEUES = "deadlines,default,notify"


def resolve_queues(app: Flask, spec: str | None) -> list[str]:
    """Queue names: the logical names deadlines/default/notify/reports map to the configured ones.

    No ``spec``: :data:`DEFAULT_WORKER_QUEUES` (``reports`` is served only when asked for).
    """
    logical = {"deadlines": app.config["DEADLINE_QUEUE"], "default": app.config["DEFAULT_QUEUE"],
               "notify": app.config["NOTIFY_QUEUE"], "reports": app.config.get("REPORTS_QUEUE") or "reports"}
    names = [n.strip() for n in (spec or DEFAULT_WORKER_QUEUES).split(",") if n.strip()]
    return [logical.get(n, n) for n in names]


def build_worker(app: Flask, queues: list[str], *, name: str | None = None,
                 worker_class: str = "simple") -> Worker:
    """An RQ worker on the app's Redis with caseflow's failover settings."""
    from caseflow.extensions import get_queue, get_redis

    cls = WORKER_CLASSES[worker_class]
    cls.scheduler_lock_ttl_s = int(app.config.get("SCHEDULER_LOCK_TTL_S", 10))
    cls.scheduler_poll_s = float(app.config.get("SCHEDULER_POLL_S", 0.2))
    return cls(
        [get_queue(q, app) for q in queues], name=name, connection=get_redis(app),
        worker_ttl=int(app.config.get("WORKER_TTL_S", 20)),
        maintenance_interval=int(app.config.get("WORKER_MAINTENANCE_S", 5)),
    )


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # pytransitions logs two INFO lines per state change: noise at hundreds of firings a second.
    logging.getLogger("transitions").setLevel(logging.WARNING)


@click.command("worker")
@click.option("--queues", default=None,
              help=f"Comma-separated queues [{DEFAULT_WORKER_QUEUES}]; 'reports' for a report worker.")
@click.option("--burst", is_flag=True, help="Run queued and due jobs, then exit.")
@click.option("--name", default=None, help="Worker name (default: RQ's random name).")
@click.option("--worker-class", type=click.Choice(sorted(WORKER_CLASSES)), default="simple",
              show_default=True, help="simple: no fork per job; fork: RQ's forking worker.")
@click.option("--no-sweeper", is_flag=True, help="Do not run the sweeper loop in this worker.")
@with_appcontext
def worker_command(queues: str | None, burst: bool, name: str | None, worker_class: str,
                   no_sweeper: bool) -> None:
    """Run an RQ worker with the scheduler and the deadline sweeper (Ctrl-C stops it)."""
    from caseflow.jobs.context import set_process_app

    _logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    set_process_app(app)
    names = resolve_queues(app, queues)
    worker = build_worker(app, names, name=name, worker_class=worker_class)
    sweeper = None
    if burst:
        if not no_sweeper:
            _sweep_once(app)
    elif not no_sweeper:
        sweeper = SweeperThread(app, float(app.config["SWEEP_INTERVAL_S"]))
    click.echo(f"worker {worker.name} on {', '.join(names)} (pid {os.getpid()})")
    try:
        # The scheduler forks first so it never inherits the sweeper thread's state.
        if sweeper is not None:
            threading.Timer(0.5, sweeper.start).start()
        worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        if sweeper is not None and sweeper.is_alive():
            sweeper.stop()


def _sweep_once(app: Flask) -> str:
    from caseflow.deadlines.sweeper import locked_sweep
    from caseflow.extensions import db
    from caseflow.workflow.engine import get_catalog

    try:
        return str(locked_sweep(db.session(), get_catalog(app)))
    finally:
        db.session.remove()


@click.command("sweep")
@click.option("--once", is_flag=True, help="One sweep, then exit (for cron / systemd timers).")
@with_appcontext
def sweep_command(once: bool) -> None:
    """Fire overdue deadlines, re-arm lost alarms, sweep escalations and the outbox."""
    _logging()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        click.echo(_sweep_once(app))
        return
    interval = float(app.config["SWEEP_INTERVAL_S"])
    try:
        while True:
            click.echo(_sweep_once(app))
            time.sleep(interval)
    except KeyboardInterrupt:
        click.echo("sweeper stopped")
