"""Bind flask-smorest to the app and map domain errors to the one error format."""
from __future__ import annotations

from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api

from caseflow.errors import DomainError

def init_api(app: Flask) -> Api:
    """Create the app's Api, register the blueprints and the error handler."""
    api = Api(app, spec_kwargs={"info": {"description": "caseflow REST API"}})
    app.extensions["caseflow.api"] = api
    from .health import blp as health_blp
    from .items import blp as items_blp
    from .workflows import blp as workflows_blp

    for blp in (health_blp, items_blp, workflows_blp):
        api.register_blueprint(blp)
    for extra in _optional_blueprints():
        api.register_blueprint(extra)

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError) -> Any:
        return jsonify(err.to_dict()), err.status

    return api


def _optional_blueprints() -> list[Any]:
    """Blueprints of capabilities that register themselves in ``caseflow.api.BLUEPRINTS``."""
    from . import registry

    return registry.load()
