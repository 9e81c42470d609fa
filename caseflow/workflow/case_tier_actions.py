"""Actions that belong to one case tier: the simple tier's site photo and the difficult tier's
hand-over to the district center.

They run inside the transition (every way of firing it: the case API, the console, the generic
transition endpoint, the return-limit escalation), touch only the session and the effects, and
raise ``ValidationFailed`` naming the field, so the transition then writes nothing.
"""
from __future__ import annotations

from caseflow.models import Case

from .context import TransitionContext
from .registry import action


def _lang() -> str:
    from flask import current_app, has_app_context

    return str(current_app.config.get("LANGUAGE", "zh")) if has_app_context() else "zh"


@action("require_site_photo")
def require_site_photo(item: object, ctx: TransitionContext) -> None:
    """A simple case's result names at least one photo uploaded to the case during this visit."""
    from caseflow.services.cases.site_photo import require_site_photos

    assert isinstance(item, Case)
    photos = require_site_photos(ctx.session, item, ctx.data.get("evidence_refs"), item.state_entered_at)
    ctx.ledger_extra["site_photos"] = [{"id": p.id, "sha256": p.sha256} for p in photos]


@action("assign_district_center")
def assign_district_center(item: object, ctx: TransitionContext) -> None:
    """The district center holds the escalated case and its people are told (outbox, after commit)."""
    from caseflow.services.cases.district import hand_to_district

    assert isinstance(item, Case)
    done = hand_to_district(ctx.session, item, reason=str(ctx.data.get("reason") or ""),
                            by={"by": ctx.actor.person_id, "by_name": ctx.actor.name, "role": ctx.role},
                            now=ctx.now, effects=ctx.effects, lang=_lang())
    ctx.ledger_extra.update(done.ledger())
