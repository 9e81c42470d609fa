"""Bind flask-smorest to the app and map domain errors to the one error format."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from flask_smorest import Api
from flask_smorest.spec.plugins import integerconverter2paramschema
from sqlalchemy.exc import DataError

from caseflow.errors import DomainError, ValidationFailed
from caseflow.extensions import db

from .openapi import SECURITY_SCHEME, CommonErrorsPlugin, IdConverter
from .pagination import DESCRIPTION as PAGING_DESCRIPTION
from .schemas import ErrorSchema

log = logging.getLogger("caseflow.api")

API_DESCRIPTION = "\n\n".join([
    "caseflow REST API. Authenticate with `Authorization: Bearer <token>` (people and machine clients).",
    "Errors, always: `{code, status, message, errors}` (`errors` names the field, header or row).",
    PAGING_DESCRIPTION,
    "Machine clients may send `Idempotency-Key` on intake POSTs (cases, case steps such as callbacks, "
    "instructions, Open311 requests, attachments): a retry with the same key and body replays the first answer; "
    "kept 24 hours.",
])


class CaseflowApi(Api):
    """flask-smorest's Api documenting our one error format."""

    ERROR_SCHEMA = ErrorSchema

    def _openapi_swagger_ui(self) -> str:
        """Swagger UI from the app's own assets, started without an inline script (see ``docs``)."""
        from flask import url_for

        from .docs import render_page

        return render_page(self.spec.title, url_for(f"{self._make_doc_blueprint_name()}.openapi_json"),
                           self.config.get("OPENAPI_SWAGGER_UI_CONFIG", {}))


def init_api(app: Flask) -> Api:
    """Create the app's Api, register the blueprints and the error handler."""
    # Before any rule is added: ids in paths stay within the database's integer range.
    app.url_map.converters["int"] = IdConverter
    api = CaseflowApi(app, spec_kwargs={"info": {"description": API_DESCRIPTION},
                                        "extra_plugins": [CommonErrorsPlugin()],
                                        "security": [{"bearerAuth": []}]})
    api.register_converter(IdConverter, integerconverter2paramschema)
    api.spec.components.security_scheme("bearerAuth", SECURITY_SCHEME)
    app.extensions["caseflow.api"] = api
    from .docs import bp as docs_assets_bp

    app.register_blueprint(docs_assets_bp)  # Swagger UI's files; not part of the API document
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

    @app.errorhandler(DataError)
    def _data_error(err: DataError) -> Any:
        # Schemas bound what they can (ids, lengths); a value the database still refuses is bad input, not a 500.
        db.session.rollback()
        log.warning("database refused a value: %s", err.orig)
        body = ValidationFailed("a value is out of range or too long for the database").to_dict()
        return jsonify(body), 422

    return api


def _optional_blueprints() -> list[Any]:
    """Blueprints of capabilities that register themselves in ``caseflow.api.BLUEPRINTS``."""
    from . import registry

    return registry.load()
