"""Calendar overrides (one date a workday or a day off, for everyone or one center).

The statutory calendar (``chinese-calendar``) covers holidays and make-up workdays; these rows
are for what it cannot know: a local day off, a center working through a holiday, a year the
package does not cover yet. Working-time deadlines armed from then on use them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import NotFound, ValidationFailed
from caseflow.models import CalendarOverride, Center, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.access import admin_role
from caseflow.services.unit_of_work import unit_of_work

# Every change is ledgered on this one chain (item id 0), so its history reads in order.
LEDGER_ITEM_TYPE = "calendar"
WHAT = "the working calendar"


@dataclass(frozen=True)
class CalendarDay:
    """One override as shown to people: the date, workday or not, whose, why."""

    day: date
    is_workday: bool
    center_code: str | None
    note: str


def list_days(session: Session, *, year: int | None = None, center_code: str | None = None) -> list[CalendarDay]:
    """Overrides in date order, optionally of one year and of one center (plus the global ones)."""
    stmt = select(CalendarOverride, Center.code).outerjoin(Center, Center.id == CalendarOverride.center_id)
    if year is not None:
        stmt = stmt.where(CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31))
    if center_code:
        center = _center(session, center_code)
        stmt = stmt.where((CalendarOverride.center_id.is_(None)) | (CalendarOverride.center_id == center.id))
    rows = session.execute(stmt.order_by(CalendarOverride.day, CalendarOverride.center_id)).all()
    return [CalendarDay(r.day, r.is_workday, code, r.note) for r, code in rows]


def set_day(session: Session, *, actor: Actor, day: date, is_workday: bool, center_code: str | None = None,
            note: str = "") -> CalendarDay:
    """Make ``day`` a workday or a day off (for one center, or everyone); commits and ledgers."""
    role = admin_role(actor, "set calendar day", str(day), WHAT)
    if len(note) > 200:
        raise ValidationFailed("note must be at most 200 characters", field="note")
    with unit_of_work(session, what="calendar"):
        center = _center(session, center_code) if center_code else None
        row = _find(session, day, center)
        before = None if row is None else row.is_workday
        if row is None:
            row = CalendarOverride(day=day, center_id=center.id if center else None, is_workday=is_workday)
            session.add(row)
        row.is_workday, row.note = is_workday, note
        _ledger(session, actor, role, "set_calendar_day",
                {"day": day.isoformat(), "center": center_code, "is_workday": is_workday, "before": before,
                 "note": note})
    return CalendarDay(day, is_workday, center_code, note)


def remove_day(session: Session, *, actor: Actor, day: date, center_code: str | None = None) -> None:
    """Drop an override: the statutory calendar decides that date again. Commits and ledgers."""
    role = admin_role(actor, "remove calendar day", str(day), WHAT)
    with unit_of_work(session, what="calendar"):
        center = _center(session, center_code) if center_code else None
        row = _find(session, day, center)
        if row is None:
            raise NotFound(f"no calendar override for {day}" + (f" at {center_code}" if center_code else ""))
        session.delete(row)
        _ledger(session, actor, role, "remove_calendar_day",
                {"day": day.isoformat(), "center": center_code, "was_workday": row.is_workday})


def _find(session: Session, day: date, center: Center | None) -> CalendarOverride | None:
    cond = CalendarOverride.center_id.is_(None) if center is None else CalendarOverride.center_id == center.id
    return session.execute(select(CalendarOverride).where(cond, CalendarOverride.day == day)
                           .with_for_update()).scalar_one_or_none()


def _center(session: Session, code: str) -> Center:
    center = session.execute(select(Center).where(Center.code == code)).scalar_one_or_none()
    if center is None:
        raise ValidationFailed(f"no center with code {code!r}", field="center")
    return center


def _ledger(session: Session, actor: Actor, role: str, trigger: str, payload: dict[str, object]) -> None:
    ledger.append(session, item_type=LEDGER_ITEM_TYPE, item_id=0, trigger=trigger, actor=actor, role=role,
                  at=utcnow(), from_state=None, to_state=None, payload=payload)
