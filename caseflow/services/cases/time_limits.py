"""Time limits (处置时限) per category and tier: sign, handle, check, on the working clock.

Lookup order for a case's deadline: the category's own row, the tier's default row (category
NULL), then the built-in defaults below, then the workflow YAML. The table drives the deadline
engine through ``caseflow.deadlines.clock.DURATION_HOOKS``.

Defaults follow common practice (数字城管 GB/T 30428, 12345 rules): sign within 1 working
hour; handle in 1 working day for a general case, 4 working hours for exposed garbage
(暴露垃圾) and on-the-spot cases; check within 4 working hours.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.deadlines.clock import DURATION_HOOKS
from caseflow.errors import ValidationFailed
from caseflow.models import TIERS, Case, Category, TimeLimit
from caseflow.models.case_parts import TIME_LIMIT_CLOCKS, TIME_LIMIT_STAGES
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


def stage_of(deadline_key: str) -> str | None:
    """The time-limit stage a workflow deadline id stands for (``sign``, ``handle``, ``check``)."""
    return deadline_key if deadline_key in TIME_LIMIT_STAGES else None


def limit_for(session: Session, category_id: int | None, tier: str, stage: str) -> tuple[str, str] | None:
    """``(duration, clock)`` for a stage of a tier and category, or None (use the workflow's own)."""
    rows = session.execute(
        select(TimeLimit.category_id, TimeLimit.duration, TimeLimit.clock).where(
            TimeLimit.tier == tier, TimeLimit.stage == stage,
            (TimeLimit.category_id.is_(None)) | (TimeLimit.category_id == category_id),
        )
    ).all()
    by_cat = {r.category_id: (r.duration, r.clock) for r in rows}
    if category_id is not None and category_id in by_cat:
        return by_cat[category_id]
    if category_id is not None and stage == "handle":
        name = session.execute(select(Category.name).where(Category.id == category_id)).scalar()
        if name in URGENT_CATEGORY_NAMES:
            return URGENT_CATEGORY_NAMES[name], "working"
    if None in by_cat:
        return by_cat[None]
    default = DEFAULT_LIMITS.get(tier, {}).get(stage)
    return (default, "working") if default else None


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
    try:
        if parse_duration(duration).total_seconds() <= 0:
            raise ValueError("not positive")
    except (ValueError, TypeError):
        raise ValidationFailed("duration must look like 4h, 1d or 30m", field="duration") from None
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


DURATION_HOOKS["case"] = case_duration_hook
