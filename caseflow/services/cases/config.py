"""Case settings, read from the app config with defaults that work without it."""
from __future__ import annotations

from typing import Any

from caseflow.config import DefaultConfig

# The defaults (and what each means) are in caseflow/config.py; kept here for code that runs
# without an app (scripts, unit tests).
DEFAULTS: dict[str, Any] = {name: getattr(DefaultConfig, name)
                            for name in ("DUPLICATE_RADIUS_M", "DUPLICATE_WINDOW_H", "CALLBACK_REOPEN_DAYS")}


def setting(name: str) -> Any:
    """``app.config[name]`` when an app is active and sets it, else the default here."""
    from flask import current_app, has_app_context

    if has_app_context() and name in current_app.config:
        return current_app.config[name]
    return DEFAULTS[name]
