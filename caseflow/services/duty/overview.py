"""Read-only views of the duty watch for reports and the command line: who is on duty now, the
rota between two days, and the state of a day's 08:30 handover."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import DutyShift, Handover, Person, utcnow

from .common import current_shift, shift_bounds, tz
from .handover import handover_deadline, items
from .rota import assignments
from .settings import shift_start

POSTS = ("duty_lead", "leader_on_shift", "duty_officer")


@dataclass
class ShiftView:
    """A shift with its people by post (``duty_lead``, ``leader_on_shift``, ``duty_officer``)."""

    shift: DutyShift
    posts: dict[str, list[Person]] = field(default_factory=dict)

    @property
    def special(self) -> str | None:
        """The special period the shift falls in (holiday, major_event, ...), if any."""
        return (self.shift.data or {}).get("special")


def shift_view(session: Session, shift: DutyShift) -> ShiftView:
    """The shift with everyone on it, grouped by post."""
    posts: dict[str, list[Person]] = {p: [] for p in POSTS}
    for a in assignments(session, shift.id):
        posts.setdefault(a.role, []).append(a.person)
    # A shift made without assignment rows (the demo's) still names its lead and leader on shift.
    for attr, post in (("lead_id", "duty_lead"), ("leader_on_shift_id", "leader_on_shift")):
        person_id = getattr(shift, attr)
        if person_id and not any(p.id == person_id for p in posts[post]):
            person = session.get(Person, person_id)
            if person is not None:
                posts[post].insert(0, person)
    return ShiftView(shift, posts)


def duty_day(now: datetime | None = None) -> date:
    """The local day the shift on duty at ``now`` started (before 08:30 that is yesterday)."""
    local_now = (now or utcnow()).astimezone(tz())
    return local_now.date() - timedelta(days=1) if local_now.time() < shift_start() else local_now.date()


def on_duty_now(session: Session, center_id: int, now: datetime | None = None) -> ShiftView | None:
    """The center's shift on duty (during a handover, the outgoing one); when none has started,
    the planned shift whose hours cover ``now`` (its state says it has not started)."""
    shift = current_shift(session, center_id)
    if shift is None:
        now = now or utcnow()
        shift = session.execute(select(DutyShift).where(
            DutyShift.center_id == center_id, DutyShift.starts_at <= now, DutyShift.ends_at > now,
            DutyShift.state == "planned")).scalar_one_or_none()
    return shift_view(session, shift) if shift is not None else None


def rota_between(session: Session, center_id: int | None, first_day: date, last_day: date) -> list[ShiftView]:
    """Shifts starting on local days ``first_day`` to ``last_day`` (inclusive), by center then time;
    every center when ``center_id`` is None."""
    start, _ = shift_bounds(first_day)
    end, _ = shift_bounds(last_day + timedelta(days=1))
    query = select(DutyShift).where(DutyShift.starts_at >= start, DutyShift.starts_at < end)
    if center_id is not None:
        query = query.where(DutyShift.center_id == center_id)
    rows = session.execute(query.order_by(DutyShift.center_id, DutyShift.starts_at)).scalars()
    return [shift_view(session, s) for s in rows]


@dataclass
class HandoverStatus:
    """A day's 08:30 handover: the shift going off, the one coming on, the handover if opened,
    when it must be complete, and its items by status (pending, accepted, disputed)."""

    at: datetime
    due_at: datetime
    outgoing: ShiftView | None
    incoming: ShiftView | None
    handover: Handover | None
    item_counts: dict[str, int] = field(default_factory=dict)

    def late(self, now: datetime | None = None) -> bool:
        """True when the handover is not complete and its deadline has passed."""
        done = self.handover is not None and self.handover.state == "completed"
        return not done and (now or utcnow()) > self.due_at


def handover_status(session: Session, center_id: int, day: date) -> HandoverStatus:
    """The handover held at 08:30 on local ``day``: from the shift that started the day before."""
    out_start, at = shift_bounds(day - timedelta(days=1))
    outgoing = session.execute(select(DutyShift).where(
        DutyShift.center_id == center_id, DutyShift.starts_at == out_start)).scalar_one_or_none()
    incoming = session.execute(select(DutyShift).where(
        DutyShift.center_id == center_id, DutyShift.starts_at == at)).scalar_one_or_none()
    h = None
    if outgoing is not None:
        h = session.execute(select(Handover).where(Handover.outgoing_shift_id == outgoing.id)).scalar_one_or_none()
    counts: dict[str, int] = {}
    for row in items(session, h.id) if h is not None else []:
        counts[row.status] = counts.get(row.status, 0) + 1
    # Without a rota the deadline is still 08:30 + grace: a transient shift (never added) carries the time.
    due = handover_deadline(outgoing or DutyShift(center_id=center_id, starts_at=out_start, ends_at=at))
    return HandoverStatus(at=at, due_at=due, outgoing=shift_view(session, outgoing) if outgoing else None,
                          incoming=shift_view(session, incoming) if incoming else None, handover=h,
                          item_counts=counts)
