"""The leader's review of return requests in the console (领导审核退单): list, approve, reject,
a missing opinion refused naming the field with what was typed kept, and other roles refused."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow.models import AccessDenial, Case, LedgerEntry, ReturnRequest
from caseflow.services import returns as svc
from caseflow.services.cases import handling, intake, review

from .test_work_pages import as_person, flashes


@pytest.fixture
def leader_request(session, catalog, world) -> ReturnRequest:  # type: ignore[no-untyped-def]
    """A case sent to sanitation; its first return request rejected, the second (new basis) with the leader."""
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="路面塌陷",
                            category_code="garbage", address="和平路 3 号", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    first = svc.request_return(session, catalog, case.id, world.actor("san_handler"), "属道路养护职责", "职责清单第3条")
    svc.reject(session, catalog, first.id, world.actor("dispatcher"), "环卫所负责路面保洁")
    second = svc.request_return(session, catalog, case.id, world.actor("san_handler"), "路面塌陷非保洁问题",
                                "区政府关于道路设施管养分工的通知", suggested_department_id=world.roads.id)
    assert second.state == "leader_review"
    return second


def _state(session, request_id: int) -> tuple[str, int | None]:  # type: ignore[no-untyped-def]
    session.expire_all()
    rr = session.get(ReturnRequest, request_id)
    return rr.state, session.get(Case, rr.case_id).department_id


def test_leader_sees_the_request_with_its_history_and_the_dashboard_link(client, world, leader_request) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    dashboard = client.get("/leader").get_data(as_text=True)
    assert 'href="/leader/returns"' in dashboard
    assert re.search(r'id="returns-waiting">\s*<h2>[^<]*<span class="count">1</span>', dashboard)
    page = client.get("/leader/returns")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    card = body[body.index(f'id="return-{leader_request.id}"'):]
    assert "路面塌陷非保洁问题" in card and "第 2 次申请" in card
    assert "环卫所负责路面保洁" in card  # the dispatcher's earlier rejection, for context
    # The suggested department is preselected for the re-dispatch.
    assert re.search(rf'<option value="{world.roads.id}" selected>市政养护所', card)


def test_leader_approves_with_an_opinion(client, session, world, leader_request) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    r = client.post(f"/leader/returns/{leader_request.id}/approve",
                    data={"department_id": str(world.roads.id), "opinion": "依据充分，改派市政养护所"},
                    follow_redirects=True)
    assert r.status_code == 200
    assert "已同意退单，案件已改派" in flashes(r.get_data(as_text=True))
    assert f'id="return-{leader_request.id}"' not in r.get_data(as_text=True)
    assert _state(session, leader_request.id) == ("approved", world.roads.id)
    rr = session.get(ReturnRequest, leader_request.id)
    assert rr.decision_reason == "依据充分，改派市政养护所" and rr.reviewer_id == world.people["deputy"].id
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "return_request", LedgerEntry.item_id == rr.id,
        LedgerEntry.trigger == "approve_return")).scalar_one()
    assert entry.actor_role == "leader" and entry.payload["reason"] == "依据充分，改派市政养护所"


def test_leader_rejects_with_an_opinion(client, session, world, leader_request) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["principal"])
    r = client.post(f"/leader/returns/{leader_request.id}/reject", data={"opinion": "仍属环卫所职责，限期处置"},
                    follow_redirects=True)
    assert "已驳回退单，案件仍由原部门办理" in flashes(r.get_data(as_text=True))
    assert _state(session, leader_request.id) == ("rejected", world.sanitation.id)
    assert session.get(ReturnRequest, leader_request.id).decision_reason == "仍属环卫所职责，限期处置"


@pytest.mark.parametrize("verdict", ["approve", "reject"])
def test_a_missing_opinion_is_refused_naming_the_field_and_keeps_the_form(client, session, world, leader_request,
                                                                          verdict) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    r = client.post(f"/leader/returns/{leader_request.id}/{verdict}",
                    data={"department_id": str(world.roads.id), "opinion": "   "})
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    card = body[body.index(f'id="return-{leader_request.id}"'):]
    assert re.search(r'<p class="flash error" role="alert" data-field="opinion">审核意见 \(opinion\)', card)
    assert 'aria-invalid="true">' in card
    assert re.search(rf'<option value="{world.roads.id}" selected>', card)  # the choice is kept
    assert _state(session, leader_request.id) == ("leader_review", world.sanitation.id)


def test_a_refused_department_names_it_and_keeps_the_opinion(client, session, world, leader_request) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    r = client.post(f"/leader/returns/{leader_request.id}/approve",
                    data={"department_id": str(world.sanitation.id), "opinion": "同意，但改派错了部门"})
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    card = body[body.index(f'id="return-{leader_request.id}"'):]
    assert 'data-field="department_id">部门 (department_id)' in card
    assert ">同意，但改派错了部门</textarea>" in card  # what the leader typed is not lost
    assert _state(session, leader_request.id) == ("leader_review", world.sanitation.id)
    assert session.get(ReturnRequest, leader_request.id).decision_reason == ""


@pytest.mark.parametrize("who", ["dispatcher", "san_handler", "admin"])
def test_other_roles_are_refused(client, session, world, leader_request, who) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people[who])
    assert client.get("/leader/returns").status_code == 403
    r = client.post(f"/leader/returns/{leader_request.id}/approve",
                    data={"department_id": str(world.roads.id), "opinion": "同意"})
    assert r.status_code == 403
    assert _state(session, leader_request.id) == ("leader_review", world.sanitation.id)
    denials = session.execute(select(AccessDenial).where(AccessDenial.person_id == world.people[who].id)).scalars()
    assert any("/leader/returns" in (d.target or "") for d in denials)


def test_a_request_decided_meanwhile_is_reported_at_the_top(client, session, catalog, world, leader_request) -> None:  # type: ignore[no-untyped-def]
    svc.reject(session, catalog, leader_request.id, world.actor("principal"), "已处理")
    as_person(client, world.people["deputy"])
    r = client.post(f"/leader/returns/{leader_request.id}/approve",
                    data={"department_id": str(world.roads.id), "opinion": "同意"})
    assert r.status_code == 409
    assert 'id="decision-error"' in r.get_data(as_text=True)
    assert _state(session, leader_request.id) == ("rejected", world.sanitation.id)
