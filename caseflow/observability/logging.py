"""Structured logs and request ids.

``CASEFLOW_LOG_FORMAT=json`` turns every log record into one JSON object per line on stderr:
``ts`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, ``request_id``, ``actor``, ``item``
(and ``exc`` with the traceback when there is one). Any other value keeps the plain format.

Every request gets an id: the caller's ``X-Request-Id`` when it is sane (nginx sets one, see
deploy/nginx), else a fresh one; it is echoed in the response's ``X-Request-Id`` and stamped
on every record logged while the request runs. ``actor`` is the authenticated actor
(``person:12`` or ``client:hotline``) once the API or console has resolved it; ``item`` is the
``<kind> <id>`` from the URL (``case 12``), or what a caller passes as ``extra={"item": ...}``.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Flask, Response, g, has_request_context, request

HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# URL parameters that name a workflow item, and the kind each one names.
_ITEM_ARGS = {"case_id": "case", "instruction_id": "instruction", "item_id": None, "request_id": "return_request",
              "shift_id": "duty_shift", "handover_id": "handover"}
_MARK = "_caseflow_json_handler"


def new_request_id() -> str:
    """A fresh request id (32 hex digits)."""
    return uuid.uuid4().hex


def incoming_request_id(value: str | None) -> str:
    """The caller's id when it is safe to log and echo, else a new one."""
    if value and _SANE_ID.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    """The id of the request being served, if any."""
    if has_request_context():
        return g.get("request_id")
    return None


def _actor_label() -> str | None:
    actor = request.environ.get("caseflow.actor")
    if actor is None:
        person = request.environ.get("caseflow.console_person")
        return f"person:{person.id}" if person is not None else None
    if actor.person_id is not None:
        return f"person:{actor.person_id}"
    return f"client:{actor.client}"


def _item_label() -> str | None:
    args = request.view_args or {}
    for name, kind in _ITEM_ARGS.items():
        if name in args:
            kind = kind or args.get("item_type") or "item"
            return f"{kind} {args[name]}"
    return None


class ContextFilter(logging.Filter):
    """Stamp request id, actor and item on each record (from the request, unless given)."""

    def filter(self, record: logging.LogRecord) -> bool:
        in_request = has_request_context()
        if not getattr(record, "request_id", None):
            record.request_id = g.get("request_id") if in_request else None
        if not getattr(record, "actor", None):
            record.actor = _actor_label() if in_request else None
        if not getattr(record, "item", None):
            record.item = _item_label() if in_request else None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "actor": getattr(record, "actor", None),
            "item": getattr(record, "item", None),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def json_handler(stream: Any = None) -> logging.Handler:
    """A stderr handler with the context filter and the JSON formatter."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    setattr(handler, _MARK, True)
    return handler


def configure_json_logging(level: str | int = "INFO", stream: Any = None) -> logging.Handler:
    """Make the root logger write JSON lines (idempotent: one handler however often called)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            return handler
    handler = json_handler(stream)
    # Replace plain handlers (basicConfig's): two formats on one stream cannot be parsed.
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Flask's own handler on the app logger would print the plain format as well.
    logging.getLogger("transitions").setLevel(logging.WARNING)
    return handler


def init_logging(app: Flask) -> None:
    """Request-id middleware; JSON logs when ``LOG_FORMAT`` is ``json``."""
    if str(app.config.get("LOG_FORMAT", "")).lower() == "json":
        configure_json_logging(app.config.get("LOG_LEVEL", "INFO"))
        from flask.logging import default_handler

        app.logger.removeHandler(default_handler)

    def _request_id() -> None:
        g.request_id = incoming_request_id(request.headers.get(HEADER))

    # First of all hooks: a request refused by an earlier hook (CSRF) still gets its id.
    app.before_request_funcs.setdefault(None, []).insert(0, _request_id)

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            response.headers[HEADER] = rid
        return response
