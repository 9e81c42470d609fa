"""Open311's GET endpoints are public: only public cases (submitted through Open311, or published
by a dispatcher), and nothing written for colleagues (comments, notes, names, contacts)."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sqlalchemy import select

from caseflow.errors import InvalidTransition, PermissionDenied
from caseflow.models import AccessDenial, Case, LedgerEntry
from caseflow.security.actor import Actor
from caseflow.security.tokens import issue_token
from caseflow.services import open311, transition
from caseflow.services.cases import closing, handling, intake, review
from tests.api.test_open311 import BASE, post_request

SECRET_COMMENT = "内部意见：该户多次投诉，注意态度"
SECRET_NOTE = "经查为某公司员工恶意举报"


@pytest.fixture
def app_key(session, world) -> str:  # type: ignore[no-untyped-def]
    return issue_token(session, "citizen app", client_kind="app")


def listed(client, query: str = "") -> set[str]:  # type: ignore[no-untyped-def]
    r = client.get(f"{BASE}/requests.json?{query}")
    assert r.status_code == 200, r.data
    return {x["service_request_id"] for x in r.json}


def hotline_case(session, catalog, ref="12345-77"):  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"),
                            title="楼道堆物", description="张女士 13911112222 反映楼道堆物", category_code="garbage",
                            external_ref=ref, reporter={"name": "张女士", "phone": "13911112222"})
    return case


def test_only_open311_cases_are_listed_or_found(client, session, catalog, world, app_key) -> None:  # type: ignore[no-untyped-def]
    mine = post_request(client, app_key).json[0]["service_request_id"]
    other = hotline_case(session, catalog)
    patrol, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), title="垃圾",
                              category_code="garbage")
    assert listed(client) == {mine}
    assert listed(client, f"service_request_id={other.number},{patrol.number},{mine}") == {mine}
    for number in (other.number, patrol.number):
        assert client.get(f"{BASE}/requests/{number}.json").status_code == 404
        assert client.get(f"{BASE}/tokens/{number}.json").status_code == 404
        assert client.get(f"{BASE}/requests/{number}.xml").status_code == 404
    # The GeoReport answers and the public mark were written with the case.
    case = session.execute(select(Case).where(Case.number == mine)).scalar_one()
    assert case.data["public"] is True and case.data["open311"]["attributes"] == {"severity": "high"}


def test_no_comments_notes_names_or_contacts(client, session, catalog, world, app_key) -> None:  # type: ignore[no-untyped-def]
    number = post_request(client, app_key).json[0]["service_request_id"]
    dup = post_request(client, app_key, description="同一堆垃圾").json[0]["service_request_id"]
    case = session.execute(select(Case).where(Case.number == number)).scalar_one()
    dup_case = session.execute(select(Case).where(Case.number == dup)).scalar_one()
    disp = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=disp, comment=SECRET_COMMENT)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id,
                      comment=SECRET_COMMENT)
    handling.sign(session, catalog, case.id, actor=world.actor("san_handler"), comment=SECRET_COMMENT)
    review.void(session, catalog, dup_case.id, actor=disp, reason="duplicate", note=SECRET_NOTE,
                comment=SECRET_COMMENT)
    forbidden = [SECRET_COMMENT, SECRET_NOTE, "dispatcher", "san_handler", "小明", "13800000000",
                 "resident@example.test"]
    for fmt in ("json", "xml"):
        for path in (f"requests.{fmt}", f"requests/{number}.{fmt}", f"requests/{dup}.{fmt}"):
            body = client.get(f"{BASE}/{path}").get_data(as_text=True)
            leaked = [w for w in forbidden if w in body]
            assert not leaked, (path, leaked)
    by_id = {x["service_request_id"]: x for x in client.get(f"{BASE}/requests.json").json}
    assert by_id[number]["status_notes"] == "处置中" and by_id[number]["agency_responsible"] == "环卫所"
    assert by_id[dup]["status"] == "closed" and by_id[dup]["status_notes"] == "已作废：重复上报，已并入原案件处理"
    root = ET.fromstring(client.get(f"{BASE}/requests/{number}.xml").data)
    assert root.findtext("request/status_notes") == "处置中"
    assert root.findtext("request/agency_responsible") == "环卫所"
    # The GeoReport fields are all there, and no others.
    assert set(by_id[number]) == {
        "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
        "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
        "address", "address_id", "zipcode", "lat", "long", "media_url"}


def test_a_dispatcher_publishes_and_hides(client, session, catalog, world, app_key) -> None:  # type: ignore[no-untyped-def]
    mine = post_request(client, app_key).json[0]["service_request_id"]
    mine_case = session.execute(select(Case).where(Case.number == mine)).scalar_one()
    other = hotline_case(session, catalog)
    with pytest.raises(PermissionDenied):
        open311.set_public(session, other.id, actor=world.actor("san_handler"), public=True)
    assert session.execute(select(AccessDenial.action)).scalars().all() == ["set_public"]
    assert listed(client) == {mine}

    case = open311.set_public(session, other.id, actor=world.actor("dispatcher"), public=True, reason="公开进度")
    assert case.data["public"] is True
    assert listed(client) == {mine, other.number}
    open311.set_public(session, mine_case.id, actor=world.actor("dispatcher"), public=False, reason="含不实内容")
    assert listed(client) == {other.number}
    assert client.get(f"{BASE}/requests/{mine}.json").status_code == 404
    entries = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.trigger == "set_public").order_by(LedgerEntry.id)).scalars().all()
    assert [(e.item_id, e.payload, e.comment, e.from_state, e.to_state) for e in entries] == [
        (other.id, {"public": True, "before": False}, "公开进度", "reported", "reported"),
        (mine_case.id, {"public": False, "before": True}, "含不实内容", "reported", "reported"),
    ]
    from caseflow.services.ledger_verify import verify_ledger  # the chains and heads stay intact

    session.expire_all()
    assert verify_ledger(session)[1] == []


def test_an_archived_case_cannot_be_published(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = hotline_case(session, catalog, ref="12345-78")
    disp = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="已清理")
    closing.check_pass(session, catalog, case.id, actor=disp)
    closing.archive(session, catalog, case.id, actor=disp)
    with pytest.raises(InvalidTransition):
        open311.set_public(session, case.id, actor=disp, public=True)
    assert transition.lock_item(session, "case", case.id).data.get("public") is None
