"""Time limits (处置时限) per category and tier: sign, handle, check, on the working clock.

Lookup order for a case's deadline: the category's own row, the tier's default row (category
NULL), then the built-in defaults below, then the workflow YAML. The table drives the deadline
engine through ``caseflow.deadlines.clock.DURATION_HOOKS``.

Administrators change the table with :func:`set_override` and :func:`remove_override` (the API's
``/api/time-limits``, ``caseflow time-limits``); each change is ledgered on one chain (item type
``time_limits``) and applies to deadlines armed from then on. :func:`effective_limits` lists the
limits in force and where each comes from.

Defaults follow common practice (数字城管 GB/T 30428, 12345 rules): sign within 1 working
hour; handle in 1 working day for a general case, 4 working hours for exposed garbage
(暴露垃圾) and on-the-spot cases; check within 4 working hours.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow import settings_cache
from caseflow.deadlines.clock import DURATION_HOOKS
from caseflow.errors import NotFound, ValidationFailed
from caseflow.models import TIERS, Case, Category, TimeLimit, utcnow
from caseflow.models.case_parts import TIME_LIMIT_CLOCKS, TIME_LIMIT_STAGES
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.access import admin_role
from caseflow.services.unit_of_work import unit_of_work
from caseflow.workflow.definition import DeadlineSpec
from caseflow.worktime import parse_duration

# tier -> stage -> duration (working clock)
DEFAULT_LIMITS: dict[str, dict[str, str]] = {
    "simple": {"sign": "1h", "handle": "4h", "check": "4h"},
    "general": {"sign": "1h", "handle": "1d", "check": "4h"},
    "complex": {"sign": "2h", "handle": "5d", "check": "4h"},
    "difficult": {"sign": "2h", "handle": "10d", "check": "1d"},
}
# Categories whose handling is urgent by nature: handle within 4 working hours in any tier.
URGENT_CATEGORY_NAMES = {"暴露垃圾": "4h"}
# The longest limit accepted: a longer one is a typo, and arming it would walk years of calendar.
MAX_DURATION = timedelta(days=366)
# Every change to the table is ledgered on this one chain (item id 0), so its history reads in order.
LEDGER_ITEM_TYPE = "time_limits"
# Where an effective limit comes from.
SOURCES = ("override", "default", "category_default")


def stage_of(deadline_key: str) -> str | None:
    """The time-limit stage a workflow deadline id stands for (``sign``, ``handle``, ``check``)."""
    return deadline_key if deadline_key in TIME_LIMIT_STAGES else None


def limit_for(session: Session, category_id: int | None, tier: str, stage: str) -> tuple[str, str] | None:
    """``(duration, clock)`` for a stage of a tier and category, or None (use the workflow's own).

    Read on every armed case deadline, so cached per process (:mod:`caseflow.settings_cache`):
    a change through this module is seen at once here, within seconds elsewhere.
    """

    def load() -> tuple[str, str] | None:
        rows = session.execute(
            select(TimeLimit).where(
                TimeLimit.tier == tier, TimeLimit.stage == stage,
                (TimeLimit.category_id.is_(None)) | (TimeLimit.category_id == category_id),
            )
        ).scalars()
        table = {(r.category_id, r.tier, r.stage): r for r in rows}
        cat = session.get(Category, category_id) if category_id is not None else None
        found = (_category_limit(table, cat, tier, stage) if cat is not None else None) or _tier_limit(table, tier, stage)
        return (found.duration, found.clock) if found else None

    return settings_cache.cached(session, ("time_limit", category_id, tier, stage), load)


def case_duration_hook(session: Session, spec: DeadlineSpec, item: object) -> tuple[str, str] | None:
    """The deadline-engine hook: a case's sign/handle/check deadlines come from the table."""
    stage = stage_of(spec.id)
    if stage is None or not isinstance(item, Case):
        return None
    return limit_for(session, item.category_id, item.tier, stage)


def set_limit(session: Session, *, tier: str, stage: str, duration: str, clock: str = "working",
              category_id: int | None = None) -> TimeLimit:
    """Create or change one row (the caller commits); applies to deadlines armed from now on."""
    if tier not in TIERS:
        raise ValidationFailed(f"tier must be one of {', '.join(TIERS)}", field="tier")
    if stage not in TIME_LIMIT_STAGES:
        raise ValidationFailed(f"stage must be one of {', '.join(TIME_LIMIT_STAGES)}", field="stage")
    if clock not in TIME_LIMIT_CLOCKS:
        raise ValidationFailed(f"clock must be one of {', '.join(TIME_LIMIT_CLOCKS)}", field="clock")
    duration = check_duration(duration)
    if category_id is not None and session.get(Category, category_id) is None:
        raise ValidationFailed(f"category {category_id} does not exist", field="category_id")
    cond = TimeLimit.category_id.is_(None) if category_id is None else TimeLimit.category_id == category_id
    row = session.execute(
        select(TimeLimit).where(cond, TimeLimit.tier == tier, TimeLimit.stage == stage)
    ).scalar_one_or_none()
    if row is None:
        row = TimeLimit(category_id=category_id, tier=tier, stage=stage)
        session.add(row)
    row.duration, row.clock = duration, clock
    session.flush()
    return row


def check_duration(duration: Any) -> str:
    """The duration text, stripped, if it is positive and at most ``MAX_DURATION`` (a day counted as 24 h);
    ``ValidationFailed`` naming ``duration`` otherwise."""
    try:
        text = str(duration).strip() if isinstance(duration, (str, int)) and not isinstance(duration, bool) else ""
        # Checked on the wall clock: 'd' as 24 h is the most a day can mean on either clock.
        length = parse_duration(text, day_length=timedelta(days=1))
    except (ValueError, TypeError):
        raise ValidationFailed("duration must look like 4h, 1d, 30m or 1h30m", field="duration") from None
    if length.total_seconds() <= 0:
        raise ValidationFailed("duration must be longer than zero", field="duration")
    if length > MAX_DURATION:
        raise ValidationFailed(f"duration must be at most {MAX_DURATION.days}d", field="duration")
    if len(text) > 16:  # the column's width
        raise ValidationFailed("duration must be at most 16 characters", field="duration")
    return text


def seed_defaults(session: Session) -> int:
    """Write the built-in defaults as tier rows where none exist (the caller commits); returns rows added."""
    added = 0
    for tier, stages in DEFAULT_LIMITS.items():
        for stage, duration in stages.items():
            exists = session.execute(select(TimeLimit.id).where(
                TimeLimit.category_id.is_(None), TimeLimit.tier == tier, TimeLimit.stage == stage)).scalar()
            if exists is None:
                session.add(TimeLimit(category_id=None, tier=tier, stage=stage, duration=duration, clock="working"))
                added += 1
    session.flush()
    return added


@dataclass(frozen=True)
class EffectiveLimit:
    """The limit that applies to one stage of a tier (and category).

    ``source``: ``override`` (a row of the table; ``limit_id`` is its id), ``default`` (built in
    for the tier) or ``category_default`` (built in for an urgent category, e.g. 暴露垃圾).
    """

    tier: str
    stage: str
    duration: str
    clock: str
    source: str
    category_id: int | None = None
    category_code: str | None = None
    limit_id: int | None = None

    @property
    def override(self) -> bool:
        """True when a row of the table sets this limit (and can be removed)."""
        return self.source == "override"


Table = dict[tuple[int | None, str, str], TimeLimit]


def _tier_limit(table: Table, tier: str, stage: str) -> EffectiveLimit | None:
    """The tier's own row, else its built-in default (None for an unknown tier or stage)."""
    row = table.get((None, tier, stage))
    if row is not None:
        return EffectiveLimit(tier, stage, row.duration, row.clock, "override", limit_id=row.id)
    default = DEFAULT_LIMITS.get(tier, {}).get(stage)
    return EffectiveLimit(tier, stage, default, "working", "default") if default else None


def _category_limit(table: Table, cat: Category, tier: str, stage: str) -> EffectiveLimit | None:
    """The category's own row, else its built-in limit (urgent categories' handling), else None."""
    row = table.get((cat.id, tier, stage))
    if row is not None:
        return EffectiveLimit(tier, stage, row.duration, row.clock, "override", cat.id, cat.code, row.id)
    if stage == "handle" and cat.name in URGENT_CATEGORY_NAMES:
        return EffectiveLimit(tier, stage, URGENT_CATEGORY_NAMES[cat.name], "working", "category_default",
                              cat.id, cat.code)
    return None


def _category_by_code(session: Session, code: str, field: str = "category") -> Category:
    cat = session.execute(select(Category).where(Category.code == code)).scalar_one_or_none()
    if cat is None:
        raise ValidationFailed(f"no category with code {code!r}", field=field)
    return cat


def effective_limits(session: Session, category_code: str | None = None) -> list[EffectiveLimit]:
    """The limits in force, by tier then stage.

    Without ``category_code``: each tier's limit (its override row, else the built-in default),
    followed by every category-specific limit (override rows and built-in urgent categories);
    a category not listed for a tier and stage gets the tier's limit. With ``category_code``:
    the limit of every tier and stage for that category, each marked with where it comes from
    (``ValidationFailed`` naming ``category`` for an unknown code).
    """
    only = _category_by_code(session, category_code) if category_code else None
    rows = list(session.execute(select(TimeLimit)).scalars())
    table = {(r.category_id, r.tier, r.stage): r for r in rows}
    out: list[EffectiveLimit] = []
    if only is not None:
        for tier in TIERS:
            for stage in TIME_LIMIT_STAGES:
                found = _category_limit(table, only, tier, stage) or _tier_limit(table, tier, stage)
                assert found is not None  # every tier has a built-in default for every stage
                out.append(replace(found, category_id=only.id, category_code=only.code))
        return out
    out += [e for tier in TIERS for stage in TIME_LIMIT_STAGES if (e := _tier_limit(table, tier, stage))]
    cats = {r.category_id for r in rows if r.category_id is not None}
    urgent = session.execute(select(Category).where(Category.name.in_(URGENT_CATEGORY_NAMES))).scalars().all()
    for cat in sorted({*session.execute(select(Category).where(Category.id.in_(cats))).scalars(), *urgent},
                      key=lambda c: c.code):
        for tier in TIERS:
            for stage in TIME_LIMIT_STAGES:
                found = _category_limit(table, cat, tier, stage)
                if found is not None:
                    out.append(found)
    return out


def _row_view(row: TimeLimit, category_code: str | None) -> dict[str, Any]:
    return {"limit_id": row.id, "tier": row.tier, "stage": row.stage, "category_id": row.category_id,
            "category_code": category_code, "duration": row.duration, "clock": row.clock}


def set_override(session: Session, *, actor: Actor, tier: str, stage: str, duration: str, clock: str = "working",
                 category_code: str | None = None) -> EffectiveLimit:
    """Set the limit of a stage for a tier (or, with ``category_code``, for one category in that tier).

    Administrators only (the refusal is kept for audit); the change is ledgered (item type
    ``time_limits``) with the previous value, and applies to deadlines armed from then on.
    Bad input raises ``ValidationFailed`` naming ``tier``, ``stage``, ``clock``, ``duration`` or
    ``category``. Commits.
    """
    target = f"time limit {tier}/{category_code or '*'}/{stage}"
    with unit_of_work(session, what="time-limit table"):
        role = admin_role(actor, "set_time_limit", target, "the time-limit table")
        category = _category_by_code(session, category_code) if category_code else None
        category_id = category.id if category else None
        cond = TimeLimit.category_id.is_(None) if category_id is None else TimeLimit.category_id == category_id
        before = session.execute(
            select(TimeLimit).where(cond, TimeLimit.tier == tier, TimeLimit.stage == stage).with_for_update()
        ).scalar_one_or_none()
        previous = {"duration": before.duration, "clock": before.clock} if before is not None else None
        row = set_limit(session, tier=tier, stage=stage, duration=duration, clock=clock, category_id=category_id)
        _ledger(session, actor, role, "set_time_limit", {**_row_view(row, category_code), "previous": previous})
        result = EffectiveLimit(row.tier, row.stage, row.duration, row.clock, "override", category_id,
                                category_code, row.id)
    return result


def remove_override(session: Session, limit_id: int, *, actor: Actor) -> EffectiveLimit:
    """Delete one row of the table: the stage falls back to the tier's row or the built-in default.

    Administrators only (audited); ledgered with the removed value; ``NotFound`` for an unknown
    id. Returns the removed limit. Commits.
    """
    with unit_of_work(session, what="time-limit table"):
        role = admin_role(actor, "remove_time_limit", f"time limit {limit_id}", "the time-limit table")
        row = session.execute(select(TimeLimit).where(TimeLimit.id == limit_id).with_for_update()).scalar_one_or_none()
        if row is None:
            raise NotFound(f"time limit {limit_id} not found")
        code = session.get(Category, row.category_id).code if row.category_id else None  # type: ignore[union-attr]
        removed = EffectiveLimit(row.tier, row.stage, row.duration, row.clock, "override", row.category_id, code, row.id)
        _ledger(session, actor, role, "remove_time_limit", _row_view(row, code))
        session.delete(row)
        session.flush()
    return removed


def find_override(session: Session, tier: str, stage: str, category_code: str | None = None) -> TimeLimit | None:
    """The table's row for a tier, stage and (optional) category, if there is one."""
    cond = (TimeLimit.category_id.is_(None) if not category_code
            else TimeLimit.category_id == _category_by_code(session, category_code).id)
    return session.execute(
        select(TimeLimit).where(cond, TimeLimit.tier == tier, TimeLimit.stage == stage)).scalar_one_or_none()


def _ledger(session: Session, actor: Actor, role: str, trigger: str, payload: dict[str, Any]) -> None:
    # One chain for the whole table: two administrators saving at once collide on the chain's
    # sequence number, and the unit of work turns that into a Conflict (try again).
    ledger.append(session, item_type=LEDGER_ITEM_TYPE, item_id=0, trigger=trigger, actor=actor, role=role,
                  at=utcnow(), from_state=None, to_state=None, payload=payload)
    session.flush()


DURATION_HOOKS["case"] = case_duration_hook
settings_cache.watch(TimeLimit, Category)  # limit_for is cached
