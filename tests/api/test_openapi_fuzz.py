"""A property-based run against the app's own OpenAPI document (schemathesis).

Every operation of ``/api/openapi.json`` is called with generated valid and invalid input,
with the bearer token of an administrator and of a handler, on a street with a case and an
instruction of each department. Each response must not be a 5xx, must have a documented
status code and content type, and its body must match the documented schema.
Failures are collected (not shrunk) so one run reports every broken operation.
"""
from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from caseflow.extensions import db
from caseflow.security.tokens import issue_token
from caseflow.services import instructions
from caseflow.services.cases import intake

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {GenerationMode.POSITIVE: 12, GenerationMode.NEGATIVE: 6}


def _seed(session: Any, catalog: Any, world: Any) -> None:
    """Items of both departments, so small generated ids hit real rows."""
    intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), title="垃圾满溢",
                  category_code="garbage", address="和平路 1 号", grid_id=world.grid_main.id)
    intake.report(session, catalog, channel="patrol", actor=world.actor("road_handler"), title="路面坑洞",
                  category_code="road", address="和平路 2 号", grid_id=world.grid_main.id)
    instructions.receive(session, catalog, actor=world.actor("liaison"), number="F-1", category="garbage",
                         grid="G01", description="垃圾堆放")


def _run_operation(operation: Any, mode: GenerationMode, headers: dict[str, str], failures: list[str]) -> None:
    @settings(max_examples=EXAMPLES[mode], deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as exc:  # collect, do not shrink: one run lists every broken operation
            failures.append(f"{operation.label} [{mode.value}] {type(exc).__name__}: {str(exc)[:600]}")
            # The test's app context outlives the request, so a propagated error leaves its session behind.
            db.session.rollback()
            if len(failures) > 200:
                raise

    try:
        run()
    except Unsatisfiable:
        # Nothing to make invalid (no parameters or body): the positive run covered it.
        assert mode is GenerationMode.NEGATIVE, operation.label


@pytest.mark.parametrize("who", ["admin", "san_handler"])
def test_every_operation_keeps_its_contract(app, session, catalog, world, who: str) -> None:  # type: ignore[no-untyped-def]
    _seed(session, catalog, world)
    token = issue_token(session, f"fuzz-{who}", person=world.people[who])
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) > 40  # the whole API is documented, not a handful of routes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hypothesis/schemathesis notices are not our findings
        for operation in operations:
            for mode in EXAMPLES:
                _run_operation(operation, mode, headers, failures)
    unique = list(dict.fromkeys(f[:700] for f in failures))
    assert not failures, f"{len(failures)} failing calls:\n" + "\n\n".join(unique[:60])


def test_the_document_declares_errors_auth_paging_and_bounds_ids(client, session, world) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/openapi.json").json
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) == {"code", "status", "message", "errors"}
    case_get = spec["paths"]["/api/cases/{case_id}"]["get"]
    assert {"401", "403", "404"} <= set(case_get["responses"])
    assert case_get["responses"]["404"]["$ref"] == "#/components/responses/NOT_FOUND"
    assert spec["security"] == [{"bearerAuth": []}] and spec["paths"]["/api/health"]["get"]["security"] == []
    case_id = next(p for p in spec["paths"]["/api/cases/{case_id}"]["parameters"] if p["name"] == "case_id")
    assert case_id["schema"]["maximum"] == 2**31 - 1
    assert "X-Pagination" in spec["paths"]["/api/cases"]["get"]["responses"]["200"]["headers"]
    token = issue_token(session, "a", person=world.people["admin"])
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(f"/api/cases/{2**31}", headers=headers).status_code == 404  # beyond the range: no route
    r = client.get("/api/cases?per_page=1", headers=headers)
    assert r.status_code == 200 and json.loads(r.headers["X-Pagination"])["total"] == r.json["total"]
    r = client.post("/api/cases", json={"title": "x", "category": "garbage", "grid_id": 2**40}, headers=headers)
    assert r.status_code == 422 and "grid_id" in r.json["errors"]["json"]
