"""Working-time arithmetic: deadlines that skip nights, lunch, weekends and holidays.

Case-handling time limits (e.g. "4 working hours" for exposed garbage) count only
working time.  This module answers three questions for a configurable calendar:

* is a given day a working day (organisation override > Chinese statutory calendar
  > plain Mon-Fri fallback)?
* when does ``duration`` of working time, counted from an instant, run out
  (:meth:`WorkCalendar.add_working`)?
* how much working time lies between two instants
  (:meth:`WorkCalendar.working_between`, the inverse of ``add_working``)?

Conventions
-----------
* Every datetime passed in must be timezone-aware (naive ones raise ``ValueError``),
  and every datetime returned is in UTC, matching storage.  The working-hours spec is
  wall-clock time in the calendar's zone (default ``Asia/Shanghai``), so 10:00 Shanghai
  is 02:00 UTC.
* Working periods are half-open ``[start, end)``: 12:00 with a 08:30-12:00 morning
  period is *outside* working time.  Hence:

  - ``add_working(t, 0)`` returns ``t`` when ``t`` is inside working time, otherwise
    the start of the next working period (the moment the clock would start ticking).
  - ``add_working(t, d)`` with ``d > 0`` returns the exact instant the budget is used
    up, which may be a period end: 10:00 + 2h is 12:00, not 13:30.

* A working "day" (the ``d`` unit of :func:`parse_duration`) is a fixed amount of
  working time: the total length of the periods in the hours spec (7h30m for the
  default ``08:30-12:00,13:30-17:30``).  So "3d" from 10:00 Monday ends at 10:00 on
  Thursday; it is not "end of the third working day".
* ``chinese_calendar`` only has data for a range of years (2004-2026 in 1.11).  For
  other years we fall back to Mon-Fri, log a warning once per year per process, and
  expose the situation through :func:`statutory_covered`, :func:`fallback_years` and
  :meth:`WorkCalendar.uncovered_years` so the admin UI can ask for overrides.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

__all__ = [
    "DEFAULT_HOURS",
    "DEFAULT_TZ",
    "DEFAULT_DAY_LENGTH",
    "WorkCalendar",
    "parse_duration",
    "parse_hours",
    "statutory_covered",
    "fallback_years",
]

logger = logging.getLogger(__name__)

DEFAULT_HOURS = "08:30-12:00,13:30-17:30"
DEFAULT_TZ = "Asia/Shanghai"

_DAY_SECONDS = 24 * 3600
# A calendar that finds no working day in ten years is misconfigured (e.g. overrides
# marking everything off); fail loudly instead of looping forever.
_MAX_IDLE_DAYS = 3660

# Years for which a statutory lookup already fell back to Mon-Fri in this process;
# guarded by a lock because request threads share it.
_fallback_warned: set[int] = set()
_fallback_lock = threading.Lock()


# --------------------------------------------------------------------------- parsing

_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_clock(text: str, spec: str, *, allow_24: bool) -> int:
    """Parse ``HH:MM`` into seconds after midnight (``24:00`` only as a period end)."""
    m = _HHMM.match(text.strip())
    if not m:
        raise ValueError(f"bad time {text.strip()!r} in working-hours spec {spec!r}")
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes >= 60 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise ValueError(f"bad time {text.strip()!r} in working-hours spec {spec!r}")
    return hours * 3600 + minutes * 60


def parse_hours(spec: str) -> tuple[tuple[int, int], ...]:
    """Parse a working-hours spec like ``"08:30-12:00,13:30-17:30"``.

    Returns ``(start, end)`` pairs in seconds after local midnight, sorted and
    non-overlapping.  Periods cannot cross midnight (use ``"22:00-24:00,00:00-06:00"``
    style instead).  Touching periods (``08:00-12:00,12:00-13:00``) are merged so
    that the half-open rule does not create a zero-length "gap".

    Raises ``ValueError`` naming the spec on any malformed, empty, reversed or
    overlapping period.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"empty working-hours spec {spec!r}")
    periods: list[tuple[int, int]] = []
    for part in spec.split(","):
        if part.count("-") != 1:
            raise ValueError(f"bad period {part.strip()!r} in working-hours spec {spec!r}")
        start_text, end_text = part.split("-")
        start = _parse_clock(start_text, spec, allow_24=False)
        end = _parse_clock(end_text, spec, allow_24=True)
        if end <= start:
            raise ValueError(f"period {part.strip()!r} ends before it starts in {spec!r}")
        periods.append((start, end))
    periods.sort()
    merged: list[tuple[int, int]] = [periods[0]]
    for start, end in periods[1:]:
        prev_start, prev_end = merged[-1]
        if start < prev_end:
            raise ValueError(f"overlapping periods in working-hours spec {spec!r}")
        if start == prev_end:
            merged[-1] = (prev_start, end)
        else:
            merged.append((start, end))
    return tuple(merged)


DEFAULT_DAY_LENGTH = timedelta(seconds=sum(e - s for s, e in parse_hours(DEFAULT_HOURS)))

_DURATION = re.compile(
    r"^(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?$",
    re.IGNORECASE,
)


def parse_duration(text: str | int, *, day_length: timedelta = DEFAULT_DAY_LENGTH) -> timedelta:
    """Parse a working-time duration.

    Accepted forms: ``"30m"``, ``"4h"``, ``"3d"``, ``"90s"``, combinations in
    d-h-m-s order (``"1h30m"``, ``"2d4h"``, spaces allowed, case-insensitive), and
    whole seconds as an ``int`` or a digit string (``"5400"``).  Only non-negative
    integers are accepted; ``"1.5h"`` is rejected (write ``"1h30m"``).

    ``d`` means *working* days of ``day_length`` each (default: the length of the
    default working-hours spec, 7h30m).  Use :meth:`WorkCalendar.parse_duration` to
    apply a calendar's own day length.

    Raises ``ValueError`` naming the offending text.
    """
    # bool is an int subclass; True meaning "1 second" would hide a bug upstream.
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"invalid duration {text!r}: expected str or int")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"invalid duration {text!r}: negative")
        return timedelta(seconds=text)
    stripped = text.strip()
    if stripped.isdigit() and stripped.isascii():
        return timedelta(seconds=int(stripped))
    m = _DURATION.match(stripped)
    if not stripped or not m or not any(m.groupdict().values()) or not stripped.isascii():
        raise ValueError(
            f"invalid duration {text!r}: expected e.g. '30m', '4h', '3d', '1h30m', '90s' or seconds"
        )
    parts = {k: int(v) if v else 0 for k, v in m.groupdict().items()}
    return (
        parts["d"] * day_length
        + timedelta(hours=parts["h"], minutes=parts["m"], seconds=parts["s"])
    )


# ------------------------------------------------------------------- statutory data


@functools.lru_cache(maxsize=None)
def statutory_covered(year: int) -> bool:
    """True if ``chinese_calendar`` has holiday data for ``year``.

    Probed rather than read from library internals so a library upgrade that adds
    years is picked up automatically.
    """
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def fallback_years() -> frozenset[int]:
    """Years for which this process has already fallen back to plain Mon-Fri."""
    with _fallback_lock:
        return frozenset(_fallback_warned)


def statutory_is_workday(day: date) -> bool:
    """Statutory classification, falling back to Mon-Fri (logged once per year)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        with _fallback_lock:
            first = day.year not in _fallback_warned
            _fallback_warned.add(day.year)
        if first:
            logger.warning(
                "chinese_calendar has no holiday data for %d; treating Mon-Fri as workdays. "
                "Upgrade chinesecalendar or add calendar overrides for that year.",
                day.year,
            )
        return day.weekday() < 5


# ------------------------------------------------------------------------- calendar


def _require_aware(value: datetime, name: str) -> datetime:
    """Return ``value`` in UTC, rejecting naive datetimes (their zone is a guess)."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value!r}")
    return value.astimezone(timezone.utc)


@dataclass(frozen=True)
class WorkCalendar:
    """A working calendar: daily hours, a zone, and per-organisation day overrides.

    :param hours: working periods in local wall time, e.g. ``"08:30-12:00,13:30-17:30"``.
    :param tz: IANA zone in which the hours and days are evaluated.
    :param overrides: ``date -> bool``; ``True`` makes the date a workday, ``False`` a
        day off, taking precedence over the statutory calendar.

    Instances are immutable (overrides are copied), so one can be shared across
    threads and cached per organisation.
    """

    hours: str = DEFAULT_HOURS
    tz: str = DEFAULT_TZ
    overrides: Mapping[date, bool] = field(default_factory=dict, hash=False)
    periods: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)
    zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.tz!r}") from exc
        checked: dict[date, bool] = {}
        for day, working in dict(self.overrides).items():
            # datetime is a date subclass; a datetime key would never match a lookup.
            if isinstance(day, datetime) or not isinstance(day, date):
                raise ValueError(f"override key {day!r} must be a datetime.date")
            if not isinstance(working, bool):
                raise ValueError(f"override for {day} must be a bool, got {working!r}")
            checked[day] = working
        object.__setattr__(self, "overrides", MappingProxyType(checked))
        object.__setattr__(self, "periods", parse_hours(self.hours))
        object.__setattr__(self, "zone", zone)

    # -- days ---------------------------------------------------------------------

    @property
    def day_length(self) -> timedelta:
        """Working time in one working day per the hours spec (the ``d`` unit)."""
        return timedelta(seconds=sum(end - start for start, end in self.periods))

    def parse_duration(self, text: str | int) -> timedelta:
        """:func:`parse_duration` with ``d`` = this calendar's :attr:`day_length`."""
        return parse_duration(text, day_length=self.day_length)

    def covered(self, year: int) -> bool:
        """True if statutory holiday data exists for ``year`` (else Mon-Fri fallback)."""
        return statutory_covered(year)

    def uncovered_years(self, first: int, last: int) -> list[int]:
        """Years in ``first..last`` (inclusive) that would fall back to Mon-Fri."""
        return [year for year in range(first, last + 1) if not statutory_covered(year)]

    def is_workday(self, day: date) -> bool:
        """Whether ``day`` (a local calendar date) is a working day.

        Precedence: organisation override, then ``chinese_calendar`` (statutory
        holidays off, make-up days 调休 on), then Mon-Fri for years without data.
        An aware datetime is accepted and converted to its local date in this zone.
        """
        if isinstance(day, datetime):
            day = _require_aware(day, "day").astimezone(self.zone).date()
        override = self.overrides.get(day)
        if override is not None:
            return override
        return statutory_is_workday(day)

    def _local_date(self, instant_utc: datetime) -> date:
        return instant_utc.astimezone(self.zone).date()

    def _periods_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """UTC ``[start, end)`` working periods of local ``day`` (empty if off)."""
        if not self.is_workday(day):
            return []
        midnight = datetime.combine(day, time(0), tzinfo=self.zone)
        out: list[tuple[datetime, datetime]] = []
        for start, end in self.periods:
            # Aware + timedelta is wall-clock arithmetic, so 24:00 lands on next midnight
            # and a DST zone gets the right offset for each wall time.
            start_utc = (midnight + timedelta(seconds=start)).astimezone(timezone.utc)
            end_utc = (midnight + timedelta(seconds=end)).astimezone(timezone.utc)
            if end_utc > start_utc:  # a period swallowed by a DST jump is skipped
                out.append((start_utc, end_utc))
        return out

    def _periods_from(self, day: date) -> Iterator[tuple[datetime, datetime]]:
        """Working periods from local ``day`` onwards, one day at a time.

        Non-working days cost one lookup each, so long spans skip whole days.
        """
        idle = 0
        while True:
            periods = self._periods_on(day)
            if periods:
                idle = 0
                yield from periods
            else:
                idle += 1
                if idle > _MAX_IDLE_DAYS:
                    raise RuntimeError(
                        f"no working day within {_MAX_IDLE_DAYS} days before {day}; "
                        "check the calendar overrides"
                    )
            day += timedelta(days=1)

    # -- instants -----------------------------------------------------------------

    def is_working_time(self, t: datetime) -> bool:
        """Whether instant ``t`` lies inside a working period (half-open)."""
        t = _require_aware(t, "t")
        return any(start <= t < end for start, end in self._periods_on(self._local_date(t)))

    def next_working_instant(self, t: datetime) -> datetime:
        """``t`` (in UTC) if it is working time, else the start of the next period."""
        t = _require_aware(t, "t")
        for start, end in self._periods_from(self._local_date(t)):
            if end > t:
                return max(start, t)
        raise AssertionError("unreachable: _periods_from is infinite")  # pragma: no cover

    def add_working(self, start: datetime, duration: timedelta) -> datetime:
        """The instant (UTC) at which ``duration`` of working time has elapsed from ``start``.

        Counting begins at ``start`` if it is inside working time, else at the next
        period start.  ``duration == 0`` returns :meth:`next_working_instant`
        (``start`` itself when inside working time).  A positive duration that runs out
        exactly at a period end returns that end (e.g. 12:00), not the next start.
        Negative durations raise ``ValueError``.
        """
        start = _require_aware(start, "start")
        if not isinstance(duration, timedelta):
            raise ValueError(f"duration must be a timedelta, got {duration!r}")
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, got {duration!r}")
        if duration == timedelta(0):
            return self.next_working_instant(start)
        remaining = duration
        for p_start, p_end in self._periods_from(self._local_date(start)):
            if p_end <= start:
                continue
            begin = max(p_start, start)
            available = p_end - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise AssertionError("unreachable: _periods_from is infinite")  # pragma: no cover

    def working_between(self, a: datetime, b: datetime) -> timedelta:
        """Working time elapsed between instants ``a`` and ``b``.

        Inverse of :meth:`add_working`: ``working_between(a, add_working(a, d)) == d``.
        If ``b`` precedes ``a`` the result is negative (``-working_between(b, a)``),
        which lets callers express "overdue by" without special-casing.
        """
        a = _require_aware(a, "a")
        b = _require_aware(b, "b")
        if b < a:
            return -self.working_between(b, a)
        total = timedelta(0)
        day, last = self._local_date(a), self._local_date(b)
        while day <= last:
            for p_start, p_end in self._periods_on(day):
                overlap = min(p_end, b) - max(p_start, a)
                if overlap > timedelta(0):
                    total += overlap
            day += timedelta(days=1)
        return total
