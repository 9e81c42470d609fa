"""Withdrawing an extension (延期) or deferral (缓办/挂账) request the dispatcher has not decided yet
(撤回申请): on every case tier through the service, through the API action ``withdraw-request``
and through the handler console's button. Nothing was granted, so no time limit moves; the request
is kept with the decision ``withdrawn`` and the ledger names its kind; a new request may follow.
Only the department that asked may withdraw: never another department nor a dispatcher."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from caseflow.errors import NotFound, PermissionDenied, TransitionRejected
from caseflow.models import AccessDenial, Case, Category, Deadline, LedgerEntry
from caseflow.security.actor import Actor
from caseflow.security.tokens import issue_token
from caseflow.services.cases import extension, handling, intake, review
from tests.web.test_dispatch_operations import new_case, token
from tests.web.test_work_pages import as_person, flashes


def entries(session, case_id: int, trigger: str) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id, LedgerEntry.trigger == trigger)
        .order_by(LedgerEntry.seq)).scalars())


def limits(session, case_id: int) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    """Every deadline row of the case, as it stands."""
    session.expire_all()
    return [(d.id, d.key, d.state, d.status, d.due_at, d.remaining_s) for d in session.execute(
        select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case_id).order_by(Deadline.id)
    ).scalars()]


def _category(session, code: str, tier: str, dept) -> None:  # type: ignore[no-untyped-def]
    session.add(Category(code=code, name=code, field="city", responsible_department=dept, default_tier=tier))
    session.commit()


def case_in_tier(session, catalog, world, tier: str) -> tuple[Case, str]:  # type: ignore[no-untyped-def]
    """A case of ``tier`` in the state its handler asks for time in; the lead's handler."""
    disp = world.actor("dispatcher")
    if tier == "simple":  # handled on the spot by the patrol officer who reported it
        _category(session, "fly_posting", "simple", world.sanitation)
        case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), title="小广告",
                                category_code="fly_posting", grid_id=world.grid_main.id)
        return case, "san_handler"
    if tier == "general":
        return new_case(session, catalog, world, "handling"), "san_handler"
    if tier == "complex":
        _category(session, "illegal_building", "complex", world.roads)
        case, _ = intake.report(session, catalog, channel="hotline", actor=disp, title="违建",
                                category_code="illegal_building", grid_id=world.grid_main.id)
        review.register(session, catalog, case.id, actor=disp)
        handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id,
                          cooperating_department_ids=[world.sanitation.id])
        handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
        return case, "road_handler"
    _category(session, "river", "difficult", world.roads)
    case, _ = intake.report(session, catalog, channel="referral", actor=disp, title="跨区域河道污染",
                            category_code="river", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=disp)
    handling.escalate_to_district(session, catalog, case.id, actor=disp, reason="需区级部门协调")
    handling.start_joint_handling(session, catalog, case.id, actor=disp, department_id=world.roads.id,
                                  cooperating_department_ids=[world.sanitation.id])
    return case, "road_handler"


# --------------------------------------------------------------------------- the service


@pytest.mark.parametrize("tier", ["simple", "general", "complex", "difficult"])
def test_withdraw_a_pending_extension_on_every_tier(session, catalog, world, tier) -> None:  # type: ignore[no-untyped-def]
    case, handler = case_in_tier(session, catalog, world, tier)
    actor = world.actor(handler)
    extension.request_extension(session, catalog, case.id, actor=actor, duration="1d", reason="等待配件")
    state, before = session.get(Case, case.id).state, limits(session, case.id)
    assert any(row[3] == "pending" for row in before)  # a limit runs: it must not move

    case = extension.withdraw_request(session, catalog, case.id, actor=actor, reason="配件已到")
    assert case.state == state and limits(session, case.id) == before
    data = session.get(Case, case.id).data
    assert not data.get("pending_request") and not data.get("deferred")
    last = data["requests"][-1]
    assert last["kind"] == "extension" and last["duration"] == "1d" and last["reason"] == "等待配件"
    assert last["decision"] == "withdrawn" and last["decision_reason"] == "配件已到"
    assert last["decided_by"] == world.people[handler].id and "granted" not in last
    (entry,) = entries(session, case.id, "withdraw_request")
    assert entry.from_state == entry.to_state == state and entry.actor_id == world.people[handler].id
    assert entry.payload["request_kind"] == "extension" and entry.payload["reason"] == "配件已到"
    assert entry.payload["requesting_department_id"] == world.people[handler].department_id
    assert "deadlines_moved" not in entry.payload and "deadlines_paused" not in entry.payload

    # Nothing waits any more: a new request may be made at once, and decided as usual.
    extension.request_deferral(session, catalog, case.id, actor=actor, reason="等待审批")
    assert session.get(Case, case.id).data["pending_request"]["kind"] == "deferral"
    extension.reject_deferral(session, catalog, case.id, actor=world.actor("dispatcher"), reason="先行处置")
    assert [r["decision"] for r in session.get(Case, case.id).data["requests"]] == ["withdrawn", "refused"]


def test_withdraw_a_pending_deferral_then_ask_for_an_extension(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    handler = world.actor("san_handler")
    extension.request_deferral(session, catalog, case.id, actor=handler, reason="等待规划审批")
    before = limits(session, case.id)
    case = extension.withdraw_request(session, catalog, case.id, actor=handler)  # no reason needed
    assert case.state == "handling" and limits(session, case.id) == before
    data = session.get(Case, case.id).data
    assert not data.get("deferred") and not data.get("pending_request")
    assert data["requests"][-1]["kind"] == "deferral" and data["requests"][-1]["decision"] == "withdrawn"
    (entry,) = entries(session, case.id, "withdraw_request")
    assert entry.payload["request_kind"] == "deferral"
    # The dispatcher has nothing left to decide.
    with pytest.raises(TransitionRejected):
        extension.approve_deferral(session, catalog, case.id, actor=world.actor("dispatcher"), reason="同意")
    extension.request_extension(session, catalog, case.id, actor=handler, duration="4h", reason="雨天")
    extension.approve_extension(session, catalog, case.id, actor=world.actor("dispatcher"), reason="同意")
    decisions = [(r["kind"], r["decision"]) for r in session.get(Case, case.id).data["requests"]]
    assert decisions == [("deferral", "withdrawn"), ("extension", "approved")]


def test_nothing_pending_is_refused_in_words(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    handler = world.actor("san_handler")
    with pytest.raises(TransitionRejected) as info:
        extension.withdraw_request(session, catalog, case.id, actor=handler)
    assert "nothing to withdraw" in info.value.message and info.value.details["guard"] == "request_pending"
    # Decided already: nothing to withdraw either.
    extension.request_extension(session, catalog, case.id, actor=handler, duration="1d", reason="x")
    extension.reject_extension(session, catalog, case.id, actor=world.actor("dispatcher"), reason="不同意")
    with pytest.raises(TransitionRejected):
        extension.withdraw_request(session, catalog, case.id, actor=handler)
    assert entries(session, case.id, "withdraw_request") == []
    assert session.get(Case, case.id).data["requests"][-1]["decision"] == "refused"


def test_only_the_department_that_asked_withdraws(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="1d",
                                reason="等待配件")
    # Another department does not even learn the case exists; a dispatcher may not withdraw it.
    with pytest.raises(NotFound):
        extension.withdraw_request(session, catalog, case.id, actor=world.actor("road_handler"))
    with pytest.raises(PermissionDenied):
        extension.withdraw_request(session, catalog, case.id, actor=world.actor("dispatcher"))
    assert session.get(Case, case.id).data["pending_request"]["kind"] == "extension"
    # A colleague of the same department may.
    extension.withdraw_request(session, catalog, case.id, actor=world.actor("san_head"))
    assert session.get(Case, case.id).data["requests"][-1]["decided_by"] == world.people["san_head"].id


def test_a_new_holder_cannot_withdraw_the_previous_departments_request(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    disp = world.actor("dispatcher")
    extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="1d",
                                reason="等待配件")
    handling.redispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id, reason="派错")
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    before = len(session.execute(select(AccessDenial)).all())
    with pytest.raises(PermissionDenied):
        extension.withdraw_request(session, catalog, case.id, actor=world.actor("road_handler"))
    assert len(session.execute(select(AccessDenial)).all()) == before + 1  # kept for audit
    session.expire_all()
    assert session.get(Case, case.id).data["pending_request"]["department_id"] == world.sanitation.id
    assert entries(session, case.id, "withdraw_request") == []


def test_a_cooperating_department_cannot_withdraw_the_leads_request(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case, lead = case_in_tier(session, catalog, world, "complex")
    extension.request_deferral(session, catalog, case.id, actor=world.actor(lead), reason="等待审批")
    with pytest.raises(TransitionRejected) as info:
        extension.withdraw_request(session, catalog, case.id, actor=world.actor("san_handler"))  # co-operating
    assert info.value.details["guard"] == "actor_in_lead"
    assert session.get(Case, case.id).data["pending_request"]["kind"] == "deferral"


# --------------------------------------------------------------------------- the API


def bearer(session, world, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, username, person=world.people[username])}"}


def test_api_withdraw_request(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    san, road = bearer(session, world, "san_handler"), bearer(session, world, "road_handler")
    disp = bearer(session, world, "dispatcher")
    url = f"/api/cases/{case.id}"
    assert "withdraw-request" in client.get(url, headers=san).json["available_actions"]
    assert "withdraw-request" not in client.get(url, headers=disp).json["available_actions"]

    # Nothing waits: 409 saying so.
    r = client.post(f"{url}/withdraw-request", json={}, headers=san)
    assert r.status_code == 409, r.json
    assert r.json["status"] == "rejected" and "nothing to withdraw" in r.json["message"]
    assert r.json["errors"]["guard"] == "request_pending"

    r = client.post(f"{url}/request-extension", json={"duration": "2h", "reason": "车辆故障"}, headers=san)
    assert r.status_code == 200, r.json
    before = limits(session, case.id)
    assert client.post(f"{url}/withdraw-request", json={"reason": "x"}, headers=road).status_code == 404
    r = client.post(f"{url}/withdraw-request", json={"reason": "x"}, headers=disp)
    assert r.status_code == 403, r.json
    r = client.post(f"{url}/withdraw-request", json={"reason": "车已修好"}, headers=san)
    assert r.status_code == 200, r.json
    assert r.json["state"] == "handling" and not r.json["record"].get("pending_request")
    assert r.json["record"]["requests"][-1]["decision"] == "withdrawn"
    assert limits(session, case.id) == before
    detail = client.get(url, headers=san).json
    assert detail["ledger"][-1]["trigger"] == "withdraw_request"
    assert detail["ledger"][-1]["payload"]["request_kind"] == "extension"
    assert client.post(f"{url}/withdraw-request", json={}, headers=san).status_code == 409  # once only
    r = client.post(f"{url}/request-deferral", json={"reason": "等待审批"}, headers=san)
    assert r.status_code == 200 and r.json["record"]["pending_request"]["kind"] == "deferral"


def test_openapi_documents_the_action(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/openapi.json").json
    post = spec["paths"]["/api/cases/{case_id}/{action}"]["post"]
    assert "withdraw-request" in post.get("summary", "") + post.get("description", "")


# --------------------------------------------------------------------------- the console


@pytest.fixture
def handler(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    return client


def test_console_button_withdraws_the_pending_request(handler, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    url = f"/handler/cases/{case.id}"
    assert 'id="withdraw-request-form"' not in handler.get(url).get_data(as_text=True)
    r = handler.post(f"{url}/withdraw-request", data={}, follow_redirects=True)  # nothing waits
    assert flashes(r.get_data(as_text=True))[-1] == "没有待审批的申请"

    extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="1d",
                                reason="等待配件")
    before = limits(session, case.id)
    page = handler.get(url).get_data(as_text=True)
    pending = page[page.index('id="pending-request"'):page.index('id="pending-request"') + 2000]
    assert 'id="withdraw-request-form"' in pending and ">撤回申请</button>" in pending
    data = {"form_token": token(page, "withdraw-request-form")}
    r = handler.post(f"{url}/withdraw-request", data=data, follow_redirects=True)
    assert "申请已撤回" in flashes(r.get_data(as_text=True))
    r = handler.post(f"{url}/withdraw-request", data=data, follow_redirects=True)  # a double tap
    assert "此表单已提交过，操作没有重复执行" in flashes(r.get_data(as_text=True))
    assert len(entries(session, case.id, "withdraw_request")) == 1
    assert limits(session, case.id) == before

    page = handler.get(url).get_data(as_text=True)
    assert 'id="pending-request"' not in page and 'id="withdraw-request-form"' not in page
    assert 'id="last-request" data-decision="withdrawn"' in page and "已撤回" in page
    assert 'id="request-extension-form"' in page and 'id="request-deferral-form"' in page  # may ask again


def test_console_in_english(handler, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    extension.request_deferral(session, catalog, case.id, actor=world.actor("san_handler"), reason="等待审批")
    url = f"/handler/cases/{case.id}"
    page = handler.get(f"{url}?lang=en").get_data(as_text=True)
    assert ">Withdraw request</button>" in page
    r = handler.post(f"{url}/withdraw-request", data={"reason": "permit came"}, follow_redirects=True)
    assert "Request withdrawn" in flashes(r.get_data(as_text=True))
    page = r.get_data(as_text=True)
    assert 'data-decision="withdrawn"' in page and "withdrawn" in page and "permit came" in page
    assert entries(session, case.id, "withdraw_request")[0].payload["reason"] == "permit came"


def test_console_out_of_reach(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case, lead = case_in_tier(session, catalog, world, "complex")
    extension.request_extension(session, catalog, case.id, actor=world.actor(lead), duration="1d", reason="需协调")
    url = f"/handler/cases/{case.id}"
    as_person(client, world.people["san_handler"])  # co-operating: sees the case, not the button
    page = client.get(url).get_data(as_text=True)
    assert 'id="withdraw-request-form"' not in page
    r = client.post(f"{url}/withdraw-request", data={}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "只有主办部门可以进行此操作"
    other = new_case(session, catalog, world, "handling", title="另一件")
    extension.request_extension(session, catalog, other.id, actor=world.actor("san_handler"), duration="1d",
                                reason="x")
    as_person(client, world.people["road_handler"])  # another department's case: not found
    assert client.post(f"/handler/cases/{other.id}/withdraw-request", data={}).status_code == 404
    assert entries(session, case.id, "withdraw_request") == entries(session, other.id, "withdraw_request") == []
    as_person(client, world.people["road_handler"])  # the lead of the complex case
    page = client.get(url).get_data(as_text=True)
    assert 'id="withdraw-request-form"' in page
    r = client.post(f"{url}/withdraw-request", data={}, follow_redirects=True)
    assert "申请已撤回" in flashes(r.get_data(as_text=True))


def test_a_machine_client_cannot_withdraw(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    """A client without a person (a machine) has no department: never the one that asked."""
    case = new_case(session, catalog, world, "handling")
    extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="1d",
                                reason="x")
    with pytest.raises((PermissionDenied, NotFound)):
        extension.withdraw_request(session, catalog, case.id, actor=Actor.client_of("hotline"))
    assert session.get(Case, case.id).data["pending_request"]["kind"] == "extension"
