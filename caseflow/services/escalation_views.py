"""Escalation runs as the API and the console show them: who was told (when, as what, over
which channels) and who acknowledged. One definition for ``GET /api/escalations`` and the
console's lists (leader dashboard, duty page), so the two never disagree.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from caseflow.deadlines.targets import target_label
from caseflow.models import EscalationNotice, EscalationRun, Notification, Person

#: Statuses still waiting for someone to take the matter on.
WAITING = ("active", "done")
#: How long an acknowledged run stays on the console's lists (so others see who took it on).
ACKNOWLEDGED_SHOWN = timedelta(hours=24)


def run_view(run: EscalationRun, notices: list[EscalationNotice], names: dict[int, str],
             channels: dict[tuple[int, int, int], list[str]] | None = None) -> dict[str, Any]:
    """A run as a plain dict; ``channels`` maps (person, step, round) to the channels used."""
    steps = list(run.steps or [])
    channels = channels or {}
    return {
        "id": run.id, "item_type": run.item_type, "item_id": run.item_id, "chain": run.chain,
        "status": run.status, "state": run.state, "mode": steps[0].get("mode", "normal") if steps else "normal",
        "step_index": run.step_index, "repeat_index": run.repeat_index, "steps": steps,
        "deadline_id": run.deadline_id, "started_at": run.started_at, "next_at": run.next_at,
        "acknowledged_at": run.acknowledged_at, "acknowledged_by_id": run.acknowledged_by_id,
        "acknowledged_by_name": names.get(run.acknowledged_by_id) if run.acknowledged_by_id else None,
        "notices": [
            {"person_id": n.person_id, "person_name": names.get(n.person_id, "") if n.person_id else "",
             "target": n.target, "target_label": target_label(n.target), "step_index": n.step_index,
             "repeat_index": n.repeat_index, "notified_at": n.notified_at,
             "channels": channels.get((n.person_id or 0, n.step_index, n.repeat_index), [])}
            for n in notices
        ],
    }


def _channels(session: Session, runs: list[EscalationRun]) -> dict[int, dict[tuple[int, int, int], list[str]]]:
    """Per run, the outbox channels of each (person, step, round) it told."""
    wanted = {r.id for r in runs}
    items = {(r.item_type, r.item_id) for r in runs}
    out: dict[int, dict[tuple[int, int, int], list[str]]] = {r.id: {} for r in runs}
    # The outbox rows of the runs' items; the run is in the payload (JSON: matched here, not in SQL).
    rows = session.execute(select(Notification.channel, Notification.person_id, Notification.payload).where(
        or_(*[and_(Notification.item_type == t, Notification.item_id == i) for t, i in items])
    ).order_by(Notification.id))
    for channel, person_id, payload in rows:
        payload = payload or {}
        run_id = payload.get("run_id")
        if payload.get("kind") != "escalation" or run_id not in wanted:
            continue
        key = (person_id or 0, int(payload.get("step", 0)), int(payload.get("repeat", 0)))
        used = out[run_id].setdefault(key, [])
        if channel not in used:
            used.append(channel)
    return out


def runs_view(session: Session, runs: list[EscalationRun]) -> list[dict[str, Any]]:
    """Views of several runs with their notices, in few queries."""
    if not runs:
        return []
    notices: dict[int, list[EscalationNotice]] = {r.id: [] for r in runs}
    for n in session.execute(
        select(EscalationNotice).where(EscalationNotice.run_id.in_(notices)).order_by(EscalationNotice.id)
    ).scalars():
        notices[n.run_id].append(n)
    person_ids = {n.person_id for ns in notices.values() for n in ns if n.person_id}
    person_ids |= {r.acknowledged_by_id for r in runs if r.acknowledged_by_id}
    names = dict(session.execute(select(Person.id, Person.full_name).where(Person.id.in_(person_ids))).all()) if person_ids else {}
    channels = _channels(session, runs)
    return [run_view(r, notices[r.id], names, channels[r.id]) for r in runs]


def console_runs(session: Session, now: datetime, *, told: int | None = None, limit: int = 50) -> list[EscalationRun]:
    """Runs for a console list, oldest first: those still waiting, and those acknowledged
    within :data:`ACKNOWLEDGED_SHOWN`. With ``told``, only runs that told that person."""
    query = select(EscalationRun).where(or_(
        EscalationRun.status.in_(WAITING),
        and_(EscalationRun.status == "acknowledged", EscalationRun.acknowledged_at >= now - ACKNOWLEDGED_SHOWN),
    ))
    if told is not None:
        query = query.where(EscalationRun.id.in_(
            select(EscalationNotice.run_id).where(EscalationNotice.person_id == told)))
    return list(session.execute(query.order_by(EscalationRun.started_at, EscalationRun.id).limit(limit)).scalars())


def group_notices(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's notices grouped by (step, round), in order: for a "who was told" column."""
    groups: list[dict[str, Any]] = []
    for n in view["notices"]:
        if not groups or (groups[-1]["step_index"], groups[-1]["repeat_index"]) != (n["step_index"], n["repeat_index"]):
            groups.append({"step_index": n["step_index"], "repeat_index": n["repeat_index"],
                           "notified_at": n["notified_at"], "notices": []})
        groups[-1]["notices"].append(n)
    return groups
