"""caseflow: cases, emergency instructions and the duty watch for urban operations centers."""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from .config import DefaultConfig

__version__ = "0.1.0"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask app: configuration, database, workflows, API and console.

    Order of configuration: defaults, then ``CASEFLOW_*`` environment variables, then
    ``config`` (tests). No connection is opened here; Redis starts on first use.
    """
    app = Flask(__name__, instance_path=os.environ.get("CASEFLOW_INSTANCE_PATH") or None,
                instance_relative_config=True)
    app.config.from_object(DefaultConfig)
    app.config.from_prefixed_env("CASEFLOW")
    if config:
        app.config.update(config)
    _trust_proxies(app)
    from .services.instruction_sign_alarm import check_settings

    check_settings(app.config)  # a bad alarm delay stops the start, not the first instruction
    from .services import routing

    routing.check_settings(app.config)  # likewise a bad weekend/holiday routing setting

    from .extensions import db
    from .workflow.engine import catalog_for
    from .workflow.registry import load_callbacks

    load_callbacks()
    # Refuse to start on an invalid definition (WorkflowDefinitionError propagates), before
    # anything is bound or opened.
    app.extensions["caseflow.workflows"] = catalog_for(app.config.get("WORKFLOWS_DIR") or None)
    db.init_app(app)

    _register_blueprints(app)
    from .observability import init_observability

    init_observability(app)
    from .cli import register_cli

    register_cli(app)
    logging.getLogger("caseflow").setLevel(app.config.get("LOG_LEVEL", "INFO"))
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``PROXY_FIX_HOPS`` reverse proxies, take the client's address, scheme, host and
    prefix from their X-Forwarded-* headers (werkzeug's ProxyFix); with 0, trust none."""
    raw = app.config.get("PROXY_FIX_HOPS") or 0
    try:
        hops = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"PROXY_FIX_HOPS must be a whole number of proxies, not {raw!r}") from None
    if hops < 0:
        raise ValueError(f"PROXY_FIX_HOPS must be 0 or more, not {hops}")
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops,  # type: ignore[method-assign]
                                x_prefix=hops)


def _register_blueprints(app: Flask) -> None:
    """API and console; each package registers its own blueprints."""
    from .api import init_api
    from .web import init_web

    init_api(app)
    init_web(app)
