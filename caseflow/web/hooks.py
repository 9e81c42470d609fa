"""Request hooks and template helpers of the console: CSRF, security headers, language, local time."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, jsonify, request, session
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError, CSRFProtect

from .guards import current_person, pages_for
from .i18n import current_language, format_duration, remember_language, t

csrf = CSRFProtect()

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
# The Swagger UI page (caseflow/api/docs.py) runs from files only; its stylesheet draws icons
# as data: SVG images, which is all it needs beyond the console's policy.
DOCS_CSP = CSP + "; img-src 'self' data:"


def _needs_csrf_check() -> bool:
    """Forms and cookie-authenticated API calls need the token; bearer-token API calls do not.

    A browser never attaches an ``Authorization: Bearer`` header on its own, so a request
    carrying one cannot be forged cross-site; external systems (110, sensors, hotline) use
    tokens. An API call that rides on the console's session cookie is checked like a form.
    """
    if request.method not in current_app.config.get("WTF_CSRF_METHODS", ("POST", "PUT", "PATCH", "DELETE")):
        return False
    if request.path.startswith("/open311/"):
        return False  # Open311 authenticates with its api_key parameter, never with the session cookie
    if request.path.startswith("/api/") or request.path == "/api":
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return False
        # Without a session there is nothing to forge; the API answers 401 itself.
        return bool(session.get("person_id"))
    return True


def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in the configured zone (Asia/Shanghai)."""
    if value is None:
        return ""
    if value.tzinfo is None:  # stored times are UTC; be lenient with naive ones
        value = value.replace(tzinfo=timezone.utc)
    zone = ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))
    return value.astimezone(zone).strftime(fmt)


def init_hooks(app: Flask) -> None:
    """Install CSRF protection, the security headers, the language switch and template helpers."""
    # We decide per request which calls need the token (see _needs_csrf_check).
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)

    @app.before_request
    def _csrf_and_language() -> None:
        if app.config.get("WTF_CSRF_ENABLED", True) and _needs_csrf_check():
            csrf.protect()
        remember_language()

    @app.after_request
    def _security_headers(response: Response) -> Response:
        docs = app.config.get("OPENAPI_URL_PREFIX", "/api").rstrip("/") + app.config.get(
            "OPENAPI_SWAGGER_UI_PATH", "/docs")
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP if request.path == docs else CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.errorhandler(CSRFError)
    def _csrf_failed(err: CSRFError) -> Any:
        # Name the problem: flask-smorest's generic handler would drop the reason.
        message = f"CSRF check failed: {err.description}"
        if request.path.startswith("/api/"):
            message += " (send the X-CSRFToken header, or use 'Authorization: Bearer <token>')"
            return jsonify({"code": 400, "status": "csrf_failed", "message": message, "errors": {}}), 400
        return message + " — reload the page and try again.", 400, {"Content-Type": "text/plain; charset=utf-8"}

    app.add_template_filter(localtime, "localtime")
    app.add_template_filter(format_duration, "duration")

    @app.context_processor
    def _helpers() -> dict[str, Any]:
        person = current_person()
        return {
            "t": t, "lang": current_language(), "me": person,
            "nav_pages": pages_for(person.roles) if person else [],
        }
