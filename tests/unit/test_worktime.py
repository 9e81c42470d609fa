"""Unit tests for caseflow.worktime (working-time arithmetic).

Calendar facts used below were verified against chinesecalendar 1.11:
2026-09-20 (Sun) and 2026-10-10 (Sat) are make-up workdays (调休); 2026-09-25 (Fri)
is Mid-Autumn Festival; 2026-10-01..07 are National Day holidays; 2026-03-09 is an
ordinary Monday.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from caseflow import worktime
from caseflow.worktime import (
    DEFAULT_DAY_LENGTH,
    WorkCalendar,
    parse_duration,
    parse_hours,
    statutory_covered,
)

SH = ZoneInfo("Asia/Shanghai")
UTC = timezone.utc


def sh(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """A Shanghai wall-clock time expressed as a UTC-aware datetime (as stored)."""
    return datetime(y, mo, d, h, mi, s, tzinfo=SH).astimezone(UTC)


@pytest.fixture
def cal() -> WorkCalendar:
    return WorkCalendar()  # 08:30-12:00,13:30-17:30 in Asia/Shanghai


H = timedelta(hours=1)
M = timedelta(minutes=1)


# ------------------------------------------------------------------ basic day shape


def test_lunch_break_is_skipped(cal):
    start = datetime(2026, 3, 9, 2, 0, tzinfo=UTC)  # Monday 10:00 Shanghai
    assert start == sh(2026, 3, 9, 10)
    end = cal.add_working(start, 4 * H)
    assert end == sh(2026, 3, 9, 15, 30)
    assert end == datetime(2026, 3, 9, 7, 30, tzinfo=UTC)
    assert end.utcoffset() == timedelta(0)


def test_start_during_lunch_counts_from_afternoon(cal):
    assert cal.add_working(sh(2026, 3, 9, 12, 30), 1 * H) == sh(2026, 3, 9, 14, 30)


def test_start_at_night_counts_from_next_morning(cal):
    assert cal.add_working(sh(2026, 3, 9, 20, 0), 1 * H) == sh(2026, 3, 10, 9, 30)
    # Before dawn on the same local day (the UTC date is still the previous day).
    early = sh(2026, 3, 10, 3, 0)
    assert early.date() == date(2026, 3, 9)
    assert cal.add_working(early, 1 * H) == sh(2026, 3, 10, 9, 30)


def test_start_on_weekend_counts_from_monday(cal):
    assert cal.add_working(sh(2026, 3, 14, 10, 0), 1 * H) == sh(2026, 3, 16, 9, 30)
    assert cal.add_working(sh(2026, 3, 15, 23, 59), 30 * M) == sh(2026, 3, 16, 9, 0)


def test_spans_evening_into_next_day(cal):
    # 17:00 Mon: 30 min left today, 90 min tomorrow morning.
    assert cal.add_working(sh(2026, 3, 9, 17, 0), 2 * H) == sh(2026, 3, 10, 10, 0)


def test_budget_running_out_at_period_end_returns_period_end(cal):
    assert cal.add_working(sh(2026, 3, 9, 10), 2 * H) == sh(2026, 3, 9, 12, 0)
    assert cal.add_working(sh(2026, 3, 9, 8, 30), cal.day_length) == sh(2026, 3, 9, 17, 30)


def test_zero_duration(cal):
    inside = sh(2026, 3, 9, 10, 17, 5)
    assert cal.add_working(inside, timedelta(0)) == inside
    assert cal.add_working(sh(2026, 3, 9, 12, 30), timedelta(0)) == sh(2026, 3, 9, 13, 30)
    # Period ends are exclusive: 12:00 sharp is lunch.
    assert cal.add_working(sh(2026, 3, 9, 12, 0), timedelta(0)) == sh(2026, 3, 9, 13, 30)
    assert cal.add_working(sh(2026, 3, 13, 18, 0), timedelta(0)) == sh(2026, 3, 16, 8, 30)


def test_non_utc_aware_input_gives_same_instant_in_utc(cal):
    start = datetime(2026, 3, 9, 10, 0, tzinfo=SH)
    end = cal.add_working(start, 4 * H)
    assert end.tzinfo is UTC
    assert end == datetime(2026, 3, 9, 15, 30, tzinfo=SH)


def test_next_working_instant_and_is_working_time(cal):
    assert cal.next_working_instant(sh(2026, 3, 9, 9)) == sh(2026, 3, 9, 9)
    assert cal.next_working_instant(sh(2026, 3, 9, 7)) == sh(2026, 3, 9, 8, 30)
    assert cal.next_working_instant(sh(2026, 3, 9, 12)) == sh(2026, 3, 9, 13, 30)
    assert cal.next_working_instant(sh(2026, 3, 13, 17, 30)) == sh(2026, 3, 16, 8, 30)
    assert cal.is_working_time(sh(2026, 3, 9, 8, 30))
    assert not cal.is_working_time(sh(2026, 3, 9, 12, 0))
    assert not cal.is_working_time(sh(2026, 3, 14, 10, 0))


def test_working_between_basic(cal):
    assert cal.working_between(sh(2026, 3, 9, 10), sh(2026, 3, 9, 15, 30)) == 4 * H
    # Whole Mon-Fri week, from Saturday to Saturday.
    assert cal.working_between(sh(2026, 3, 7), sh(2026, 3, 14)) == 5 * cal.day_length
    assert cal.working_between(sh(2026, 3, 9, 12, 10), sh(2026, 3, 9, 13, 0)) == timedelta(0)
    # Antisymmetric rather than raising.
    assert cal.working_between(sh(2026, 3, 9, 15, 30), sh(2026, 3, 9, 10)) == -4 * H


# -------------------------------------------------------------- statutory calendar


def test_national_day_2026_facts(cal):
    for d in range(1, 8):
        assert not cal.is_workday(date(2026, 10, d)), f"Oct {d} should be a holiday"
    assert not cal.is_workday(date(2026, 9, 25))  # Mid-Autumn Festival, a Friday
    assert cal.is_workday(date(2026, 9, 20))  # Sunday make-up workday
    assert date(2026, 9, 20).weekday() == 6
    assert cal.is_workday(date(2026, 10, 10))  # Saturday make-up workday
    assert date(2026, 10, 10).weekday() == 5
    assert not cal.is_workday(date(2026, 10, 11))  # ordinary Sunday
    assert cal.is_workday(date(2026, 10, 8))


def test_golden_week_is_skipped(cal):
    # Wed Sep 30 16:30: one hour left before the holiday, then Thu Oct 8.
    assert cal.add_working(sh(2026, 9, 30, 16, 30), 2 * H) == sh(2026, 10, 8, 9, 30)
    assert cal.add_working(sh(2026, 10, 3, 10), timedelta(0)) == sh(2026, 10, 8, 8, 30)
    assert cal.working_between(sh(2026, 9, 30), sh(2026, 10, 9)) == 2 * cal.day_length


def test_make_up_saturday_counts_as_workday(cal):
    # Fri Oct 9 17:00 + 1h: 30 min on Friday, then Saturday Oct 10 is a workday.
    assert cal.add_working(sh(2026, 10, 9, 17, 0), 1 * H) == sh(2026, 10, 10, 9, 0)
    assert cal.working_between(sh(2026, 10, 10), sh(2026, 10, 11)) == cal.day_length


def test_make_up_sunday_counts_as_workday(cal):
    # Sat Sep 19 is off; Sun Sep 20 is a make-up workday.
    assert cal.add_working(sh(2026, 9, 19, 10), 1 * H) == sh(2026, 9, 20, 9, 30)


# ---------------------------------------------------------------------- overrides


def test_override_day_off_and_day_on():
    cal = WorkCalendar(overrides={date(2026, 3, 10): False, date(2026, 3, 15): True})
    assert not cal.is_workday(date(2026, 3, 10))  # Tuesday made a day off
    assert cal.is_workday(date(2026, 3, 15))  # Sunday made a workday
    # Mon 17:00 + 2h: 30 min Monday, Tuesday skipped, 90 min Wednesday.
    assert cal.add_working(sh(2026, 3, 9, 17), 2 * H) == sh(2026, 3, 11, 10, 0)
    # Sat 10:00 + 1h lands on the overridden Sunday.
    assert cal.add_working(sh(2026, 3, 14, 10), 1 * H) == sh(2026, 3, 15, 9, 30)
    # Without overrides the same calls behave normally.
    plain = WorkCalendar()
    assert plain.add_working(sh(2026, 3, 9, 17), 2 * H) == sh(2026, 3, 10, 10, 0)


def test_override_beats_statutory_calendar():
    cal = WorkCalendar(overrides={date(2026, 10, 10): False, date(2026, 10, 2): True})
    assert not cal.is_workday(date(2026, 10, 10))  # make-up Saturday cancelled
    assert cal.is_workday(date(2026, 10, 2))  # holiday worked
    assert cal.add_working(sh(2026, 9, 30, 17), 1 * H) == sh(2026, 10, 2, 9, 0)


def test_overrides_are_copied_and_validated():
    src = {date(2026, 3, 10): False}
    cal = WorkCalendar(overrides=src)
    src[date(2026, 3, 10)] = True
    assert not cal.is_workday(date(2026, 3, 10))
    with pytest.raises(TypeError):
        cal.overrides[date(2026, 3, 11)] = False  # type: ignore[index]
    with pytest.raises(ValueError, match="datetime.date"):
        WorkCalendar(overrides={datetime(2026, 3, 10, tzinfo=UTC): False})
    with pytest.raises(ValueError, match="bool"):
        WorkCalendar(overrides={date(2026, 3, 10): 0})


# ------------------------------------------------------------ uncovered years


def test_year_without_statutory_data_falls_back_to_mon_fri(monkeypatch, caplog):
    monkeypatch.setattr(worktime, "_fallback_warned", set())
    cal = WorkCalendar()
    assert cal.covered(2026)
    assert not cal.covered(2099)
    assert not statutory_covered(2003)
    assert cal.uncovered_years(2025, 2027) == [y for y in (2025, 2026, 2027) if not statutory_covered(y)]
    assert 2026 not in cal.uncovered_years(2025, 2027)

    with caplog.at_level(logging.WARNING, logger="caseflow.worktime"):
        # 2099-01-01 is a Thursday; Fri 2, Sat 3, Sun 4, Mon 5.
        assert cal.is_workday(date(2099, 1, 1))
        assert cal.is_workday(date(2099, 1, 2))
        assert not cal.is_workday(date(2099, 1, 3))
        assert not cal.is_workday(date(2099, 1, 4))
        assert cal.add_working(sh(2099, 1, 2, 17), 1 * H) == sh(2099, 1, 5, 9, 0)
        assert cal.working_between(sh(2099, 1, 1), sh(2099, 1, 8)) == 5 * cal.day_length
    warnings_2099 = [r for r in caplog.records if "2099" in r.getMessage()]
    assert len(warnings_2099) == 1  # once per year, not per lookup
    assert warnings_2099[0].levelno == logging.WARNING
    assert 2099 in worktime.fallback_years()


def test_fallback_crosses_from_covered_into_uncovered_year(monkeypatch):
    monkeypatch.setattr(worktime, "_fallback_warned", set())
    cal = WorkCalendar()
    # Pick the last covered year dynamically so a library upgrade does not break this.
    last = max(y for y in range(2004, 2100) if statutory_covered(y))
    start = sh(last, 12, 31, 17)
    end = cal.add_working(start, 10 * cal.day_length)  # must not raise
    assert end.astimezone(SH).year == last + 1
    assert cal.working_between(start, end) == 10 * cal.day_length


def test_override_in_uncovered_year_needs_no_fallback(monkeypatch):
    monkeypatch.setattr(worktime, "_fallback_warned", set())
    cal = WorkCalendar(overrides={date(2099, 1, 1): False})
    assert not cal.is_workday(date(2099, 1, 1))
    assert 2099 not in worktime.fallback_years()


# --------------------------------------------------------------- inverse property


def _lcg(seed: int):
    """Tiny deterministic pseudo-random generator (no global random state)."""
    x = seed
    while True:
        x = (1103515245 * x + 12345) % (2**31)
        yield x


def test_working_between_inverts_add_working(cal):
    rnd = _lcg(20260920)
    base = sh(2026, 9, 10)  # window spans Mid-Autumn, Golden Week and both make-up days
    checked_inside = 0
    for _ in range(400):
        a = base + timedelta(seconds=next(rnd) % (45 * 86400))
        d = timedelta(seconds=next(rnd) % (40 * 3600))
        end = cal.add_working(a, d)
        assert end >= a
        assert cal.working_between(a, end) == d, (a, d, end)

        b = a + timedelta(seconds=next(rnd) % (20 * 86400))
        w = cal.working_between(a, b)
        assert w >= timedelta(0)
        back = cal.add_working(a, w)
        assert cal.working_between(a, back) == w
        if cal.is_working_time(b) and b > cal.next_working_instant(a):
            assert back == b, (a, b, w, back)
            checked_inside += 1
        else:
            # b is outside working time: add_working stops at the earliest instant
            # that much time has elapsed, i.e. at or before b.
            assert back <= max(b, cal.next_working_instant(a))
    assert checked_inside > 50  # the loop really exercised the exact-inverse branch


# --------------------------------------------------------------- long durations


def test_thirty_working_days_skips_whole_days(monkeypatch, cal):
    calls = 0
    real = WorkCalendar.is_workday

    def counting(self, day):
        nonlocal calls
        calls += 1
        return real(self, day)

    monkeypatch.setattr(WorkCalendar, "is_workday", counting)
    start = sh(2026, 9, 1, 8, 30)
    end = cal.add_working(start, 30 * cal.day_length)
    # Day-by-day lookups only (about 45 calendar days), not per-minute stepping.
    assert calls < 60
    monkeypatch.setattr(WorkCalendar, "is_workday", real)

    # Independently count 30 workdays with is_workday.
    day, seen = date(2026, 9, 1), 0
    while True:
        if cal.is_workday(day):
            seen += 1
            if seen == 30:
                break
        day += timedelta(days=1)
    assert end == sh(day.year, day.month, day.day, 17, 30)
    assert cal.working_between(start, end) == 30 * cal.day_length


def test_three_days_means_three_working_day_lengths(cal):
    d = cal.parse_duration("3d")
    assert d == 3 * timedelta(hours=7, minutes=30)
    assert cal.add_working(sh(2026, 3, 9, 10), d) == sh(2026, 3, 12, 10)
    # The d unit follows the calendar's own hours spec.
    short = WorkCalendar(hours="09:00-12:00")
    assert short.parse_duration("2d") == 6 * H


# ---------------------------------------------------------- other zones / specs


def test_other_zone_and_hours():
    cal = WorkCalendar(hours="09:00-17:00", tz="UTC")
    start = datetime(2026, 3, 9, 16, 0, tzinfo=UTC)
    assert cal.add_working(start, 2 * H) == datetime(2026, 3, 10, 10, 0, tzinfo=UTC)
    assert cal.day_length == 8 * H


def test_full_day_hours_with_24_00():
    cal = WorkCalendar(hours="00:00-24:00")
    assert cal.day_length == 24 * H
    # Fri 20:00 + 6h: 4h Friday, weekend skipped, 2h Monday.
    assert cal.add_working(sh(2026, 3, 13, 20), 6 * H) == sh(2026, 3, 16, 2)


def test_parse_hours():
    assert parse_hours("08:30-12:00, 13:30-17:30") == ((30600, 43200), (48600, 63000))
    assert parse_hours("13:00-14:00,08:00-12:00,12:00-13:00") == ((28800, 50400),)


@pytest.mark.parametrize(
    "spec",
    ["", "08:30", "08:30-07:00", "25:00-26:00", "08:00-12:00,11:00-13:00", "8h-12h", "24:00-24:00", "08:60-09:00"],
)
def test_bad_hours_spec_rejected(spec):
    with pytest.raises(ValueError):
        WorkCalendar(hours=spec)


def test_bad_zone_rejected():
    with pytest.raises(ValueError, match="Mars/Olympus"):
        WorkCalendar(tz="Mars/Olympus")


def test_naive_datetimes_rejected(cal):
    naive = datetime(2026, 3, 9, 10)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working(naive, H)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.working_between(naive, sh(2026, 3, 9, 11))
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.next_working_instant(naive)


def test_negative_duration_rejected(cal):
    with pytest.raises(ValueError, match="negative"):
        cal.add_working(sh(2026, 3, 9, 10), -H)


# ----------------------------------------------------------------- parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("4h", timedelta(hours=4)),
        ("90s", timedelta(seconds=90)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1H 30M", timedelta(hours=1, minutes=30)),
        ("3d", 3 * DEFAULT_DAY_LENGTH),
        ("1d2h3m4s", DEFAULT_DAY_LENGTH + timedelta(hours=2, minutes=3, seconds=4)),
        ("5400", timedelta(seconds=5400)),
        (" 60 ", timedelta(seconds=60)),
        (5400, timedelta(seconds=5400)),
        ("0", timedelta(0)),
    ],
)
def test_parse_duration_valid(text, expected):
    assert parse_duration(text) == expected


def test_parse_duration_day_length_parameter():
    assert parse_duration("2d", day_length=timedelta(hours=8)) == timedelta(hours=16)
    assert DEFAULT_DAY_LENGTH == timedelta(hours=7, minutes=30)


@pytest.mark.parametrize(
    "bad",
    ["", "   ", "abc", "1.5h", "-5", "3x", "h", "1m1h", "1h1h", "30 minutes", "٣٠m", "1h30"],
)
def test_parse_duration_errors_name_the_text(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_duration(bad)


@pytest.mark.parametrize("bad", [-1, True, None, 1.5])
def test_parse_duration_rejects_bad_types(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        parse_duration(bad)  # type: ignore[arg-type]
