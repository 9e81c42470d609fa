"""Intake (发现上报): a report from any channel becomes a case on its tier's workflow.

Idempotent on ``(channel, external_ref)``: a hotline ticket or sensor event sent twice makes
one case. The key lives on the :class:`CaseReporter` row (unique constraint), so it keeps
pointing at the case the report ended up in, also after a duplicate is merged.
"""
from __future__ import annotations

import math
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case as sa_case
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.errors import Conflict, ValidationFailed
from caseflow.models import CHANNELS, TIERS, Case, CaseNumberCounter, CaseReporter, Category, Grid, utcnow
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.active_records import active_responsible, require_active, usable_grid
from caseflow.services.unit_of_work import is_lock_conflict
from caseflow.workflow.engine import WorkflowCatalog

from . import duplicates
from .urgent import command_urgent

NUMBER_PREFIX = "C"
_MAX_ATTEMPTS = 5
_REPORTER_FIELDS = ("name", "phone", "device_id")


def workflow_for(tier: str) -> str:
    """The workflow that drives cases of ``tier``."""
    return f"case_{tier}"


def _tz() -> ZoneInfo:
    from flask import current_app, has_app_context

    return ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai")


def _prefix(at: datetime) -> str:
    return f"{NUMBER_PREFIX}{at.astimezone(_tz()):%Y%m%d}"


def _highest_seq(session: Session, prefix: str) -> int:
    """The highest sequence among existing case numbers under ``prefix`` (0 if none)."""
    last = session.execute(
        select(func.max(Case.number)).where(Case.number.like(f"{prefix}%"))
    ).scalar()
    return int(last[len(prefix):]) if last and last[len(prefix):].isdigit() else 0


def _upsert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return pg_insert
    if name == "sqlite":
        return sqlite_insert
    raise NotImplementedError(f"case numbering needs INSERT ... ON CONFLICT; {name} is not supported")


def next_number(session: Session, at: datetime, *, resync: bool = False) -> str:
    """``C`` + local date + a 5-digit sequence of that day, drawn from the day's counter row.

    Runs inside the caller's transaction: the counter row stays locked until it commits, so
    concurrent intakes take turns and never draw the same number; a rollback gives the number
    back. The first number of a day seeds the row from the highest existing case number (a
    database upgraded mid-day keeps counting). ``resync`` also lifts the counter past numbers
    made without it (a process still running the old ``max + 1`` code during a deploy).
    """
    prefix = _prefix(at)
    counter = CaseNumberCounter.__table__
    if not resync:
        # The common case, one statement: the day's row exists.
        seq = session.execute(_NEXT_SEQ, {"n_prefix": prefix}).scalar()
        if seq is not None:
            return f"{prefix}{seq:05d}"
    floor = _highest_seq(session, prefix) + 1
    stmt = _upsert(session)(counter).values(prefix=prefix, last_seq=floor)
    # Two first intakes of a day both insert: the second waits for the first to commit and
    # then increments its row instead.
    bumped = counter.c.last_seq + 1
    stmt = stmt.on_conflict_do_update(
        index_elements=[counter.c.prefix],
        set_={"last_seq": sa_case((bumped >= stmt.excluded.last_seq, bumped), else_=stmt.excluded.last_seq)},
    ).returning(counter.c.last_seq)
    seq = session.execute(stmt).scalar_one()
    return f"{prefix}{seq:05d}"


# The statements every intake runs, built once with bound parameters (the same SQL as building
# them per call, without building each statement and its cache key anew).
_COUNTER = CaseNumberCounter.__table__
_NEXT_SEQ = (update(_COUNTER).where(_COUNTER.c.prefix == bindparam("n_prefix"))
             .values(last_seq=_COUNTER.c.last_seq + 1).returning(_COUNTER.c.last_seq))
_BY_REF = select(CaseReporter.case_id).where(CaseReporter.channel == bindparam("r_channel"),
                                             CaseReporter.external_ref == bindparam("r_external_ref"))
_CATEGORY_BY_CODE = select(Category).where(Category.code == bindparam("c_code"))


def find_by_ref(session: Session, channel: str, external_ref: str) -> Case | None:
    """The case a report with this channel and outside reference ended up in, if any."""
    case_id = session.execute(_BY_REF, {"r_channel": channel, "r_external_ref": external_ref}).scalar()
    return session.get(Case, case_id) if case_id is not None else None


def _coordinate(value: float | None, name: str, limit: float) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{name} must be a number", field=name) from None
    if not math.isfinite(number) or not -limit <= number <= limit:
        raise ValidationFailed(f"{name} must be between -{limit:g} and {limit:g}", field=name)
    return number


def _category(session: Session, category_id: int | None, category_code: str | None) -> Category | None:
    """The report's category, which must exist and be active (a deactivated one takes no new case)."""
    if category_id is not None:
        cat = session.get(Category, category_id)
        if cat is None:
            raise ValidationFailed(f"category {category_id} does not exist", field="category_id")
        return require_active(cat, "category_id")
    if category_code:
        cat = session.execute(_CATEGORY_BY_CODE, {"c_code": category_code}).scalar_one_or_none()
        if cat is None:
            raise ValidationFailed(f"unknown category code {category_code!r}", field="category_code")
        return require_active(cat, "category_code")
    return None


def start_role(actor: Actor) -> str:
    """The role the intake is recorded under: the machine client's kind or the person's role."""
    if actor.client:
        return actor.client
    for role in ("dispatcher", "handler", "liaison", "duty_officer", "duty_lead", "leader", "admin"):
        if role in actor.roles:
            return role
    return "reporter"


def _reporter_row(channel: str, external_ref: str | None, actor: Actor,
                  reporter: dict[str, Any] | None) -> CaseReporter:
    info = dict(reporter or {})
    evidence = info.pop("evidence_refs", None) or []
    if not isinstance(evidence, list):
        raise ValidationFailed("evidence_refs must be a list", field="reporter.evidence_refs")
    fields = {k: str(info.pop(k) or "")[:120] for k in _REPORTER_FIELDS if k in info}
    return CaseReporter(
        channel=channel, external_ref=external_ref, person_id=actor.person_id, client=actor.client,
        contact={k: v for k, v in info.items() if isinstance(v, (str, int, float, bool)) or v is None},
        evidence_refs=list(evidence), **fields,
    )


def report(
    session: Session,
    catalog: WorkflowCatalog,
    *,
    channel: str,
    actor: Actor,
    title: str,
    description: str = "",
    category_id: int | None = None,
    category_code: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    address: str = "",
    external_ref: str | None = None,
    reporter: dict | None = None,
    grid_id: int | None = None,
    urgent: bool = False,
    extra_data: dict[str, Any] | None = None,
) -> tuple[Case, bool]:
    """Create a case from a report and commit; returns ``(case, created)``.

    The tier is the category's default tier and the workflow ``case_<tier>``. A report whose
    ``(channel, external_ref)`` was seen before returns ``(that case, False)`` and writes
    nothing. Duplicate candidates (same category, near, recent) are flagged in
    ``case.data['duplicate_candidates']``. Urgent cases notify at once through the outbox.
    ``extra_data`` (a channel's own answers) goes into ``case.data`` in the same transaction.
    Raises ``ValidationFailed`` naming the field.
    """
    if channel not in CHANNELS:
        raise ValidationFailed(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
    title = (title or "").strip()
    if not title:
        raise ValidationFailed("title is required", field="title")
    if len(title) > 200:
        raise ValidationFailed("title is longer than 200 characters", field="title")
    if len(address or "") > 200:
        raise ValidationFailed("address is longer than 200 characters", field="address")
    external_ref = (str(external_ref).strip() or None) if external_ref is not None else None
    if external_ref is not None and len(external_ref) > 80:
        raise ValidationFailed("external_ref is longer than 80 characters", field="external_ref")
    lat = _coordinate(lat, "lat", 90.0)
    lon = _coordinate(lon, "lon", 180.0)
    if (lat is None) != (lon is None):
        raise ValidationFailed("lat and lon go together", field="lon" if lon is None else "lat")

    resync = False
    for attempt in range(_MAX_ATTEMPTS):
        if external_ref is not None:
            existing = find_by_ref(session, channel, external_ref)
            if existing is not None:
                return existing, False
        category = _category(session, category_id, category_code)
        grid = session.get(Grid, grid_id) if grid_id is not None else None
        if grid_id is not None and grid is None:
            raise ValidationFailed(f"grid {grid_id} does not exist", field="grid_id")
        if grid is not None:
            usable_grid(grid, "grid_id")
        tier = category.default_tier if category is not None and category.default_tier in TIERS else "general"
        now = utcnow()
        case = Case(
            number=next_number(session, now, resync=resync), channel=channel, external_ref=external_ref, tier=tier,
            urgent=bool(urgent), category_id=category.id if category else None,
            center_id=(grid.center_id if grid else None) or actor.center_id, grid_id=grid.id if grid else None,
            area_kind=grid.area.kind if grid else "main_urban",
            # A simple case stays with the patrol that found it (or the category's department).
            department_id=_simple_holder(actor, category, "category_id" if category_id is not None
                                         else "category_code") if tier == "simple" else None,
            reporter_id=actor.person_id, title=title, description=description or "", address=address or "",
            lat=lat, lon=lon, reported_at=now, data={},
        )
        effects = Effects()
        try:
            transition.start(session, catalog, case, workflow=workflow_for(tier), actor=actor,
                             role=start_role(actor), trigger="report", effects=effects, commit=False, insert_now=True,
                             payload={"channel": channel, "external_ref": external_ref, "tier": tier,
                                      "urgent": bool(urgent), "number": case.number})
            # The workflow and version a case started on; a tier change appends to tier_history.
            case.data = {**(extra_data or {}),
                         "started_on": {"workflow": case.workflow, "version": case.workflow_version, "tier": tier}}
            row = _reporter_row(channel, external_ref, actor, reporter)
            row.case_id = case.id
            row.reported_at = now
            session.add(row)
            candidates = duplicates.find_candidates(session, case)
            if candidates:
                case.data = {**case.data, "duplicate_candidates": candidates}
            if case.urgent:
                command_urgent(session, case, effects)
            session.flush()
            session.commit()
        except (IntegrityError, OperationalError) as exc:
            # Another request took the (channel, external_ref) key first (the next attempt finds
            # its case), a number was made without the counter (resync past it), or SQLite
            # refused a write on a stale snapshot.
            session.rollback()
            effects.discard()
            if isinstance(exc, OperationalError) and not is_lock_conflict(exc):
                raise
            if attempt == _MAX_ATTEMPTS - 1:
                raise Conflict("the case could not be numbered while other reports were filed; try again") from exc
            resync = isinstance(exc, IntegrityError)
            continue
        except BaseException:
            session.rollback()
            effects.discard()
            raise
        effects.dispatch()
        return case, True
    raise AssertionError("unreachable")  # pragma: no cover


def _simple_holder(actor: Actor, category: Category | None, field: str) -> int | None:
    if "handler" in actor.roles and actor.department_id:
        return actor.department_id
    # Held by the category's department: refused when it is deactivated, never routed there silently.
    dept = active_responsible(category, field) if category is not None else None
    return dept.id if dept is not None else None
