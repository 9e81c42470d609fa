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


def _register_blueprints(app: Flask) -> None:
    """API and console; each package registers its own blueprints."""
    from .api import init_api
    from .web import init_web

    init_api(app)
    init_web(app)
