"""One year of the working calendar as an administrator reviews it: the statutory holidays and
make-up workdays (调休上班日) of ``chinese-calendar``, the overrides on top
(:mod:`caseflow.services.calendar_days`), and whether the package has that year's data at all.

A year the package does not cover falls back to Monday-Friday (see :mod:`caseflow.worktime`):
its holidays must be entered as overrides, so the view carries a warning in both languages.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import chinese_calendar
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.worktime import statutory_covered

from .calendar_days import CalendarDay, list_days

# The range a page or request may ask about (the statutory data covers far less).
FIRST_YEAR, LAST_YEAR = 2000, 2100
# chinese-calendar names the holidays in English; the console shows them in Chinese too.
HOLIDAY_NAMES_ZH = {
    "New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节", "National Day": "国庆节", "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


@dataclass(frozen=True)
class StatutoryDay:
    """A statutory day off (``holiday``) or make-up workday (``makeup_workday``) and its holiday."""

    day: date
    kind: str
    name: str
    name_zh: str


@dataclass(frozen=True)
class OverrideView:
    """An override with what the statutory calendar (or the Monday-Friday fallback) says of the date."""

    override: CalendarDay
    statutory_workday: bool
    holiday: str  # the statutory holiday (English name) the date belongs to, or ""

    @property
    def changes_something(self) -> bool:
        """False when the override says what the statutory calendar says anyway."""
        return self.override.is_workday != self.statutory_workday


@dataclass(frozen=True)
class YearView:
    """A year: covered by the statutory data or not, its statutory days, its overrides."""

    year: int
    covered: bool
    statutory: list[StatutoryDay]
    overrides: list[OverrideView]
    center_code: str | None

    @property
    def warning(self) -> tuple[str, str] | None:
        """``(zh, en)`` when the statutory data lacks the year, else None."""
        if self.covered:
            return None
        return (f"chinesecalendar 没有 {self.year} 年的法定节假日数据：该年按周一至周五上班计算。"
                "请在此逐日设置节假日和调休上班日，或升级 chinesecalendar。",
                f"chinesecalendar has no statutory holiday data for {self.year}: Monday to Friday count as "
                "workdays. Set that year's holidays and make-up workdays here, or upgrade chinesecalendar.")


def check_year(year: object, field: str = "year") -> int:
    """``year`` when it is a whole number within :data:`FIRST_YEAR`..:data:`LAST_YEAR`; else
    ``ValidationFailed`` naming ``field``."""
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationFailed(f"year must be a whole number from {FIRST_YEAR} to {LAST_YEAR}", field=field)
    return year


def statutory_workday(day: date) -> bool:
    """Whether ``day`` is a workday by the statutory calendar, else (a year without data) Monday-Friday."""
    if statutory_covered(day.year):
        return bool(chinese_calendar.is_workday(day))
    return day.weekday() < 5


def holiday_of(day: date) -> str:
    """The statutory holiday (English name) ``day`` is off for or made up for, else ""."""
    name = chinese_calendar.holidays.get(day) or chinese_calendar.workdays.get(day)
    return str(name or "")


def statutory_days(year: int) -> list[StatutoryDay]:
    """The year's statutory days off (weekends inside a holiday included) and make-up workdays, by date;
    empty for a year the package does not cover."""
    check_year(year)
    out = []
    for kind, table in (("holiday", chinese_calendar.holidays), ("makeup_workday", chinese_calendar.workdays)):
        for day, name in table.items():
            if day.year == year:
                out.append(StatutoryDay(day, kind, str(name), HOLIDAY_NAMES_ZH.get(str(name), str(name))))
    return sorted(out, key=lambda d: d.day)


def year_view(session: Session, year: int, *, center_code: str | None = None) -> YearView:
    """The year's statutory days and overrides (a center's own and the global ones; every center's
    without ``center_code``). ``ValidationFailed`` on ``year`` or ``center``."""
    check_year(year)
    days = list_days(session, year=year, center_code=center_code)
    overrides = [OverrideView(d, statutory_workday(d.day), holiday_of(d.day)) for d in days]
    return YearView(year, statutory_covered(year), statutory_days(year), overrides, center_code or None)
