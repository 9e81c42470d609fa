"""The dispatcher's console for complex and difficult cases: dispatching a complex case with
co-operating departments (协办) besides the lead, adding more while it is handled, and reporting
a difficult case up to the district center (上报区城运中心) with a reason. Only active departments
are offered; refusals name the field; a double submit acts once."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow.models import Case, CaseParticipant, Department
from caseflow.services.cases import handling, intake, review, tiers

from .test_dispatch_operations import new_case, token, triggers
from .test_work_pages import as_person, flashes


@pytest.fixture
def more(session, world):  # type: ignore[no-untyped-def]
    """An active third department and a deactivated one."""
    parks = Department(code="PARK", name="绿化所", kind="unit", center=world.street)
    old = Department(code="OLD", name="旧城管中队", kind="unit", center=world.street, active=False)
    session.add_all([parks, old])
    session.commit()
    return parks, old


@pytest.fixture
def dispatcher(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["dispatcher"])
    return client


def tiered(session, catalog, world, tier: str, state: str = "registered"):  # type: ignore[no-untyped-def]
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=disp, title="违法搭建", category_code="road",
                            grid_id=world.grid_main.id, address="四号路")
    tiers.change_tier(session, catalog, case.id, actor=disp, tier=tier, reason="涉及多个部门")
    if state != "reported":
        review.register(session, catalog, case.id, actor=disp)
    if state == "handling":
        handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
        handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    return case


def parts(session, case_id: int) -> dict[int, tuple[str, str]]:  # type: ignore[no-untyped-def]
    session.expire_all()
    rows = session.execute(select(CaseParticipant).where(CaseParticipant.case_id == case_id)).scalars()
    return {p.department_id: (p.role, p.state) for p in rows}


def test_complex_case_dispatched_with_cooperating_departments(dispatcher, session, catalog, world, more) -> None:  # type: ignore[no-untyped-def]
    parks, old = more
    case = tiered(session, catalog, world, "complex")
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    form = page[page.index('id="op-dispatch"'):page.index("</form>", page.index('id="op-dispatch"'))]
    assert 'id="dispatch-cooperating"' in form
    offered = set(re.findall(r'name="cooperating_department_ids" value="(\d+)"', form))
    assert offered == {str(world.sanitation.id), str(world.roads.id), str(parks.id)}  # the inactive one is not
    data = {"department_id": str(world.roads.id), "cooperating_department_ids": [str(world.sanitation.id),
                                                                                  str(parks.id)],
            "form_token": token(page, "op-dispatch")}
    r = dispatcher.post(f"/dispatch/cases/{case.id}/dispatch", data=data, follow_redirects=True)
    assert "已派遣" in flashes(r.get_data(as_text=True))
    r = dispatcher.post(f"/dispatch/cases/{case.id}/dispatch", data=data, follow_redirects=True)  # a double click
    assert "此表单已提交过，操作没有重复执行" in flashes(r.get_data(as_text=True))
    assert parts(session, case.id) == {world.roads.id: ("lead", "assigned"),
                                       world.sanitation.id: ("cooperating", "assigned"),
                                       parks.id: ("cooperating", "assigned")}
    assert triggers(session, case.id).count("dispatch") == 1
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert "绿化所</td><td>协办" in page


def test_a_deactivated_cooperating_department_is_refused_by_name(dispatcher, session, catalog, world, more) -> None:  # type: ignore[no-untyped-def]
    _, old = more
    case = tiered(session, catalog, world, "complex")
    r = dispatcher.post(f"/dispatch/cases/{case.id}/dispatch", follow_redirects=True, data={
        "department_id": str(world.roads.id), "cooperating_department_ids": [str(old.id)]})
    message = flashes(r.get_data(as_text=True))[-1]
    assert message.startswith("协办部门 (cooperating_department_ids):部门 OLD（旧城管中队） 已停用"), message
    session.expire_all()
    assert session.get(Case, case.id).state == "registered"


def test_a_general_case_takes_no_cooperating_departments(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "registered")
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="op-dispatch"' in page and 'id="dispatch-cooperating"' not in page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/dispatch", follow_redirects=True, data={
        "department_id": str(world.sanitation.id), "cooperating_department_ids": [str(world.roads.id)]})
    assert flashes(r.get_data(as_text=True))[-1] == "协办部门 (cooperating_department_ids):此分级的案件派遣时不设协办部门(仅复杂案件)"
    session.expire_all()
    assert session.get(Case, case.id).state == "registered"


def test_inbox_offers_cooperating_departments_for_complex_cases_only(dispatcher, session, catalog, world, more) -> None:  # type: ignore[no-untyped-def]
    _, old = more
    complex_case = tiered(session, catalog, world, "complex")
    general = new_case(session, catalog, world, "registered")
    page = dispatcher.get("/dispatch").get_data(as_text=True)
    section = page[page.index('id="to-dispatch"'):page.index('id="requests"')]

    def row(number: str) -> str:
        start = section.index(f'data-number="{number}"')
        return section[start:section.index("</tr>", start)]

    assert 'name="cooperating_department_ids"' in row(complex_case.number)
    assert 'name="cooperating_department_ids"' not in row(general.number)
    assert f'value="{old.id}"' not in row(complex_case.number)
    r = dispatcher.post(f"/dispatch/cases/{complex_case.id}/dispatch", follow_redirects=True, data={
        "department_id": str(world.roads.id), "cooperating_department_ids": [str(world.sanitation.id)]})
    assert "已派遣" in flashes(r.get_data(as_text=True))
    assert parts(session, complex_case.id)[world.sanitation.id] == ("cooperating", "assigned")


def test_add_cooperating_departments_while_handled(dispatcher, session, catalog, world, more) -> None:  # type: ignore[no-untyped-def]
    parks, old = more
    case = tiered(session, catalog, world, "complex", "handling")
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    start = page.index('id="op-add-cooperating"')
    form = page[start:page.index("</form>", start)]
    offered = set(re.findall(r'name="department_ids" value="(\d+)"', form))
    assert offered == {str(world.sanitation.id), str(parks.id)}  # not the lead, not the inactive one
    inbox = dispatcher.get("/dispatch").get_data(as_text=True)
    assert f"/dispatch/cases/{case.id}/add-cooperating" in inbox

    r = dispatcher.post(f"/dispatch/cases/{case.id}/add-cooperating", data={}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "加入的部门 (department_ids):请选择一项"
    r = dispatcher.post(f"/dispatch/cases/{case.id}/add-cooperating", data={"department_ids": [str(old.id)]},
                        follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1].startswith("加入的部门 (department_ids):部门 OLD（旧城管中队） 已停用")
    data = {"department_ids": [str(parks.id)], "form_token": token(page, "op-add-cooperating")}
    r = dispatcher.post(f"/dispatch/cases/{case.id}/add-cooperating", data=data, follow_redirects=True)
    assert "已增加协办部门" in flashes(r.get_data(as_text=True))
    dispatcher.post(f"/dispatch/cases/{case.id}/add-cooperating", data=data)  # sent twice
    assert parts(session, case.id)[parks.id] == ("cooperating", "assigned")
    assert triggers(session, case.id).count("add_cooperating") == 1
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    start = page.index('id="op-add-cooperating"')
    assert f'value="{parks.id}"' not in page[start:page.index("</form>", start)]  # it takes part now


def test_escalate_a_difficult_case_to_the_district_center(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = tiered(session, catalog, world, "difficult")
    inbox = dispatcher.get("/dispatch").get_data(as_text=True)
    section = inbox[inbox.index('id="to-dispatch"'):inbox.index('id="requests"')]
    row = section[section.index(f'data-number="{case.number}"'):]
    row = row[:row.index("</tr>")]
    assert 'data-action="escalate"' in row and 'data-action="dispatch"' not in row  # it is not dispatched
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="op-escalate"' in page and 'id="op-dispatch"' not in page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/escalate", data={"reason": " "}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "理由 (reason):不能为空"
    data = {"reason": "涉及区级规划和执法部门", "form_token": token(page, "op-escalate")}
    r = dispatcher.post(f"/dispatch/cases/{case.id}/escalate", data=data, follow_redirects=True)
    assert "已上报区城运中心，已通知区级调度和领导" in flashes(r.get_data(as_text=True))
    dispatcher.post(f"/dispatch/cases/{case.id}/escalate", data=data)  # sent twice
    assert triggers(session, case.id).count("escalate_to_district") == 1
    item = session.get(Case, case.id)
    assert (item.state, item.center_id) == ("escalated", world.district.id)
    assert item.data["district"]["reason"] == "涉及区级规划和执法部门"
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="district">示范区城运中心' in page and "涉及区级规划和执法部门" in page
    assert 'id="op-escalate"' not in page
    # It waits in the district center's queue for joint handling.
    assert case.number in dispatcher.get("/queues/escalated").get_data(as_text=True)


def test_escalation_without_a_district_center_names_the_field(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = tiered(session, catalog, world, "difficult")
    world.street.parent = None
    world.district.level = "street"
    session.commit()
    r = dispatcher.post(f"/dispatch/cases/{case.id}/escalate", data={"reason": "需区级协调"}, follow_redirects=True)
    message = flashes(r.get_data(as_text=True))[-1]
    assert message.startswith("区城运中心 (center_id):no district center"), message
    session.expire_all()
    assert session.get(Case, case.id).state == "registered"


def test_other_roles_cannot_take_these_steps(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = tiered(session, catalog, world, "difficult")
    as_person(client, world.people["road_handler"])
    for action in ("escalate", "add-cooperating", "mark-urgent"):
        assert client.post(f"/dispatch/cases/{case.id}/{action}", data={"reason": "x"}).status_code == 403
    session.expire_all()
    assert session.get(Case, case.id).state == "registered"
