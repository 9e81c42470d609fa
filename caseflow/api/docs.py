"""Swagger UI at ``/api/docs``, served entirely by the app (no CDN: sites have no internet).

The assets come from the ``swagger-ui-bundle`` package; the page starts the UI from a static
script (``web/static/swagger-init.js``) that reads the spec URL from a ``data-`` attribute, so
the docs page runs under a CSP without ``'unsafe-inline'`` scripts.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/api/docs/assets/"
# Only what the page loads (and the favicons): nothing else of the package is served.
ASSETS = frozenset({"swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
                    "favicon-16x16.png", "favicon-32x32.png"})

bp = Blueprint("api_docs_assets", __name__)


@bp.get(ASSETS_URL + "<string:filename>")
def asset(filename: str) -> Response:
    """One Swagger UI file from the installed ``swagger-ui-bundle``; 404 for anything else."""
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(str(swagger_ui_path), filename, max_age=24 * 3600)


def render_page(title: str, spec_url: str, config: dict[str, Any]) -> str:
    """The Swagger UI page for the spec at ``spec_url``; ``config`` (OPENAPI_SWAGGER_UI_CONFIG) is
    passed to SwaggerUIBundle as JSON in a data attribute."""
    return render_template("api_docs/swagger_ui.html", title=title, spec_url=spec_url, config=config)
