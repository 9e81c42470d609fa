"""The case time-limit table in the console (处置时限表, /admin/time-limits).

``GET /admin/time-limits[?category=CODE]`` shows the limits in force (tier, stage, category,
duration, clock, and where each comes from: the built-in default, the tier's override, a
category's override or the built-in limit of an urgent category); with ``category``, every tier
and stage as that category gets it. Administrators and dispatchers read it (the API lets any
signed-in person read the table; dispatchers grade cases by it); only administrators get the forms.

``POST /admin/time-limits/set`` sets the limit of a stage for a tier (or one category in it);
``POST /admin/time-limits/<id>/remove`` drops an override ("恢复默认"). Both come back to the
page with the category filter the form was on.

The page only translates: :mod:`caseflow.services.cases.time_limits` checks the administrator,
changes, ledgers and commits (as for ``/api/time-limits`` and ``caseflow time-limits``).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import NotFound, ValidationFailed
from caseflow.extensions import db
from caseflow.models import TIERS, Category, TimeLimit
from caseflow.models.case_parts import TIME_LIMIT_CLOCKS, TIME_LIMIT_STAGES
from caseflow.services.cases import time_limits as svc

from .console_forms import attempt, choice
from .guards import ADMIN_ROLES, TIME_LIMIT_ROLES, current_person, login_required
from .i18n import t
from .work import me

bp = Blueprint("time_limits_admin", __name__, url_prefix="/admin/time-limits")

# What a refusal names, in the page's words (the service names the category ``category``).
LABELS = {"tier": "tl.tier", "stage": "tl.stage", "duration": "tl.duration", "clock": "tl.clock",
          "category": "tl.category", "category_id": "tl.category"}


def _labels() -> dict[str, str]:
    return {name: t(key) for name, key in LABELS.items()}


@dataclass(frozen=True)
class LimitRow:
    """One limit in force as the page shows it."""

    limit: svc.EffectiveLimit
    # tier_override / category_override / default / category_default
    source: str
    category: Category | None

    @property
    def removable(self) -> bool:
        """A row of the table (either kind of override): "恢复默认" deletes it."""
        return self.limit.override


def _categories() -> list[Category]:
    return list(db.session.execute(select(Category).order_by(Category.code)).scalars())


def _category_code(raw: str | None, categories: list[Category]) -> str | None:
    """A known category's code, else None (every category): a stale link shows the whole table."""
    return raw if raw and raw in {c.code for c in categories} else None


def _source(limit: svc.EffectiveLimit, row_category: dict[int, int | None]) -> str:
    """Where a limit comes from, telling a tier's override from a category's.

    The row's own category decides, not ``limit.category_id``: filtered by category, the service
    marks every limit with that category, the tier's overrides included.
    """
    if limit.source != "override":
        return limit.source
    return "category_override" if row_category.get(limit.limit_id or 0) is not None else "tier_override"


def _rows(limits: list[svc.EffectiveLimit], categories: list[Category]) -> list[LimitRow]:
    by_id = {c.id: c for c in categories}
    pairs = db.session.execute(select(TimeLimit.id, TimeLimit.category_id))
    row_category: dict[int, int | None] = {limit_id: category_id for limit_id, category_id in pairs}
    return [LimitRow(e, _source(e, row_category), by_id.get(e.category_id) if e.category_id else None)
            for e in limits]


def _may_change() -> bool:
    """Whether the signed-in person gets the forms (the POST routes let only them in)."""
    person = current_person()
    return bool(person and person.roles & ADMIN_ROLES)


@bp.get("")
@login_required(roles=TIME_LIMIT_ROLES)
def page() -> str:
    """The limits in force (optionally as one category gets them) and, for administrators, the forms."""
    categories = _categories()
    code = _category_code(request.args.get("category"), categories)
    rows = _rows(svc.effective_limits(db.session(), code), categories)
    offered = [c for c in categories if c.active or c.code == code]
    html = render_template("admin/time_limits.html", rows=rows, category=code, categories=offered,
                           tiers=TIERS, stages=TIME_LIMIT_STAGES, clocks=TIME_LIMIT_CLOCKS,
                           may_change=_may_change(), max_days=svc.MAX_DURATION.days)
    db.session.rollback()  # read only (after rendering: the rows' categories stay loaded)
    return html


def _back() -> Response:
    """To the page, with the category filter the form was on."""
    view_category = (request.form.get("view_category") or "").strip() or None
    return redirect(url_for("time_limits_admin.page", category=view_category))


def _in_page_words(call: Callable[[], Any]) -> Callable[[], Any]:
    """The service's English refusals of a typed duration or an unknown category, and an override
    removed meanwhile (the shared message speaks of a case), in the page's words."""

    def wrapped() -> Any:
        try:
            return call()
        except NotFound as exc:
            raise ValidationFailed(t("tl.error.gone")) from exc
        except ValidationFailed as exc:
            if exc.field == "duration":
                raise ValidationFailed(t("tl.error.duration", days=svc.MAX_DURATION.days), field="duration") from exc
            if exc.field in ("category", "category_id"):
                raise ValidationFailed(t("tl.error.category"), field="category") from exc
            raise

    return wrapped


@bp.post("/set")
@login_required(roles=ADMIN_ROLES)
def set_limit() -> Response:
    """Set (create or change) the limit of a stage for a tier, or for one category in that tier."""
    _, actor = me()

    def call() -> Any:
        tier = choice("tier", TIERS)
        stage = choice("stage", TIME_LIMIT_STAGES)
        clock = choice("clock", TIME_LIMIT_CLOCKS)
        duration = (request.form.get("duration") or "").strip()
        if not duration:
            raise ValidationFailed(t("form.required"), field="duration")
        category = (request.form.get("category") or "").strip() or None
        return svc.set_override(db.session(), actor=actor, tier=tier, stage=stage, duration=duration,
                                clock=clock, category_code=category)

    attempt(_in_page_words(call), t("tl.done.set"), _labels())
    return _back()


@bp.post("/<int:limit_id>/remove")
@login_required(roles=ADMIN_ROLES)
def remove_limit(limit_id: int) -> Response:
    """Drop an override: the stage falls back to the tier's limit or the built-in default."""
    _, actor = me()
    attempt(_in_page_words(lambda: svc.remove_override(db.session(), limit_id, actor=actor)), t("tl.done.remove"),
            _labels())
    return _back()
