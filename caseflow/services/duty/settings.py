"""Duty-watch settings with their defaults (no app context: the defaults)."""
from __future__ import annotations

from datetime import time
from typing import Any

DEFAULTS: dict[str, Any] = {
    "DUTY_SHIFT_START": "08:30",
    "DUTY_MIN_STAFF": 2,
    "DUTY_MIN_STAFF_EMERGENCY": 4,
    "DUTY_MIN_STAFF_HOLIDAY": 3,
    "DUTY_MIN_STAFF_SPECIAL": 3,
    "DUTY_HOLIDAY_LEADER": True,
    "DUTY_SPECIAL_LEADER": True,
    "HANDOVER_GRACE_MIN": 30,
    "HANDOVER_REMINDER_MIN": 30,
    "ROLL_CALL_ANSWER_MIN": 5,
    "DUTY_GAP_DAYS_AHEAD": 3,
    "TIMEZONE": "Asia/Shanghai",
}


def setting(name: str) -> Any:
    """The configured value of ``name``, else its default."""
    from flask import current_app, has_app_context

    if has_app_context() and current_app.config.get(name) not in (None, ""):
        return current_app.config[name]
    return DEFAULTS[name]


def int_setting(name: str) -> int:
    """An integer setting (environment overrides arrive as strings)."""
    return int(setting(name))


def bool_setting(name: str) -> bool:
    """A yes/no setting (an environment override may arrive as ``"false"``, ``"0"``, ``"off"``)."""
    value = setting(name)
    if isinstance(value, str):
        return value.strip().lower() not in ("0", "false", "no", "off", "")
    return bool(value)


def shift_start() -> time:
    """The local clock time shifts start (08:30 by default)."""
    hh, mm = str(setting("DUTY_SHIFT_START")).split(":")
    return time(int(hh), int(mm))
