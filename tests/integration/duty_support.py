"""Builders shared by the duty-watch tests."""
from __future__ import annotations

from datetime import date, timedelta
from itertools import count

from sqlalchemy import select

from caseflow.models import CalendarOverride, DutyShift, Instruction, utcnow
from caseflow.services import transition
from caseflow.services.duty import rota
from caseflow.services.duty.common import tz
from caseflow.services.duty.rules import holidays

_numbers = count(1)


def today() -> date:
    """Today's local date in the center's time zone."""
    return utcnow().astimezone(tz()).date()


def ordinary(session, world, first_day: date, days: int) -> list[date]:  # type: ignore[no-untyped-def]
    """Make the street center work ``days`` days from ``first_day`` as ordinary days: a holiday
    among them (the tests run on any date, Oct 1 included) gets a center workday override, so a
    test about something else needs no leader on shift and no holiday minimum. Returns the days
    that were holidays."""
    found = holidays(session, world.street.id, first_day, first_day + timedelta(days=days - 1))
    for day in found:
        session.add(CalendarOverride(center_id=world.street.id, day=day, is_workday=True, note="测试: 按工作日值班"))
    session.commit()
    return sorted(found)


def plan(session, catalog, world, days: int = 4, first_day: date | None = None, **kw) -> list[DutyShift]:  # type: ignore[no-untyped-def]
    """A rota of ``days`` ordinary shifts (see :func:`ordinary`) alternating duty_lead / duty_lead2,
    duty_officer on each."""
    p = world.people
    first_day = first_day or today() - timedelta(days=1)
    ordinary(session, world, first_day, days)
    return rota.generate_rota(
        session, catalog, world.street.id, first_day, days,
        leads=[p["duty_lead"].id, p["duty_lead2"].id], officers=[p["duty_officer"].id],
        actor=world.actor("admin"), **kw,
    )


def lead_actor(world, shift: DutyShift):  # type: ignore[no-untyped-def]
    """The actor of the shift's lead."""
    name = next(n for n, person in world.people.items() if person.id == shift.lead_id)
    return world.actor(name)


def running_instruction(session, catalog, world) -> Instruction:  # type: ignore[no-untyped-def]
    """An instruction signed and dispatched to sanitation (its arrival deadline runs)."""
    liaison = world.actor("liaison")
    ins = Instruction(number=f"110-{next(_numbers):04d}", received_at=utcnow(), category_id=world.cat_garbage.id,
                      grid_id=world.grid_main.id, area_kind="main_urban", address="一号路口", description="垃圾堆放")
    transition.start(session, catalog, ins, workflow="instruction", actor=liaison, role="liaison")
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=liaison)
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=liaison,
                    data={"department_id": world.sanitation.id})
    return ins


def shift(session, shift_id: int) -> DutyShift:  # type: ignore[no-untyped-def]
    """A fresh copy of a shift."""
    session.expire_all()
    return session.execute(select(DutyShift).where(DutyShift.id == shift_id)).scalar_one()
