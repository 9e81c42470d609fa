"""How long an emergency instruction may stay unsigned before the alarm: a setting, not only YAML.

The instruction workflow declares ``{id: sign, after: 5m, on_expiry: {escalation: unsigned}}``
on ``received``. ``INSTRUCTION_SIGN_ALARM_AFTER`` (``CASEFLOW_INSTRUCTION_SIGN_ALARM_AFTER``;
default ``5m``) replaces that ``after`` for every version of the workflow, on the deadline's own
clock (the wall clock), through the deadline engine's duration hook. Empty means: the YAML's
value. It applies to instructions received from then on; a deadline already armed keeps its
due time. The app refuses to start with a value that is not a positive duration.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from caseflow.deadlines.clock import DURATION_HOOKS
from caseflow.workflow.definition import DeadlineSpec
from caseflow.worktime import parse_duration

SETTING = "INSTRUCTION_SIGN_ALARM_AFTER"
DEADLINE_ID = "sign"


def check_settings(config: Mapping[str, Any]) -> None:
    """Refuse (``ValueError`` naming the setting) a value that is not a positive duration."""
    value = config.get(SETTING)
    if value in (None, ""):
        return
    try:
        positive = parse_duration(str(value).strip()).total_seconds() > 0
    except ValueError:
        positive = False
    if not positive:
        raise ValueError(f"{SETTING} must be a positive duration such as 5m, 90s or 1h30m, not {value!r}")


def sign_alarm_after() -> str | None:
    """The configured duration text, or None when unset (outside an app, or empty)."""
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    value = current_app.config.get(SETTING)
    return str(value).strip() if value not in (None, "") else None


def instruction_duration_hook(session: Session, spec: DeadlineSpec, item: object) -> tuple[str, str] | None:
    """The deadline-engine hook: the ``sign`` deadline of an instruction lasts the configured time."""
    if spec.id != DEADLINE_ID:
        return None
    after = sign_alarm_after()
    return (after, spec.clock) if after else None


DURATION_HOOKS["instruction"] = instruction_duration_hook
