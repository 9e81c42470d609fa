"""The per-process settings cache: reused within its TTL, cleared by a local change."""
from __future__ import annotations

from datetime import date

from caseflow import settings_cache
from caseflow.deadlines.clock import calendar_for, item_calendar
from caseflow.models import CalendarOverride


def test_calendar_is_reused_until_a_watched_table_changes(session, world) -> None:  # type: ignore[no-untyped-def]
    first = calendar_for(session, None)
    assert calendar_for(session, None) is first  # no second read
    session.add(CalendarOverride(day=date(2026, 12, 5), is_workday=True, note="调休上班"))
    session.commit()
    changed = calendar_for(session, None)
    assert changed is not first
    assert changed.overrides[date(2026, 12, 5)] is True


def test_department_hours_change_is_seen_at_once(session, world) -> None:  # type: ignore[no-untyped-def]
    class Item:
        department_id = world.sanitation.id
        center_id = None

    assert item_calendar(session, Item()).hours != "00:00-24:00"
    world.sanitation.working_hours = "00:00-24:00"
    session.commit()
    assert item_calendar(session, Item()).hours == "00:00-24:00"


def test_entries_expire_after_the_ttl(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    loads = []
    value = settings_cache.cached(session, "k", lambda: loads.append(1) or len(loads))
    assert settings_cache.cached(session, "k", lambda: loads.append(1) or len(loads)) == value == 1
    monkeypatch.setattr(settings_cache, "TTL_S", 0.0)
    assert settings_cache.cached(session, "k", lambda: loads.append(1) or len(loads)) == 2


def test_rollback_of_a_change_clears_what_it_loaded(session, world) -> None:  # type: ignore[no-untyped-def]
    before = calendar_for(session, None)
    session.add(CalendarOverride(day=date(2026, 12, 6), is_workday=True, note="试"))
    session.flush()
    during = calendar_for(session, None)
    assert during.overrides.get(date(2026, 12, 6)) is True
    session.rollback()
    after = calendar_for(session, None)
    assert date(2026, 12, 6) not in after.overrides and after is not before
