"""Report periods (day, week, month, quarter, year) in local time (Asia/Shanghai by default),
and custom ranges of whole days (kind ``range``) for the indicators.

A period is the half-open interval ``[start_at, end_at)`` in UTC between two local
midnights; weeks start on Monday. ``trend_unit`` is the bucket the report's trend chart uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from caseflow.errors import ValidationFailed

KINDS = ("day", "week", "month", "quarter", "year")
# Trend buckets per period kind: hours of a day, days of a week or month, weeks of a quarter, months of a year.
TREND_UNIT = {"day": "hour", "week": "day", "month": "day", "quarter": "week", "year": "month"}
DEFAULT_TZ = "Asia/Shanghai"
RANGE = "range"  # a custom range of whole local days (indicators and assessment; not a stored report)
MAX_RANGE_DAYS = 366  # bounds one query's work: a range is at most a (leap) year
# Days this side of which the trend of a custom range switches to a coarser bucket.
RANGE_UNITS = ((1, "hour"), (62, "day"), (190, "week"))
MIN_YEAR, MAX_YEAR = 1970, 9998  # dates outside these would overflow the UTC conversion


def zone_name() -> str:
    """The configured time zone (``TIMEZONE``), or Asia/Shanghai outside an app."""
    from flask import current_app, has_app_context

    return str(current_app.config.get("TIMEZONE", DEFAULT_TZ)) if has_app_context() else DEFAULT_TZ


@dataclass(frozen=True)
class Period:
    """One report period: its kind, first local day, and UTC bounds."""

    kind: str
    first_day: date
    start_at: datetime
    end_at: datetime
    tz: str = DEFAULT_TZ
    until: date | None = None  # the last day of a custom range (kind ``range``)

    @property
    def last_day(self) -> date:
        """The period's last local day (inclusive)."""
        if self.until is not None:
            return self.until
        return _next_start(self.kind, self.first_day) - timedelta(days=1)

    @property
    def days(self) -> int:
        """How many local days the period spans."""
        return (self.last_day - self.first_day).days + 1

    @property
    def trend_unit(self) -> str:
        """The trend chart's bucket: hour, day, week or month."""
        if self.kind != RANGE:
            return TREND_UNIT[self.kind]
        return next((unit for most, unit in RANGE_UNITS if self.days <= most), "month")

    @property
    def utc_offset_s(self) -> int:
        """The zone's UTC offset at the period start, in seconds (SQLite's fixed-offset fallback)."""
        off = self.start_at.astimezone(ZoneInfo(self.tz)).utcoffset()
        return int(off.total_seconds()) if off is not None else 0

    def label(self, lang: str = "zh") -> str:
        """A human label: 2025年3月, 2025年第1季度, 2025-03-03 至 2025-03-09..."""
        d = self.first_day
        if self.kind == "day" or (self.kind == RANGE and self.days == 1):
            return f"{d:%Y-%m-%d}"
        if self.kind in ("week", RANGE):
            return f"{d:%Y-%m-%d} 至 {self.last_day:%Y-%m-%d}" if lang == "zh" else f"{d} to {self.last_day}"
        if self.kind == "month":
            return f"{d.year}年{d.month}月" if lang == "zh" else f"{d:%Y-%m}"
        if self.kind == "quarter":
            q = (d.month - 1) // 3 + 1
            return f"{d.year}年第{q}季度" if lang == "zh" else f"{d.year} Q{q}"
        return f"{d.year}年" if lang == "zh" else str(d.year)

    def previous(self) -> Period:
        """The period of the same kind just before this one (for a range: as many days, just before)."""
        if self.kind == RANGE:
            return range_of(self.first_day - timedelta(days=self.days), self.first_day - timedelta(days=1), self.tz)
        return period_of(self.kind, self.first_day - timedelta(days=1), self.tz)

    def as_dict(self) -> dict[str, str]:
        """JSON-friendly description."""
        return {"kind": self.kind, "start": self.first_day.isoformat(), "end": self.last_day.isoformat(),
                "start_at": self.start_at.isoformat(), "end_at": self.end_at.isoformat(), "label": self.label()}


def _first_day(kind: str, day: date) -> date:
    if kind == "day":
        return day
    if kind == "week":
        return day - timedelta(days=day.weekday())
    if kind == "month":
        return day.replace(day=1)
    if kind == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if kind == "year":
        return date(day.year, 1, 1)
    raise ValidationFailed(f"period must be one of {', '.join(KINDS)}", field="period")


def _next_start(kind: str, first: date) -> date:
    if kind == "day":
        return first + timedelta(days=1)
    if kind == "week":
        return first + timedelta(days=7)
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    m = first.month - 1 + months
    return date(first.year + m // 12, m % 12 + 1, 1)


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(timezone.utc)


def period_of(kind: str, day: date, tz: str | None = None) -> Period:
    """The period of ``kind`` that contains local day ``day``."""
    tz = tz or zone_name()
    zone = ZoneInfo(tz)
    first = _first_day(kind, day)
    return Period(kind, first, _midnight(first, zone), _midnight(_next_start(kind, first), zone), tz)


def period_at(kind: str, when: datetime, tz: str | None = None) -> Period:
    """The period of ``kind`` that contains the instant ``when``."""
    tz = tz or zone_name()
    return period_of(kind, when.astimezone(ZoneInfo(tz)).date(), tz)


def last_completed(kind: str, now: datetime, tz: str | None = None) -> Period:
    """The latest period of ``kind`` that has ended by ``now``."""
    return period_at(kind, now, tz).previous()


def parse_period(kind: str | None, start: str | date | None, tz: str | None = None,
                 now: datetime | None = None) -> Period:
    """The period named by a kind and any day in it (``2025-03-01``, ``2025-03``, ``2025``).

    Without ``start``: the last completed period of that kind. Raises ``ValidationFailed``
    naming ``period`` or ``start``.
    """
    if kind not in KINDS:
        raise ValidationFailed(f"period must be one of {', '.join(KINDS)}", field="period")
    if start in (None, ""):
        from caseflow.models import utcnow

        return last_completed(kind, now or utcnow(), tz)
    if isinstance(start, date):
        return period_of(kind, start, tz)
    text = str(start).strip()
    try:
        if len(text) == 4:
            day = date(int(text), 1, 1)
        elif len(text) == 7:
            day = date(int(text[:4]), int(text[5:7]), 1)
        else:
            day = date.fromisoformat(text)
    except ValueError:
        raise ValidationFailed("start must be a date like 2025-03-01, 2025-03 or 2025", field="start") from None
    return period_of(kind, _in_years(day, "start"), tz)


def _in_years(day: date, field: str) -> date:
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValidationFailed(f"{field} must be a year between {MIN_YEAR} and {MAX_YEAR}", field=field)
    return day


def range_of(first: date, last: date, tz: str | None = None) -> Period:
    """The custom range of local days ``first`` to ``last`` (both included).

    Raises ``ValidationFailed`` naming ``end`` when ``last`` is before ``first`` or the range
    is longer than :data:`MAX_RANGE_DAYS`.
    """
    if last < first:
        raise ValidationFailed("end must not be before start", field="end")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise ValidationFailed(f"a range spans at most {MAX_RANGE_DAYS} days", field="end")
    tz = tz or zone_name()
    zone = ZoneInfo(tz)
    return Period(RANGE, first, _midnight(first, zone), _midnight(last + timedelta(days=1), zone), tz, until=last)


def parse_range(start: str | date | None, end: str | date | None, tz: str | None = None) -> Period:
    """The custom range from local day ``start`` to ``end`` (both included, ``2025-03-05``).

    Raises ``ValidationFailed`` naming ``start`` or ``end``.
    """
    days = []
    for field, value in (("start", start), ("end", end)):
        if value in (None, ""):
            raise ValidationFailed(f"{field} is required for a range", field=field)
        if isinstance(value, date):
            days.append(_in_years(value, field))
            continue
        try:
            days.append(_in_years(date.fromisoformat(str(value).strip()), field))
        except ValueError:
            raise ValidationFailed(f"{field} must be a date like 2025-03-05", field=field) from None
    return range_of(days[0], days[1], tz)
