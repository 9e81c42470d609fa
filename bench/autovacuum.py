"""Stand in for PostgreSQL's autovacuum during a bench when the server has it turned off.

The CI server this project is measured on runs with ``autovacuum = off`` (its
``conf.d/90-ci.conf``), while every production PostgreSQL runs with the default ``on``. Without
it a day's replay leaves hundreds of thousands of dead row versions in ``case`` and ``deadline``
(every transition updates its item, every left state cancels deadlines), and the server's
share of each transition keeps growing through the day. A bench should measure the product as
deployed, so when ``SHOW autovacuum`` says ``off`` this does what the default daemon would:
every ``naptime`` seconds (default 60, as ``autovacuum_naptime``) it vacuums each table with more
dead rows than ``50 + 0.2 x reltuples`` and analyzes each with more changes than
``50 + 0.1 x reltuples`` (the default thresholds and scale factors), throttled like the daemon
(``vacuum_cost_delay = 2ms``, ``vacuum_cost_limit = 200``). Its CPU counts in the bench, as the
daemon's would. When the server's autovacuum is on, or ``naptime`` is 0, it does nothing.
"""
from __future__ import annotations

import threading
from typing import Any

SELECT_TABLES = """
SELECT s.relname, s.n_dead_tup, s.n_mod_since_analyze, GREATEST(c.reltuples, 0)
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
"""


def _conninfo(sqlalchemy_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Autovacuum:
    """Context manager: a thread vacuuming the bench's database the way autovacuum's defaults would."""

    def __init__(self, sqlalchemy_url: str, naptime: float = 60.0) -> None:
        self.conninfo = _conninfo(sqlalchemy_url)
        self.naptime = naptime
        self.vacuums = 0
        self.analyzes = 0
        self.server_off = False
        self.active = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: str | None = None

    def __enter__(self) -> Autovacuum:
        import psycopg

        with psycopg.connect(self.conninfo) as conn:
            self.server_off = conn.execute("SHOW autovacuum").fetchone()[0] == "off"  # type: ignore[index]
        self.active = self.server_off and self.naptime > 0
        if self.active:
            self._thread = threading.Thread(target=self._run, name="bench-autovacuum", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=600)

    def describe(self) -> str:
        """One line for the bench output."""
        if not self.server_off:
            return "autovacuum: the server's own (on)"
        if not self.active:
            return "autovacuum: off on the server and not emulated (--autovacuum-naptime 0)"
        text = (f"autovacuum: off on the server, emulated by the bench every {self.naptime:.0f}s "
                f"({self.vacuums} vacuums, {self.analyzes} analyzes)")
        return text + (f"; stopped by {self.error}" if self.error else "")

    def _run(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.conninfo, autocommit=True) as conn:
                conn.execute("SET vacuum_cost_delay = '2ms'")
                conn.execute("SET vacuum_cost_limit = 200")
                while not self._stop.wait(self.naptime):
                    self._pass(conn)
        except Exception as exc:  # the bench goes on; the output says the emulation stopped
            self.error = f"{type(exc).__name__}: {exc}"

    def _pass(self, conn: Any) -> None:
        for name, dead, changed, tuples in conn.execute(SELECT_TABLES).fetchall():
            quoted = '"' + name.replace('"', '""') + '"'
            if dead > 50 + 0.2 * tuples:
                conn.execute(f"VACUUM (ANALYZE) {quoted}")
                self.vacuums += 1
                self.analyzes += 1
            elif changed > 50 + 0.1 * tuples:
                conn.execute(f"ANALYZE {quoted}")
                self.analyzes += 1
