"""The web console (server-rendered pages)."""
from __future__ import annotations

from flask import Flask


def init_web(app: Flask) -> None:
    """Register the console's blueprints."""
    from .views import bp

    app.register_blueprint(bp)
