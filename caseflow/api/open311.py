"""Open311 GeoReport v2 under ``/open311/v2``: services, service definitions, requests, tokens.

Every path ends in ``.json`` or ``.xml``; errors use the spec's own format in the same one.
Submissions authenticate with the ``api_key`` parameter (an API token), not a session cookie.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from caseflow.errors import DomainError, PermissionDenied, ValidationFailed
from caseflow.extensions import db
from caseflow.security.actor import Actor
from caseflow.security.tokens import actor_for_token
from caseflow.services import open311 as svc
from caseflow.workflow.engine import get_catalog

from .open311_format import render, render_error, w3c
from .idempotency import idempotent

blp = Blueprint("open311", __name__, url_prefix="/open311/v2",
                description="Open311 GeoReport v2 (JSON and XML) for existing Open311 clients")

FMT = "<any(json,xml):fmt>"

# GeoReport answers as JSON or XML (by the path's suffix); errors are a list of {code, description}.
_ERROR_LIST = {"type": "array", "items": {"type": "object", "required": ["code", "description"],
                                          "properties": {"code": {"type": "integer"},
                                                         "description": {"type": "string"}}}}


def _content(json_schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": json_schema}, "text/xml": {"schema": {"type": "string"}}}


def _documented(description: str, *, one: bool = False) -> Any:
    """The GeoReport responses of an operation: a list (or ``one`` object) as JSON or XML, or the error list."""
    body = {"type": "object"} if one else {"type": "array", "items": {"type": "object"}}
    responses: dict[str, Any] = {"200": {"description": description, "content": _content(body)}}
    for code, text in (("400", "A parameter is missing or malformed"), ("403", "api_key missing, invalid or revoked"),
                       ("409", "Refused in the request's current state")):
        responses[code] = {"description": text, "content": _content(_ERROR_LIST)}
    # A path with another suffix matches no GeoReport route: the API's own 404 answers it.
    not_found = {"anyOf": [_ERROR_LIST, {"$ref": "#/components/schemas/Error"}]}
    responses["404"] = {"description": "No such service or request", "content": _content(not_found)}
    responses["default"] = {"description": "Any other error, in GeoReport's format", "content": _content(_ERROR_LIST)}
    return blp.doc(responses=responses)
_ATTRIBUTE_KEY = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")


def _fmt() -> str:
    return (request.view_args or {}).get("fmt") or ("xml" if request.path.endswith(".xml") else "json")


@blp.errorhandler(DomainError)
def _domain_error(err: DomainError) -> Response:
    db.session.rollback()
    # GeoReport reports bad or missing parameters as 400.
    status = 400 if isinstance(err, ValidationFailed) else err.status
    return render_error(_fmt(), status, err.message)


@blp.errorhandler(HTTPException)
def _http_error(err: HTTPException) -> Response:
    return render_error(_fmt(), err.code or 500, err.description or err.name)


@blp.before_request
def _jurisdiction() -> None:
    svc.check_jurisdiction(request.values.get("jurisdiction_id"))


def _api_key_actor() -> Actor:
    key = (request.values.get("api_key") or "").strip()
    if not key:
        raise PermissionDenied("api_key was not provided", field="api_key")
    actor = actor_for_token(db.session(), key)
    if actor is None:
        db.session.rollback()
        raise PermissionDenied("api_key is invalid or revoked", field="api_key")
    return actor


def _submission() -> svc.Submission:
    v = request.values
    attributes: dict[str, list[str]] = {}
    for key in v:
        m = _ATTRIBUTE_KEY.match(key)
        if m:
            attributes.setdefault(m.group(1), []).extend(v.getlist(key))
    text = {k: (v.get(k) or "") for k in ("address_string", "address_id", "description", "media_url", "email",
                                          "device_id", "account_id", "first_name", "last_name", "phone",
                                          "external_id")}
    return svc.Submission(service_code=(v.get("service_code") or "").strip() or None, lat=v.get("lat"),
                          long=v.get("long"), attributes=attributes, **text)


def _lang() -> str:
    return str(current_app.config.get("LANGUAGE", "zh"))


@blp.route(f"/services.{FMT}")
@_documented("The service list")
def services(fmt: str) -> Response:
    """The service list: our in-scope categories."""
    return render(fmt, [svc.service_view(c) for c in svc.services(db.session())], root="services", item="service")


@blp.route(f"/services/<string:code>.{FMT}")
@_documented("The service definition: the attributes a request may answer", one=True)
def service_definition(code: str, fmt: str) -> Response:
    """A service's definition: the attributes a request may answer."""
    cat = svc.service(db.session(), code)
    return render(fmt, svc.definition_view(cat), root="service_definition")


@blp.route(f"/requests.{FMT}")
class Requests(MethodView):
    @_documented("Matching requests")
    def get(self, fmt: str) -> Response:
        """Requests by id list, or by service_code, start_date, end_date and status (open|closed)."""
        filters = svc.parse_filters(request.args)
        cases = svc.find_requests(db.session(), filters)
        views = svc.request_views(db.session(), get_catalog(), cases, w3c, _lang())
        return render(fmt, views, root="service_requests", item="request")

    @idempotent
    @_documented("The new request's id and notice")
    def post(self, fmt: str) -> Response:
        """Submit a request (form-encoded, with api_key); answers ``[{service_request_id, service_notice, account_id}]``."""
        actor = _api_key_actor()
        case, _created = svc.submit(db.session(), get_catalog(), actor, _submission())
        catalog = get_catalog()
        label = catalog.definition(case.workflow, case.workflow_version).label(case.state, _lang())
        body = [{"service_request_id": case.number, "service_notice": f"已受理，案件编号 {case.number}（{label}）",
                 "account_id": None}]
        return render(fmt, body, root="service_requests", item="request")


@blp.route(f"/requests/<string:request_id>.{FMT}")
@_documented("The request, as a one-element list")
def request_detail(request_id: str, fmt: str) -> Response:
    """One request, as a one-element list (as the spec has it)."""
    case = svc.find_request(db.session(), request_id)
    views = svc.request_views(db.session(), get_catalog(), [case], w3c, _lang())
    return render(fmt, views, root="service_requests", item="request")


@blp.route(f"/tokens/<string:token>.{FMT}")
@_documented("The request id for the token")
def token_lookup(token: str, fmt: str) -> Response:
    """We answer POSTs synchronously, so a request's token is its service_request_id."""
    case = svc.find_request(db.session(), token)
    body: list[dict[str, Any]] = [{"service_request_id": case.number, "token": token}]
    return render(fmt, body, root="service_requests", item="request")
