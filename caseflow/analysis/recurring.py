"""Recurring problems (规律性、经常性问题): the same category at the same grid, or at the same
hour of day, again and again within a period.

A combination is recurring when it was reported at least ``min_count`` times on at least
``min_days`` different local days of the period (voided reports, e.g. duplicates of one
event, are left out). Thresholds grow with the period; the top ``limit`` by count are listed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from caseflow.models import Case, Category, Grid

from .periods import Period
from .sql import dialect_for, no_jit


@dataclass(frozen=True)
class Threshold:
    """How often, on how many distinct days, a combination must occur to count as recurring."""

    min_count: int
    min_days: int


THRESHOLDS: dict[str, Threshold] = {
    "day": Threshold(3, 1),
    "week": Threshold(3, 2),
    "month": Threshold(4, 3),
    "quarter": Threshold(6, 4),
    "year": Threshold(10, 6),
}
DEFAULT_LIMIT = 20


def recurring_problems(session: Session, period: Period, *, as_of: datetime | None = None,
                       threshold: Threshold | None = None, limit: int = DEFAULT_LIMIT) -> dict[str, list[dict[str, Any]]]:
    """``{"by_grid": [...], "by_hour": [...]}``: each item names the category, the grid or hour,
    the count, the number of distinct days, and the first and last report."""
    th = threshold or THRESHOLDS[period.kind]
    d = dialect_for(session, period.tz, period.utc_offset_s)
    day = d.local_text(Case.reported_at, "day")
    hour = d.local_hour(Case.reported_at)
    conds = [Case.reported_at >= period.start_at, Case.reported_at < period.end_at, Case.state != "voided",
             Case.category_id.is_not(None)]
    if as_of is not None:
        conds.append(Case.reported_at < as_of)
    # One scan of the period's cases (a CTE), grouped twice in one statement.
    base = select(Case.category_id, Case.grid_id, hour.label("hour"), day.label("day"), Case.reported_at).where(
        and_(*conds)).cte("recurring_base")

    def grouped(kind: str, place: Any) -> Any:
        n = func.count().label("n")
        return select(literal(kind).label("kind"), base.c.category_id, cast(place, Integer).label("place"), n,
                      func.count(func.distinct(base.c.day)).label("days"),
                      func.min(base.c.reported_at).label("first_at"), func.max(base.c.reported_at).label("last_at")
                      ).where(place.is_not(None)).group_by(base.c.category_id, place).having(
            and_(func.count() >= th.min_count, func.count(func.distinct(base.c.day)) >= th.min_days)
        ).order_by(n.desc(), base.c.category_id, place).limit(limit).subquery()

    parts = [grouped("grid", base.c.grid_id), grouped("hour", base.c.hour)]
    no_jit(session)
    rows = list(session.execute(union_all(*[select(*p.c) for p in parts])))
    by_grid = sorted([r[1:] for r in rows if r[0] == "grid"], key=lambda r: (-r[2], r[0], r[1]))
    by_hour = sorted([r[1:] for r in rows if r[0] == "hour"], key=lambda r: (-r[2], r[0], r[1]))
    cats = dict(session.execute(select(Category.id, Category.name)).all())
    grids = dict(session.execute(select(Grid.id, Grid.name)).all())
    session.rollback()

    def item(row: Any, kind: str) -> dict[str, Any]:
        cat, place, n, days, first, last = row
        out = {"category_id": cat, "category": cats.get(cat, str(cat)), "count": int(n), "days": int(days),
               "first_at": _iso(first), "last_at": _iso(last)}
        if kind == "grid":
            out.update(grid_id=place, grid=grids.get(place, str(place)))
        else:
            out.update(hour=int(place), hour_label=f"{int(place):02d}:00-{int(place):02d}:59")
        return out

    return {"by_grid": [item(r, "grid") for r in by_grid], "by_hour": [item(r, "hour") for r in by_hour],
            "threshold": {"min_count": th.min_count, "min_days": th.min_days}}


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        from datetime import timezone

        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    return str(value)
