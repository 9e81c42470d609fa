"""Idle pooled connections are pinged and replaced when dead; busy ones skip the round trip."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from caseflow import extensions
from caseflow.extensions import make_engine


@pytest.mark.postgres_only
def test_dead_idle_connection_is_replaced_before_use(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(app.config["DATABASE_URL"], pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        other = make_engine(app.config["DATABASE_URL"], pool_size=1)
        with other.connect() as killer:
            killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        other.dispose()
        monkeypatch.setattr(extensions, "PING_IDLE_S", 0.0)  # it has been idle "long enough"
        with engine.connect() as conn:  # would raise without the ping
            assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    finally:
        engine.dispose()


@pytest.mark.postgres_only
def test_connection_returned_a_moment_ago_is_not_pinged(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(app.config["DATABASE_URL"], pool_size=1, max_overflow=0)
    pings: list[str] = []
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        monkeypatch.setattr(extensions, "PING_IDLE_S", 3600.0)
        raw = engine.raw_connection()
        cursor_type = type(raw.dbapi_connection.cursor())
        raw.close()
        original = cursor_type.execute

        def spy(self, query, *args, **kwargs):  # type: ignore[no-untyped-def]
            pings.append(str(query))
            return original(self, query, *args, **kwargs)

        monkeypatch.setattr(cursor_type, "execute", spy)
        with engine.connect() as conn:
            conn.execute(text("SELECT 2"))
        assert "SELECT 1" not in pings and any("SELECT 2" in q for q in pings)
        monkeypatch.setattr(extensions, "PING_IDLE_S", 0.0)
        pings.clear()
        with engine.connect() as conn:
            conn.execute(text("SELECT 2"))
        assert pings[0] == "SELECT 1"
    finally:
        engine.dispose()
