"""Case settings, read from the app config with defaults that work without it."""
from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, Any] = {
    "DUPLICATE_RADIUS_M": 50.0,  # same category within this distance ...
    "DUPLICATE_WINDOW_H": 24.0,  # ... and this many hours is a duplicate candidate
    "CALLBACK_REOPEN_DAYS": 7,  # an unsatisfied callback within this many days of closing reopens
}


def setting(name: str) -> Any:
    """``app.config[name]`` when an app is active and sets it, else the default here."""
    from flask import current_app, has_app_context

    if has_app_context() and name in current_app.config:
        return current_app.config[name]
    return DEFAULTS[name]
