"""The Alembic migrations create exactly what the models declare."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from caseflow.extensions import make_engine
from caseflow.migrate import upgrade
from caseflow.models import Base


def test_migrations_match_models(tmp_path, app) -> None:  # type: ignore[no-untyped-def]
    url = app.config["DATABASE_URL"]
    if url.startswith("postgresql"):
        admin = make_engine(url, isolation_level="AUTOCOMMIT", pool_size=1)
        name = "caseflow_migcheck_" + tmp_path.name[-8:].lower().replace("-", "_")
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            c.execute(text(f'CREATE DATABASE "{name}"'))
        target = admin.url.set(database=name).render_as_string(hide_password=False)
    else:
        admin, name = None, None
        target = f"sqlite:///{tmp_path / 'mig.sqlite3'}"
    engine = make_engine(target)
    try:
        upgrade(engine)
        assert "ledger_entry" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)
        assert diff == [], f"models and migrations differ; generate a migration: {diff}"
    finally:
        engine.dispose()
        if admin is not None:
            with admin.connect() as c:  # we created it, so we drop it
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
