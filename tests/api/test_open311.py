"""Open311 GeoReport v2, used the way a GeoReport client does: form-encoded POSTs with api_key,
jurisdiction_id, lat/long and attribute[...]; every endpoint in JSON and in XML."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from caseflow.models import Case, CaseReporter, Deadline, utcnow
from caseflow.security.tokens import issue_token
from caseflow.services import transition

BASE = "/open311/v2"
JURISDICTION = "caseflow"
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")


@pytest.fixture
def app_key(session, world) -> str:  # type: ignore[no-untyped-def]
    """The citizen app's API key."""
    return issue_token(session, "citizen app", client_kind="app")


def post_request(client, key: str, fmt: str = "json", **fields):  # type: ignore[no-untyped-def]
    form = {"api_key": key, "jurisdiction_id": JURISDICTION, "service_code": "garbage", "lat": "31.2304",
            "long": "121.4737", "description": "路边垃圾堆放三天无人清理", "email": "resident@example.test",
            "first_name": "小明", "last_name": "王", "phone": "13800000000",
            "media_url": "https://img.example.test/1.jpg", "attribute[severity]": "high"}
    form.update(fields)
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(f"{BASE}/requests.{fmt}", data=form, content_type="application/x-www-form-urlencoded")


def xml(response) -> ET.Element:  # type: ignore[no-untyped-def]
    assert response.mimetype == "text/xml"
    assert response.data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    return ET.fromstring(response.data)


def test_service_list_json_and_xml(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{BASE}/services.json?jurisdiction_id={JURISDICTION}")
    assert r.status_code == 200
    assert [s["service_code"] for s in r.json] == ["garbage", "road"]  # police is out of scope
    garbage = r.json[0]
    assert garbage == {"service_code": "garbage", "service_name": "暴露垃圾", "description": "暴露垃圾",
                       "metadata": True, "type": "realtime", "keywords": "city", "group": "city"}
    root = xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    services = root.findall("service")
    assert [s.findtext("service_code") for s in services] == ["garbage", "road"]
    assert services[1].findtext("service_name") == "道路破损"
    assert services[0].findtext("metadata") == "true" and services[0].findtext("type") == "realtime"


def test_service_definition_json_and_xml(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{BASE}/services/garbage.json")
    assert r.status_code == 200 and r.json["service_code"] == "garbage"
    (severity,) = r.json["attributes"]
    assert severity["code"] == "severity" and severity["datatype"] == "singlevaluelist"
    assert severity["variable"] is True and severity["required"] is False
    assert [v["key"] for v in severity["values"]] == ["low", "normal", "high"]
    root = xml(client.get(f"{BASE}/services/road.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "road"
    attr = root.find("attributes/attribute")
    assert attr is not None and attr.findtext("code") == "severity" and attr.findtext("variable") == "true"
    assert [v.findtext("key") for v in attr.findall("values/value")] == ["low", "normal", "high"]
    r = client.get(f"{BASE}/services/police.json")
    assert r.status_code == 404 and r.json == [{"code": 404, "description": "service_code 'police' not found"}]


def test_post_request_json_creates_a_case(client, session, world, app_key) -> None:  # type: ignore[no-untyped-def]
    r = post_request(client, app_key)
    assert r.status_code == 200, r.data
    (answer,) = r.json
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] is None and answer["service_request_id"] in answer["service_notice"]
    case = session.execute(select(Case).where(Case.number == answer["service_request_id"])).scalar_one()
    assert (case.channel, case.category_id, case.state) == ("app", world.cat_garbage.id, "reported")
    assert (case.lat, case.lon) == (31.2304, 121.4737)
    assert case.description == "路边垃圾堆放三天无人清理" and case.title.startswith("暴露垃圾")
    assert case.data["open311"]["attributes"] == {"severity": "high"}
    assert case.data["open311"]["media_url"] == "https://img.example.test/1.jpg"
    reporter = session.execute(select(CaseReporter).where(CaseReporter.case_id == case.id)).scalar_one()
    assert reporter.name == "小明 王" and reporter.phone == "13800000000"
    assert reporter.contact["email"] == "resident@example.test"


def test_post_request_xml_and_every_post_is_a_new_request(client, session, world, app_key) -> None:  # type: ignore[no-untyped-def]
    root = xml(post_request(client, app_key, "xml", lat=None, long=None, address_string="示范路 8 号 <东侧> & 北"))
    assert root.tag == "service_requests"
    first = root.findtext("request/service_request_id")
    assert first and root.find("request/account_id") is not None
    second = post_request(client, app_key).json[0]["service_request_id"]
    assert second != first
    case = session.execute(select(Case).where(Case.number == first)).scalar_one()
    assert case.address == "示范路 8 号 <东侧> & 北" and case.lat is None
    # With the client's own id (our extension) a retried POST finds the same request.
    a = post_request(client, app_key, external_id="app-42").json[0]["service_request_id"]
    b = post_request(client, app_key, external_id="app-42").json[0]["service_request_id"]
    assert a == b
    assert session.execute(select(func.count(Case.id))).scalar_one() == 3


def test_person_token_reports_as_patrol(client, session, world) -> None:  # type: ignore[no-untyped-def]
    key = issue_token(session, "patrol phone", person=world.people["liaison"])
    r = post_request(client, key, service_code="road")
    assert r.status_code == 200
    case = session.execute(select(Case).where(Case.number == r.json[0]["service_request_id"])).scalar_one()
    assert case.channel == "patrol" and case.reporter_id == world.people["liaison"].id


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_errors_in_spec_format(client, session, world, app_key, fmt) -> None:  # type: ignore[no-untyped-def]
    def error(response):  # type: ignore[no-untyped-def]
        if fmt == "json":
            assert response.mimetype == "application/json"
            (e,) = response.json
            return e["code"], e["description"]
        root = xml(response)
        assert root.tag == "errors"
        return int(root.findtext("error/code")), root.findtext("error/description")

    cases = [
        (dict(service_code=None), 400, "service_code is required"),
        (dict(api_key="cf_not-a-key"), 403, "api_key is invalid"),
        (dict(api_key=None), 403, "api_key was not provided"),
        (dict(jurisdiction_id="elsewhere.example"), 404, "jurisdiction_id 'elsewhere.example' not found"),
        (dict(service_code="police"), 404, "service_code 'police' not found"),
        (dict(**{"attribute[severity]": "apocalyptic"}), 400, "attribute[severity] must be one of"),
        (dict(**{"attribute[colour]": "red"}), 400, "attribute[colour] is not an attribute"),
        (dict(lat=None, long=None), 400, "lat/long, address_string or address_id is required"),
        (dict(lat="91"), 400, "lat must be between"),
        (dict(long="east"), 400, "long must be a number"),
        (dict(media_url="javascript:alert(1)"), 400, "media_url"),
    ]
    for fields, status, text in cases:
        r = post_request(client, app_key, fmt, **fields)
        assert r.status_code == status, (fields, r.data)
        code, description = error(r)
        assert code == status and text in description, (fields, description)
    sensor_110 = issue_token(session, "110", client_kind="linkage_110")
    r = post_request(client, sensor_110, fmt)
    assert r.status_code == 403 and "linkage_110" in error(r)[1]
    assert session.execute(select(func.count(Case.id))).scalar_one() == 0


def test_get_requests_filters_and_fields(client, session, catalog, world, app_key) -> None:  # type: ignore[no-untyped-def]
    g1 = post_request(client, app_key).json[0]["service_request_id"]
    g2 = post_request(client, app_key, description="又一堆").json[0]["service_request_id"]
    r1 = post_request(client, app_key, service_code="road", description="井盖缺失").json[0]["service_request_id"]
    dispatcher = world.actor("dispatcher")
    c1 = session.execute(select(Case).where(Case.number == g1)).scalar_one()
    c2 = session.execute(select(Case).where(Case.number == g2)).scalar_one()
    transition.fire(session, catalog, "case", c1.id, "register", actor=dispatcher)
    transition.fire(session, catalog, "case", c1.id, "dispatch", actor=dispatcher, comment="请环卫所尽快处理",
                    data={"department_id": world.sanitation.id})
    transition.fire(session, catalog, "case", c2.id, "void", actor=dispatcher, comment="与前案重复",
                    data={"reason": "duplicate"})

    r = client.get(f"{BASE}/requests.json?jurisdiction_id={JURISDICTION}")
    assert r.status_code == 200
    assert {x["service_request_id"] for x in r.json} == {g1, g2, r1}
    by_id = {x["service_request_id"]: x for x in r.json}
    one = by_id[g1]
    # The dispatcher's comments are for colleagues: the public sees the state's label only.
    assert one["status"] == "open" and one["status_notes"] == "已派遣"
    assert one["agency_responsible"] == "环卫所"
    assert (one["service_code"], one["service_name"]) == ("garbage", "暴露垃圾")
    assert (one["lat"], one["long"]) == (31.2304, 121.4737)
    assert one["media_url"] == "https://img.example.test/1.jpg"
    for key in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3C.match(one[key]), (key, one[key])
    due = session.execute(select(func.min(Deadline.due_at)).where(
        Deadline.item_type == "case", Deadline.item_id == c1.id, Deadline.status == "pending")).scalar_one()
    due_utc = due if due.tzinfo else due.replace(tzinfo=ZoneInfo("UTC"))
    assert one["expected_datetime"] == due_utc.astimezone(ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")
    voided = by_id[g2]
    assert voided["status"] == "closed" and voided["status_notes"] == "已作废：重复上报，已并入原案件处理"
    assert voided["expected_datetime"] is None

    def ids(query: str) -> set[str]:
        resp = client.get(f"{BASE}/requests.json?{query}")
        assert resp.status_code == 200, resp.data
        return {x["service_request_id"] for x in resp.json}

    assert ids("status=closed") == {g2}
    assert ids("status=open") == {g1, r1}
    assert ids("status=open,closed") == {g1, g2, r1}
    assert ids("service_code=road") == {r1}
    assert ids(f"service_request_id={g1},{r1}&status=closed") == {g1, r1}  # ids win over filters
    later = (utcnow() + timedelta(hours=1)).astimezone(ZoneInfo("Asia/Shanghai")).isoformat(timespec="seconds")
    earlier = (utcnow() - timedelta(hours=1)).isoformat(timespec="seconds").replace("+00:00", "Z")
    assert ids(f"start_date={later.replace('+', '%2B')}") == set()
    assert ids(f"start_date={earlier}&end_date={later.replace('+', '%2B')}") == {g1, g2, r1}

    root = xml(client.get(f"{BASE}/requests.xml?service_code=garbage&status=open"))
    assert root.tag == "service_requests"
    (req,) = root.findall("request")
    assert req.findtext("service_request_id") == g1 and req.findtext("status") == "open"
    assert W3C.match(req.findtext("expected_datetime") or "")
    assert req.findtext("agency_responsible") == "环卫所" and req.findtext("long") == "121.4737"

    bad = client.get(f"{BASE}/requests.json?status=pending")
    assert bad.status_code == 400 and bad.json[0]["description"] == "status must be open or closed"
    bad = xml(client.get(f"{BASE}/requests.xml?start_date=yesterday"))
    assert bad.findtext("error/code") == "400" and "start_date" in bad.findtext("error/description")


def test_get_one_request_and_token(client, session, world, app_key) -> None:  # type: ignore[no-untyped-def]
    number = post_request(client, app_key, description="垃圾 <b>&amp; 污水</b>").json[0]["service_request_id"]
    r = client.get(f"{BASE}/requests/{number}.json")
    assert r.status_code == 200 and len(r.json) == 1
    assert r.json[0]["status"] == "open" and r.json[0]["status_notes"] == "待审核"
    root = xml(client.get(f"{BASE}/requests/{number}.xml"))
    assert root.findtext("request/description") == "垃圾 <b>&amp; 污水</b>"  # escaped, and back intact
    assert root.findtext("request/service_code") == "garbage"
    assert client.get(f"{BASE}/requests/C00000000.json").json == [
        {"code": 404, "description": "service_request_id 'C00000000' not found"}]
    missing = xml(client.get(f"{BASE}/requests/C00000000.xml"))
    assert missing.findtext("error/code") == "404"

    r = client.get(f"{BASE}/tokens/{number}.json")
    assert r.json == [{"service_request_id": number, "token": number}]
    root = xml(client.get(f"{BASE}/tokens/{number}.xml"))
    assert root.findtext("request/service_request_id") == number
    assert client.get(f"{BASE}/tokens/nope.json").status_code == 404


def test_wrong_jurisdiction_on_reads(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get(f"{BASE}/services.xml?jurisdiction_id=elsewhere")
    assert r.status_code == 404
    assert xml(r).findtext("error/description") == "jurisdiction_id 'elsewhere' not found"
    assert client.get(f"{BASE}/requests.json?jurisdiction_id=elsewhere").status_code == 404


def test_post_needs_no_csrf_token(app, client, session, world, app_key, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # Open311 clients authenticate with api_key; the console's CSRF check must not block them.
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    r = post_request(client, app_key)
    assert r.status_code == 200, r.data


def test_open311_is_in_the_api_docs(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/openapi.json").json
    assert "/open311/v2/requests.{fmt}" in spec["paths"]
    assert "/api/items/{item_type}/{item_id}/attachments" in spec["paths"]
