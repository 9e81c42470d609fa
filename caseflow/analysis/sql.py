"""SQL expressions that differ between PostgreSQL and SQLite: local time parts, durations.

PostgreSQL converts with the zone's name (``timezone(zone, t)``, DST-correct). SQLite has no
zones: times are shifted by the zone's fixed offset at the period start (exact for
Asia/Shanghai, which has no DST).
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Float, Integer, cast, func, literal_column, text
from sqlalchemy.sql.elements import ColumnElement

_ZONE_RE = re.compile(r"^[A-Za-z0-9_+\-/]+$")

# strftime formats of the local-time texts (PostgreSQL to_char equivalents beside them).
FORMATS = {
    "day": ("%Y-%m-%d", "YYYY-MM-DD"),
    "month": ("%Y-%m", "YYYY-MM"),
    "hour": ("%Y-%m-%d %H", "YYYY-MM-DD HH24"),
}


class Dialect:
    """Builds backend-specific expressions for one backend and one zone."""

    def __init__(self, name: str, tz: str, offset_s: int) -> None:
        if not _ZONE_RE.match(tz):
            raise ValueError(f"unusable time zone name {tz!r}")
        self.name = name
        self.tz = tz
        self.offset_s = int(offset_s)

    @property
    def postgres(self) -> bool:
        """True on PostgreSQL."""
        return self.name == "postgresql"

    def _local(self, col: Any) -> ColumnElement[Any]:
        # Rendered inline (a checked zone name), so GROUP BY and SELECT compare equal.
        return func.timezone(literal_column(f"'{self.tz}'"), col)

    def _shift(self) -> ColumnElement[Any]:
        return literal_column(f"'{self.offset_s:+d} seconds'")

    def local_hour(self, col: Any) -> ColumnElement[int]:
        """The local hour of day 0-23 of a UTC timestamp column."""
        if self.postgres:
            return cast(func.extract("hour", self._local(col)), Integer)
        return cast(func.strftime("%H", col, self._shift()), Integer)

    def local_text(self, col: Any, unit: str) -> ColumnElement[str]:
        """The local day (``2025-03-01``), month (``2025-03``), hour (``2025-03-01 08``) or
        week (its Monday, ``2025-03-03``) of a UTC timestamp column, as text."""
        if unit == "week":
            if self.postgres:
                return func.to_char(func.date_trunc("week", self._local(col)), "YYYY-MM-DD")
            return func.date(col, self._shift(), "-6 days", "weekday 1")
        lite, pg = FORMATS[unit]
        if self.postgres:
            return func.to_char(self._local(col), pg)
        return func.strftime(lite, col, self._shift())

    def seconds(self, later: Any, earlier: Any) -> ColumnElement[float]:
        """``later - earlier`` in seconds (NULL when either is NULL)."""
        if self.postgres:
            return cast(func.extract("epoch", later - earlier), Float)
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0


def dialect_for(session: Any, tz: str, offset_s: int) -> Dialect:
    """The :class:`Dialect` of the session's database."""
    return Dialect(session.get_bind().dialect.name, tz, offset_s)


def no_jit(session: Any) -> None:
    """Settings for the report queries on PostgreSQL, for the current transaction only.

    JIT off: these wide aggregates pass ``jit_above_cost`` and compiling them took ~2 s per
    query to save milliseconds. ``work_mem`` 64 MB: a month's per-case aggregation (80,000
    cases) spilled to disk with the 4 MB default (both measured with bench/reports.py).
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
        session.execute(text("SET LOCAL work_mem = '64MB'"))
