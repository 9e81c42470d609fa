"""The handler's requests on the case page: an extension (延期, duration and reason) or a deferral
(缓办/挂账) asked of the dispatcher, and an application for joint handling (申请联合处置); each
through the service the API calls, done once however often the form is sent, refusals naming
the field, and the request's state (waiting, approved, refused, deferred) shown on the page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.models import Case, Department, LedgerEntry
from caseflow.services.cases import extension, handling, intake, review, tiers

from .test_dispatch_operations import new_case, token
from .test_work_pages import as_person, flashes


def entries(session, case_id: int, trigger: str) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id, LedgerEntry.trigger == trigger)
        .order_by(LedgerEntry.seq)).scalars())


@pytest.fixture
def handler(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    return client


def test_extension_is_asked_once_and_its_state_shown(handler, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    url = f"/handler/cases/{case.id}"
    page = handler.get(url).get_data(as_text=True)
    assert 'id="request-extension-form"' in page and 'id="request-deferral-form"' in page
    assert 'id="request-state"' not in page
    r = handler.post(f"{url}/request-extension", data={"duration": "four", "reason": "等待配件"},
                     follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1].startswith("延期时长 (duration):须写成")
    r = handler.post(f"{url}/request-extension", data={"duration": "1d"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "理由 (reason):不能为空"
    assert entries(session, case.id, "request_extension") == []

    data = {"duration": "1d", "reason": "等待配件", "form_token": token(page, "request-extension-form")}
    r = handler.post(f"{url}/request-extension", data=data, follow_redirects=True)
    assert "延期申请已提交，待调度员审批" in flashes(r.get_data(as_text=True))
    r = handler.post(f"{url}/request-extension", data=data, follow_redirects=True)  # a double tap
    assert "此表单已提交过，操作没有重复执行" in flashes(r.get_data(as_text=True))
    (entry,) = entries(session, case.id, "request_extension")
    assert entry.actor_id == world.people["san_handler"].id and entry.payload["duration"] == "1d"
    assert session.get(Case, case.id).data["pending_request"]["kind"] == "extension"

    page = handler.get(url).get_data(as_text=True)
    assert 'id="pending-request" data-kind="extension"' in page and "待调度员审批" in page and "等待配件" in page
    assert 'id="request-extension-form"' not in page  # one request at a time
    # A second request while one waits is refused by the workflow, in words.
    r = handler.post(f"{url}/request-deferral", data={"reason": "再等等"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "已有申请待审批"

    extension.approve_extension(session, catalog, case.id, actor=world.actor("dispatcher"), reason="同意顺延")
    page = handler.get(url).get_data(as_text=True)
    assert 'id="last-request" data-decision="approved"' in page and "同意顺延" in page
    assert 'id="pending-request"' not in page and 'id="request-extension-form"' in page


def test_deferral_refused_then_approved_shows_the_case_deferred(handler, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    url = f"/handler/cases/{case.id}"
    handler.post(f"{url}/request-deferral", data={"reason": "等待规划审批"})
    extension.reject_deferral(session, catalog, case.id, actor=world.actor("dispatcher"), reason="先行处置")
    page = handler.get(url).get_data(as_text=True)
    assert 'id="last-request" data-decision="refused"' in page and "已驳回" in page and "先行处置" in page

    handler.post(f"{url}/request-deferral", data={"reason": "审批文件未到"})
    assert len(entries(session, case.id, "request_deferral")) == 2
    extension.approve_deferral(session, catalog, case.id, actor=world.actor("dispatcher"), reason="同意挂账")
    page = handler.get(url).get_data(as_text=True)
    assert 'id="deferred"' in page and 'id="deferred-note"' in page
    # While deferred no new request is offered, and a result cannot be reported either.
    assert 'id="extension-form"' not in page
    r = handler.post(f"{url}/request-extension", data={"duration": "4h", "reason": "x"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "案件处于缓办(挂账)状态，请先恢复办理"


def test_in_english_and_out_of_reach(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    as_person(client, world.people["san_handler"])
    page = client.get(f"/handler/cases/{case.id}?lang=en").get_data(as_text=True)
    assert ">Ask for an extension</button>" in page and ">Ask for a deferral</button>" in page
    r = client.post(f"/handler/cases/{case.id}/request-extension", data={"duration": "2h"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "Reason (reason): is required"
    # Another department's case is not found, and nothing is asked.
    as_person(client, world.people["road_handler"])
    assert client.post(f"/handler/cases/{case.id}/request-extension",
                       data={"duration": "2h", "reason": "x"}).status_code == 404
    assert client.post(f"/handler/cases/{case.id}/apply-joint", data={"reason": "x"}).status_code == 404
    assert entries(session, case.id, "request_extension") == []


def test_only_the_lead_asks_for_time_in_a_complex_case(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=disp, title="违法搭建", category_code="road",
                            grid_id=world.grid_main.id)
    tiers.change_tier(session, catalog, case.id, actor=disp, tier="complex", reason="多部门")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id,
                      cooperating_department_ids=[world.sanitation.id])
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    as_person(client, world.people["san_handler"])  # co-operating
    page = client.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    assert 'id="extension-form"' not in page
    r = client.post(f"/handler/cases/{case.id}/request-extension", data={"duration": "1d", "reason": "x"},
                    follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "只有主办部门可以进行此操作"
    as_person(client, world.people["road_handler"])  # the lead
    page = client.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    assert 'id="request-extension-form"' in page
    r = client.post(f"/handler/cases/{case.id}/request-extension", data={"duration": "1d", "reason": "需要协调"},
                    follow_redirects=True)
    assert "延期申请已提交，待调度员审批" in flashes(r.get_data(as_text=True))
    assert len(entries(session, case.id, "request_extension")) == 1


def test_joint_handling_application_from_a_part(handler, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    parks = Department(code="PARK", name="绿化所", kind="unit", center=world.street)
    old = Department(code="OLD", name="旧城管中队", kind="unit", center=world.street, active=False)
    session.add_all([parks, old])
    session.commit()
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=disp, title="跨区域违建", category_code="road",
                            grid_id=world.grid_main.id)
    tiers.change_tier(session, catalog, case.id, actor=disp, tier="difficult", reason="需区级协调")
    review.register(session, catalog, case.id, actor=disp)
    url = f"/handler/cases/{case.id}"
    assert handler.get(url).status_code == 404  # not yet a part of it: not found
    handling.escalate_to_district(session, catalog, case.id, actor=disp, reason="街道无法协调")
    handling.start_joint_handling(session, catalog, case.id, actor=disp, department_id=world.roads.id,
                                  cooperating_department_ids=[world.sanitation.id])

    page = handler.get(url).get_data(as_text=True)
    joint = page[page.index('id="joint"'):]
    assert 'id="apply-joint-form"' in joint
    assert f'name="department_ids" value="{parks.id}"' in joint  # active, not yet taking part
    assert f'value="{old.id}"' not in joint  # deactivated: never offered
    assert f'name="department_ids" value="{world.roads.id}"' not in joint  # already takes part
    r = handler.post(f"{url}/apply-joint", data={"department_ids": [str(parks.id)]}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "理由 (reason):不能为空"
    r = handler.post(f"{url}/apply-joint", data={"reason": "x", "department_ids": [str(old.id)]},
                     follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1].startswith("加入的部门 (department_ids):部门 OLD（旧城管中队） 已停用")

    data = {"reason": "需绿化部门配合", "department_ids": [str(parks.id)],
            "form_token": token(page, "apply-joint-form")}
    r = handler.post(f"{url}/apply-joint", data=data, follow_redirects=True)
    assert "联合处置申请已提交" in flashes(r.get_data(as_text=True))
    handler.post(f"{url}/apply-joint", data=data)  # sent twice
    (entry,) = entries(session, case.id, "apply_joint_handling")
    assert entry.payload["department_ids"] == [parks.id]
    page = handler.get(url).get_data(as_text=True)
    assert 'id="joint-pending"' in page and "需绿化部门配合" in page and 'id="apply-joint-form"' not in page

    handling.approve_joint_handling(session, catalog, case.id, actor=disp, department_ids=[parks.id])
    page = handler.get(url).get_data(as_text=True)
    assert 'id="joint-approved"' in page and 'id="apply-joint-form"' in page  # may apply again
