"""When a deadline falls due: wall-clock or working time on the configured calendar."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import settings_cache
from caseflow.models import CalendarOverride, Department
from caseflow.workflow.definition import DeadlineSpec
from caseflow.worktime import DEFAULT_HOURS, DEFAULT_TZ, WorkCalendar


def _settings() -> tuple[str, str]:
    from flask import current_app, has_app_context

    if has_app_context():
        return current_app.config.get("WORKDAY_HOURS", DEFAULT_HOURS), current_app.config.get("TIMEZONE", DEFAULT_TZ)
    return DEFAULT_HOURS, DEFAULT_TZ


def calendar_for(session: Session, center_id: int | None = None, hours: str | None = None) -> WorkCalendar:
    """The working calendar: configured hours (or a unit's own), statutory days, overrides.

    Center-specific overrides win over global ones for the same date.
    """
    default_hours, tz = _settings()

    def load() -> WorkCalendar:
        rows = session.execute(
            select(CalendarOverride.day, CalendarOverride.is_workday, CalendarOverride.center_id).where(
                (CalendarOverride.center_id.is_(None)) | (CalendarOverride.center_id == center_id)
            )
        ).all()
        overrides: dict = {}
        for day, is_workday, cid in sorted(rows, key=lambda r: r[2] is not None):
            overrides[day] = is_workday
        return WorkCalendar(hours=hours or default_hours, tz=tz, overrides=overrides)

    # WorkCalendar is immutable, so one instance serves every transition of the process.
    return settings_cache.cached(session, ("calendar", center_id, hours or default_hours, tz), load)


def item_calendar(session: Session, item: object) -> WorkCalendar:
    """The calendar that applies to an item: its department's hours if set, its center's overrides."""
    hours = None
    dept_id = getattr(item, "department_id", None)
    if dept_id:
        hours = settings_cache.cached(session, ("department_hours", dept_id), lambda: session.execute(
            select(Department.working_hours).where(Department.id == dept_id)).scalar() or None)
    return calendar_for(session, getattr(item, "center_id", None), hours)


settings_cache.watch(CalendarOverride, Department)

# Per item type, a hook that may replace a deadline's duration and clock from data (e.g. the
# case time-limit table): ``(session, spec, item) -> (duration text, clock) | None``.
DURATION_HOOKS: dict[str, Callable[[Session, DeadlineSpec, object], tuple[str, str] | None]] = {}


def effective_spec(session: Session, spec: DeadlineSpec, item: object) -> DeadlineSpec:
    """``spec`` with the duration and clock a registered hook sets for ``item`` (else unchanged)."""
    hook = DURATION_HOOKS.get(getattr(item, "item_type", ""))
    override = hook(session, spec, item) if hook is not None else None
    if not override:
        return spec
    after, clock = override
    return replace(spec, after=after, clock=clock)


def compute_due(session: Session, spec: DeadlineSpec, item: object, start: datetime) -> datetime:
    """The due time of ``spec`` for ``item`` armed at ``start`` (UTC).

    ``spec`` is taken as given: callers apply ``effective_spec`` first (once).
    """
    if spec.clock == "working":
        cal = item_calendar(session, item)
        return cal.add_working(start, spec.duration_for(item, cal.day_length))
    return start + spec.duration_for(item, timedelta(days=1))
