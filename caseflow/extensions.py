"""Shared services, created unbound and bound to an app in ``init_app`` (no I/O at import)."""
from __future__ import annotations

import os
import threading
import time
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as exc_module
from sqlalchemy.orm import Session, scoped_session, sessionmaker


class _AppSession(Session):
    """A session that binds to the current app's engine, so several apps can live in one process."""

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        # Called for every statement and flush: read the app context's context variable
        # directly (what ``has_app_context`` and the ``current_app`` proxy do, in two steps each).
        if self.bind is None:
            app = _current_app()
            if app is not None:
                return app.extensions["caseflow.engine"]
        return super().get_bind(*args, **kwargs)


try:  # Flask's own context variable (flask.globals, 2.3+): one lookup per statement
    from flask.globals import _cv_app

    def _current_app() -> Any:
        ctx = _cv_app.get(None)
        return ctx.app if ctx is not None else None
except ImportError:  # pragma: no cover - a Flask that moved it: the public, slower way

    def _current_app() -> Any:
        return current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]


class Database:
    """The SQLAlchemy engine of each app and a request/job-scoped session.

    The engine lives in ``app.extensions``: creating a second app (a test, a bench) never
    swaps the database under the first one.
    """

    def __init__(self) -> None:
        self.session: scoped_session[Session] = scoped_session(
            sessionmaker(class_=_AppSession, expire_on_commit=False), scopefunc=_scope
        )

    def init_app(self, app: Flask) -> None:
        url = app.config["DATABASE_URL"] or default_sqlite_url(app.instance_path)
        app.config["DATABASE_URL"] = url
        app.extensions["caseflow.engine"] = make_engine(url)
        app.extensions["caseflow.db"] = self

        @app.teardown_appcontext
        def _remove_session(_exc: BaseException | None) -> None:
            self.session.remove()

    @property
    def engine(self) -> Engine:
        """The current app's engine."""
        return current_app.extensions["caseflow.engine"]  # type: ignore[no-any-return]

    def dispose_after_fork(self) -> None:
        """A forked process must not reuse its parent's connections."""
        if has_app_context():
            self.engine.dispose(close=False)


def _scope() -> tuple[int, int]:
    # One session per thread and app: two apps in one thread never share a session.
    app_id = id(current_app._get_current_object()) if has_app_context() else 0  # type: ignore[attr-defined]
    return (threading.get_ident(), app_id)


def default_sqlite_url(instance_path: str) -> str:
    """The newcomer default: a SQLite file in the instance folder."""
    os.makedirs(instance_path, exist_ok=True)
    return "sqlite:///" + os.path.join(instance_path, "caseflow.sqlite3")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings caseflow relies on for each backend."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Foreign keys off by default in SQLite; WAL lets readers run beside the writer.
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        # pysqlite would only BEGIN at the first write, so a transition's SELECT would read
        # outside its transaction. Begin at the first statement instead (deferred: in WAL mode
        # readers never block the writer). A writer whose snapshot went stale gets
        # SQLITE_BUSY, which the transition service reports as a conflict; the version
        # column guards the UPDATE as well.
        @event.listens_for(engine, "connect")
        def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    if not kwargs.get("pool_pre_ping"):
        _ping_idle_connections(engine)
    return engine


# A connection back in the pool for less than this was working a moment ago: no ping.
PING_IDLE_S = 1.0


def _ping_idle_connections(engine: Engine) -> None:
    """Pre-ping only connections that sat idle in the pool, not every checkout.

    ``pool_pre_ping`` costs a round trip per transaction (a tenth of a transition's time);
    a connection returned a moment ago is known to work. One idle for longer (a restart of
    PostgreSQL takes seconds) is pinged, and a dead one is replaced before anyone uses it.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["caseflow.checkin"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("caseflow.checkin")
        if since is not None and time.monotonic() - since < PING_IDLE_S:
            return
        try:
            cur = dbapi_conn.cursor()
            try:
                cur.execute("SELECT 1")
            finally:
                cur.close()
            dbapi_conn.rollback()  # leave no transaction open behind the ping
        except Exception as exc:
            # The pool discards this connection and checks out another (a fresh one).
            raise exc_module.DisconnectionError(str(exc)) from exc


db = Database()


def get_redis(app: Flask | None = None):  # type: ignore[no-untyped-def]
    """The app's Redis connection (an embedded server when no URL is configured)."""
    import redis

    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    conn = app.extensions.get("caseflow.redis")
    if conn is None and app.config.get("REDIS_SENTINELS"):
        # Redis with Sentinel (deploy/compose): "host:port,host:port" and the master's name.
        from redis.sentinel import Sentinel

        nodes = [(h, int(p)) for h, p in (n.strip().rsplit(":", 1) for n in app.config["REDIS_SENTINELS"].split(","))]
        conn = Sentinel(nodes, socket_timeout=2).master_for(app.config.get("REDIS_SENTINEL_MASTER") or "caseflow",
                                                             socket_timeout=5, db=int(app.config.get("REDIS_DB") or 0))
        app.extensions["caseflow.redis"] = conn
    if conn is None:
        url = app.config["REDIS_URL"]
        if not url:
            from caseflow.embedded_redis import ensure_embedded_redis

            url = ensure_embedded_redis(app.instance_path)
            app.config["REDIS_URL"] = url
        conn = redis.Redis.from_url(url)
        app.extensions["caseflow.redis"] = conn
    return conn


def get_queue(name: str, app: Flask | None = None):  # type: ignore[no-untyped-def]
    """An RQ queue on the app's Redis."""
    from rq import Queue

    return Queue(name, connection=get_redis(app))
