"""Whether a center is in emergency mode (平急转换), which switches escalation chains to their
``emergency_steps``.

Two switches; either one turns emergency mode on:

1. an ``EmergencyPeriod`` of the center declared from the duty watch and not yet ended;
2. the ``EMERGENCY_MODE`` setting (``CASEFLOW_EMERGENCY_MODE``), for drills and for a
   deployment that has to force it:

* empty / ``0`` / ``false`` / ``off`` (default): normal mode everywhere;
* ``1`` / ``true`` / ``on`` / ``all``: every center is in emergency mode;
* a comma-separated list of center ids or center codes (``"3,S01"``): those centers only.

Callers (the escalation chain start) only ever ask :func:`emergency_active`.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import Center, EmergencyPeriod

_ON = {"1", "true", "yes", "on", "all", "*"}
_OFF = {"", "0", "false", "no", "off", "none"}


def _setting() -> Any:
    from flask import current_app, has_app_context

    return current_app.config.get("EMERGENCY_MODE") if has_app_context() else None


def _tokens(value: Any) -> list[str]:
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, Iterable):
        return [str(t).strip() for t in value if str(t).strip()]
    return [str(value)]


def emergency_active(session: Session, center_id: int | None) -> bool:
    """True when ``center_id`` (None: the item has no center) is in emergency mode now.

    A declared, not yet ended emergency period of the center counts, as does the
    ``EMERGENCY_MODE`` setting described in the module docstring (a list of centers there
    is matched by id or by ``Center.code``). An item without a center is in emergency mode
    only when the setting covers every center.
    """
    if center_id is not None and _declared_period(session, center_id):
        return True
    value = _setting()
    if value is None or value is False:
        return False
    if value is True:
        return True
    tokens = _tokens(value)
    lowered = {t.lower() for t in tokens}
    if not tokens or lowered <= _OFF:
        return False
    if lowered & _ON:
        return True
    if center_id is None:
        return False
    if str(center_id) in tokens:
        return True
    code = session.execute(select(Center.code).where(Center.id == center_id)).scalar_one_or_none()
    return code is not None and code in tokens


def _declared_period(session: Session, center_id: int) -> bool:
    """An emergency period declared from the duty watch and not yet ended (duty-watch issue)."""
    return session.execute(
        select(EmergencyPeriod.id).where(
            EmergencyPeriod.center_id == center_id, EmergencyPeriod.ended_at.is_(None)
        ).limit(1)
    ).first() is not None
