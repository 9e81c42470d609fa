"""A handler cannot reach another department's work by changing an id in a URL.

Every GET/POST/DELETE operation of the OpenAPI document with a path parameter, and every console
route with one, is called by a sanitation handler with the ids of the roads department's
items (a case, an instruction, its attachment, its escalation, a return request; duty-watch
rows, which handlers never see). Each answer must be 404 or 403 and nothing may change.
The same URLs answer a roads handler (or the duty lead, for the duty watch), which proves
the ids are real. Ids of rows this test does not build are filled with 1 (the answer must still
be 403 or 404); a parameter that is not an id and unknown here fails the test.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from caseflow.api.cases import ACTIONS as CASE_ACTIONS
from caseflow.api.instructions import ACTIONS as INSTRUCTION_ACTIONS
from caseflow.models import (
    ITEM_MODELS,
    Attachment,
    EscalationRun,
    LedgerEntry,
    Notification,
    ReturnRequest,
    StoredReport,
    TimeLimit,
    utcnow,
)
from caseflow.security.tokens import issue_token
from caseflow.services import attachments, instructions, transition
from caseflow.services.cases import closing, handling, intake, review, time_limits
from caseflow.services.duty import emergency, handover, log
from tests.integration.duty_support import lead_actor, plan

# Not department data: answered to any signed-in person (or, for Open311, to anyone) on purpose.
PUBLIC = {
    "/api/workflows/{name}/{version}/diagram": "workflow definitions are the same for everyone",
    "/open311/v2/services/{code}.{fmt}": "GeoReport service definitions are public",
    "/open311/v2/requests/{request_id}.{fmt}": "GeoReport requests are public by the spec (no personal data)",
    "/open311/v2/tokens/{token}.{fmt}": "GeoReport tokens are public by the spec",
}
# Console routes that are not about one item of a department.
CONSOLE_SKIP = {"static", "web.static"}
CASE_ACTION_NAMES = sorted(CASE_ACTIONS)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
INSTRUCTION_ACTION_NAMES = sorted(INSTRUCTION_ACTIONS)


@dataclass
class Victims:
    """The roads department's rows (and duty rows), by path parameter."""

    ids: dict[str, int]
    item_types: dict[str, int]


@pytest.fixture
def victims(session, catalog, world) -> Victims:  # type: ignore[no-untyped-def]
    disp, road = world.actor("dispatcher"), world.actor("road_handler")
    case, _ = intake.report(session, catalog, channel="patrol", actor=road, title="路面坑洞", category_code="road",
                            address="和平路 2 号", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
    handling.sign(session, catalog, case.id, actor=road)
    ins, _ = instructions.receive(session, catalog, actor=world.actor("liaison"), number="R-1", category="road",
                                  grid="G01", description="道路塌陷")
    instructions.sign(session, catalog, ins.id, actor=world.actor("liaison"))
    instructions.dispatch(session, catalog, ins.id, actor=world.actor("liaison"), department_id=world.roads.id)
    att = attachments.store(session, item_type="case", item_id=case.id, actor=road, filename="scan.pdf",
                            stream=io.BytesIO(PDF))
    run = EscalationRun(item_type="case", item_id=case.id, chain="case_overdue", state=case.state,
                        state_seq=case.state_seq, steps=[{"targets": ["unit_head"]}], status="active")
    note = Notification(channel="email", address="road@example.test", item_type="case", item_id=case.id,
                        subject="超时", body="", status="dead", attempts=5, next_attempt_at=utcnow())
    now = utcnow()
    report = StoredReport(kind="day", period_start=now.date(), start_at=now - timedelta(days=1), end_at=now,
                          data={"departments": [{"department_id": world.roads.id}]})
    session.add_all([run, note, report])
    session.commit()
    ret_id = _return_request(session, catalog, world, case.id)
    shifts = plan(session, catalog, world, days=2)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    h = handover.open_handover(session, catalog, shifts[0].id, actor=lead_actor(world, shifts[0]))
    items = handover.items(session, h.id)
    entry = log.record(session, catalog, world.street.id, "note", actor=world.actor("duty_lead"), summary="巡查")
    period = emergency.declare(session, world.street.id, "typhoon", "台风", "全街道", actor=world.actor("duty_lead"))
    limit = time_limits.set_limit(session, tier="general", stage="sign", duration="2h")  # administrators' data
    session.commit()
    ids = {"case_id": case.id, "attachment_id": att.id, "run_id": run.id, "notification_id": note.id,
           "shift_id": shifts[0].id, "handover_id": h.id, "entry_id": entry.id, "period_id": period.id,
           "swap_id": 1, "request_id": ret_id, "report_id": report.id,
           "category_id": world.cat_road.id, "department_id": world.roads.id, "grid_id": world.grid_main.id,
           "person_id": world.people["road_handler"].id, "item_id": ins.id,
           "handover_item_id": items[0].id if items else 1, "limit_id": limit.id}
    item_types = {"case": case.id, "instruction": ins.id, "duty_shift": shifts[0].id, "handover": h.id}
    if ret_id:
        item_types["return_request"] = ret_id
    return Victims(ids, item_types)


def _return_request(session, catalog, world, case_id: int) -> int:  # type: ignore[no-untyped-def]
    """A return request of the roads department, when the returns service is there."""
    try:
        from caseflow.services import returns
    except ImportError:  # pragma: no cover - capability not installed
        return 0
    req = returns.request_return(session, catalog, case_id, world.actor("road_handler"), reason="不属于本单位职责",
                                 basis="《道路养护职责清单》第 3 条")
    return req.id


def _fill(path: str, params: dict[str, Any]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: str(params[m.group(1)]), path)


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _value(spec: dict[str, Any], name: str, schema: dict[str, Any], v: Victims) -> Any:
    """A plausible valid value, so the body passes validation and the scope check is what answers."""
    schema = _resolve(spec, schema)
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "integer":
        return v.ids.get(name, v.ids["department_id"])
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if kind == "array":
        return [_value(spec, name, schema.get("items", {}), v)]
    if kind == "object":
        return _body(spec, schema, v)
    if schema.get("format") == "date":
        return utcnow().date().isoformat()
    if schema.get("format") == "date-time":
        return utcnow().isoformat()
    return {"trigger": "sign"}.get(name, "说明")


def _body(spec: dict[str, Any], schema: dict[str, Any], v: Victims) -> dict[str, Any]:
    schema = _resolve(spec, schema)
    props = schema.get("properties", {})
    return {name: _value(spec, name, props[name], v) for name in schema.get("required", []) if name in props}


def request_body(spec: dict[str, Any], operation: dict[str, Any], v: Victims) -> dict[str, Any]:
    """Keyword arguments of the test client for the operation's body."""
    content = operation.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        return {"json": _body(spec, content["application/json"].get("schema", {}), v)}
    return {"json": {}}


def api_calls(spec: dict[str, Any], v: Victims) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, url, body) for every documented operation with a path parameter, with the victims' ids."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    for path, ops in spec["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        if not [n for n in names if n != "fmt"] or path in PUBLIC:  # {fmt} alone names no item
            continue
        for method in ("get", "post", "delete"):
            if method not in ops:
                continue
            body = request_body(spec, ops[method], v) if method == "post" else {}
            if path.endswith("/attachments") and method == "post":
                body = {"data": {"file": (io.BytesIO(PDF), "scan.pdf")}, "content_type": "multipart/form-data"}
            for params in _param_sets(path, names, v):
                calls.append((method.upper(), _fill(path, params), body))
    return calls


def _param_sets(path: str, names: list[str], v: Victims) -> list[dict[str, Any]]:
    if "item_type" in names:
        return [{"item_type": t, "item_id": i} for t, i in v.item_types.items()]
    base: dict[str, Any] = {}
    for name in names:
        if name in ("action", "verdict"):
            continue
        if path.startswith("/api/instructions/") and name == "item_id":
            base[name] = v.ids["item_id"]
        elif path.startswith("/api/duty/handovers/") and name == "item_id":
            base[name] = v.ids["handover_item_id"]
        elif name in v.ids:
            base[name] = v.ids[name]
        elif name == "kind":  # admin import/export: organisation data, administrators only
            base[name] = "people"
        elif name.endswith("_id"):
            base[name] = 1  # a row this test does not build (e.g. a regulation): still 403/404 for a handler
        else:
            pytest.fail(f"{path}: cannot fill parameter {name!r}; teach this test about it")
    if "action" in names:
        actions = CASE_ACTION_NAMES if path.startswith("/api/cases/") else INSTRUCTION_ACTION_NAMES
        return [{**base, "action": a} for a in actions]
    if "verdict" in names:
        return [{**base, "verdict": "accept"}, {**base, "verdict": "dispute"}]
    return [base]


def console_calls(app, v: Victims) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, url) for every console route with a parameter, with the victims' ids."""
    calls: list[tuple[str, str]] = []
    for rule in app.url_map.iter_rules():
        if not rule.arguments or rule.endpoint in CONSOLE_SKIP or rule.rule.startswith(("/api/", "/open311/")):
            continue
        values: dict[str, Any] = {}
        options: list[dict[str, Any]] = [{}]
        for name in sorted(rule.arguments):
            conv = rule._converters[name]
            if hasattr(conv, "regex") and conv.__class__.__name__ == "AnyConverter":
                words = [w.replace("\\", "") for w in conv.regex[3:-1].split("|")]
                options = [{**o, name: w} for o in options for w in words]
            elif name == "item_id" and ("/instructions/" in rule.rule or rule.rule.startswith("/liaison/")):
                values[name] = v.ids["item_id"]
            elif name == "item_id" and "/handover" in rule.rule:
                values[name] = v.ids["handover_item_id"]
            elif name in v.ids:
                values[name] = v.ids[name]
            elif name.endswith("_id"):
                values[name] = 1
            else:
                pytest.fail(f"console {rule.rule}: cannot fill {name!r}; teach this test about it")
        with app.test_request_context():
            from flask import url_for

            for extra in options:
                url = url_for(rule.endpoint, **values, **extra)
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    calls.append((method, url))
    return calls


def _snapshot(session) -> tuple[int, ...]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return tuple(session.execute(select(func.count()).select_from(m)).scalar_one()
                 for m in (LedgerEntry, Attachment, EscalationRun, ReturnRequest, TimeLimit, *ITEM_MODELS.values()))


def test_a_handler_gets_404_or_403_on_every_api_endpoint(client, session, world, victims) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/openapi.json").json
    calls = api_calls(spec, victims)
    assert len(calls) > 60  # every action of cases and instructions, items of each type, duty rows...
    token = issue_token(session, "san", person=world.people["san_handler"])
    before = _snapshot(session)
    leaks = []
    for method, url, body in calls:
        if "data" in body:  # a fresh stream for every upload
            body = {**body, "data": {"file": (io.BytesIO(PDF), "scan.pdf")}}
        r = client.open(url, method=method, headers={"Authorization": f"Bearer {token}"}, **body)
        r.close()
        if r.status_code not in (403, 404):
            leaks.append(f"{method} {url} -> {r.status_code} {r.get_data(as_text=True)[:200]}")
    assert not leaks, "\n".join(leaks)
    assert _snapshot(session) == before  # nothing was changed on the way


@pytest.mark.parametrize("url, owner", [
    ("/api/cases/{case_id}", "road_handler"),
    ("/api/items/case/{case_id}", "road_handler"),
    ("/api/items/case/{case_id}/ledger", "road_handler"),
    ("/api/items/case/{case_id}/attachments", "road_handler"),
    ("/api/attachments/{attachment_id}", "road_handler"),
    ("/api/instructions/{item_id}", "road_handler"),
    ("/api/items/instruction/{item_id}", "road_handler"),
    ("/api/duty/handovers/{handover_id}", "duty_lead"),
])
def test_the_same_urls_answer_their_own_department(client, session, world, victims, url, owner) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(session, owner, person=world.people[owner])
    r = client.get(_fill(url, victims.ids), headers={"Authorization": f"Bearer {token}"})
    r.close()  # a download holds its file open until closed
    assert r.status_code == 200, r.get_data(as_text=True)[:300]


def test_lists_filtered_by_another_departments_item_are_empty(client, session, world, victims) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(session, "san", person=world.people["san_handler"])
    case_id = victims.ids["case_id"]
    for path in ("/api/escalations?status=all", "/api/deadlines"):
        r = client.get(f"{path}{'&' if '?' in path else '?'}item_type=case&item_id={case_id}",
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json == [], path
    road = issue_token(session, "road", person=world.people["road_handler"])
    r = client.get(f"/api/escalations?status=all&item_type=case&item_id={case_id}",
                   headers={"Authorization": f"Bearer {road}"})
    assert [e["id"] for e in r.json] == [victims.ids["run_id"]]  # the filter itself finds it
    listing = client.get("/api/cases", headers={"Authorization": f"Bearer {token}"}).json
    assert case_id not in [c["id"] for c in listing["items"]]


def test_a_handler_gets_404_or_403_on_every_console_page(app, client, session, world, victims) -> None:  # type: ignore[no-untyped-def]
    calls = console_calls(app, victims)
    assert any(url.startswith("/handler/cases/") for _, url in calls)
    with client.session_transaction() as s:
        s["person_id"] = world.people["san_handler"].id
    before = _snapshot(session)
    leaks = []
    for method, url in calls:
        r = client.open(url, method=method, data={"note": "x", "reason": "x", "result": "x"})
        r.close()
        if r.status_code not in (403, 404):
            leaks.append(f"{method} {url} -> {r.status_code} {r.headers.get('Location', '')}")
    assert not leaks, "\n".join(leaks)
    assert _snapshot(session) == before


@pytest.mark.parametrize("kind", ["sensor", "hotline", "app", "linkage_110"])
def test_a_machine_client_gets_404_or_403_on_cases_it_did_not_report(client, session, world, victims, kind) -> None:  # type: ignore[no-untyped-def]
    """The victims' case was reported on patrol: no machine client may read it, its reporters,
    ledger or evidence, or act on it; only the 110 center follows instructions."""
    spec = client.get("/api/openapi.json").json
    token = issue_token(session, kind, client_kind=kind)
    before = _snapshot(session)
    leaks = []
    for method, url, body in api_calls(spec, victims):
        if kind == "linkage_110" and url.startswith(("/api/instructions/", "/api/items/instruction/")):
            continue  # every instruction comes from the 110 center: it may follow them
        if "data" in body:
            body = {**body, "data": {"file": (io.BytesIO(PDF), "scan.pdf")}}
        r = client.open(url, method=method, headers={"Authorization": f"Bearer {token}"}, **body)
        r.close()
        if r.status_code not in (403, 404):
            leaks.append(f"{method} {url} -> {r.status_code} {r.get_data(as_text=True)[:200]}")
    assert not leaks, "\n".join(leaks)
    assert _snapshot(session) == before
    hdr = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/cases", headers=hdr).json["total"] == 0
    instructions_seen = client.get("/api/instructions", headers=hdr).json["total"]
    assert instructions_seen == (1 if kind == "linkage_110" else 0)


def test_a_machine_client_sees_and_calls_back_on_the_cases_it_reported(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    hotline = issue_token(session, "12345", client_kind="hotline")
    sensor = issue_token(session, "gateway", client_kind="sensor")
    hdr = {"Authorization": f"Bearer {hotline}"}
    body = {"title": "垃圾满溢", "category": "garbage", "address": "和平路 1 号", "grid": "G01"}
    mine = client.post("/api/cases", json={**body, "external_ref": "12345-own"}, headers=hdr).json["id"]
    theirs = client.post("/api/cases", json={**body, "external_ref": "evt-1"},
                         headers={"Authorization": f"Bearer {sensor}"}).json["id"]
    up = client.post(f"/api/items/case/{mine}/attachments", data={"file": (io.BytesIO(PDF), "scan.pdf")},
                     content_type="multipart/form-data", headers=hdr)
    assert up.status_code == 201, up.json
    listing = client.get("/api/cases", headers=hdr).json
    assert [c["id"] for c in listing["items"]] == [mine] and listing["total"] == 1
    detail = client.get(f"/api/cases/{mine}", headers=hdr)
    assert detail.status_code == 200 and detail.json["reporters"][0]["channel"] == "hotline"
    assert client.get(f"/api/items/case/{mine}/ledger", headers=hdr).status_code == 200
    assert [a["id"] for a in client.get(f"/api/items/case/{mine}/attachments", headers=hdr).json] == [up.json["id"]]
    with client.get(f"/api/attachments/{up.json['id']}", headers=hdr) as download:
        assert download.status_code == 200 and download.data == PDF
    # The sensor's case stays hidden from the hotline, and the other way round.
    assert client.get(f"/api/cases/{theirs}", headers=hdr).status_code == 404
    with client.get(f"/api/attachments/{up.json['id']}", headers={"Authorization": f"Bearer {sensor}"}) as r:
        assert r.status_code == 404
    # The hotline's callback (回访) on its own closed case still works.
    review.register(session, catalog, mine, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, mine, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    handling.sign(session, catalog, mine, actor=world.actor("san_handler"))
    handling.report_result(session, catalog, mine, actor=world.actor("san_handler"), result="已清理")
    closing.check_pass(session, catalog, mine, actor=world.actor("dispatcher"))
    r = client.post(f"/api/cases/{mine}/callback", json={"grade": 5}, headers=hdr)
    assert r.status_code == 200 and r.json["record"]["callbacks"][-1]["grade"] == 5, r.json
    assert client.post(f"/api/cases/{theirs}/callback", json={"grade": 5}, headers=hdr).status_code == 404
