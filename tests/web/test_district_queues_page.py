"""The escalated and joint-handling queues in the dispatcher's and leader's console."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.models import Case, CaseParticipant
from caseflow.services.cases import handling, intake, review, tiers

from .test_work_pages import as_person, flashes


def escalated_case(session, catalog, world, title: str = "跨区域违建"):  # type: ignore[no-untyped-def]
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=disp, title=title, category_code="road",
                            grid_id=world.grid_main.id)
    tiers.change_tier(session, catalog, case.id, actor=disp, tier="difficult", reason="涉及多个部门")
    review.register(session, catalog, case.id, actor=disp)
    handling.escalate_to_district(session, catalog, case.id, actor=disp, reason="街道无法协调")
    return case


@pytest.mark.parametrize("who", ["dispatcher", "deputy"])
def test_escalated_then_joint_handling(client, session, catalog, world, who) -> None:  # type: ignore[no-untyped-def]
    case = escalated_case(session, catalog, world)
    waiting = escalated_case(session, catalog, world, title="另一件")
    as_person(client, world.people[who])
    page = client.get("/queues/").get_data(as_text=True)
    assert '<a href="/queues/" class="active">上报与联合处置</a>' in page  # linked in the top bar
    assert case.number in page and waiting.number in page and "街道无法协调" in page
    assert page.index(case.number) < page.index(waiting.number)  # the longest waiting first
    assert 'data-queue="escalated" class="active"' in page and '<span class="count">2</span>' in page
    if who == "dispatcher":  # the number opens the dispatcher's case page, whatever the state
        assert f'href="/dispatch/cases/{case.id}"' in page
        detail = client.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
        assert '<span id="state">已上报区城运中心</span>' in detail and 'data-trigger="escalate_to_district"' in detail
    r = client.post(f"/queues/cases/{case.id}/start-joint", data={"cooperating_department_ids": [str(world.roads.id)]},
                    follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "部门 (department_id):请选择一项"
    r = client.post(f"/queues/cases/{case.id}/start-joint", follow_redirects=True, data={
        "department_id": str(world.roads.id), "cooperating_department_ids": [str(world.sanitation.id)]})
    assert "已启动联合处置" in flashes(r.get_data(as_text=True))
    session.expire_all()
    assert session.get(Case, case.id).state == "joint_handling"
    page = client.get("/queues/joint").get_data(as_text=True)
    assert case.number in page and waiting.number not in page and "市政养护所(主办" in page
    # A department applies to bring in more; the center approves it from the queue.
    handling.apply_joint_handling(session, catalog, case.id, actor=world.actor("san_handler"), reason="需执法配合",
                                  department_ids=[world.roads.id])
    page = client.get("/queues/joint").get_data(as_text=True)
    assert "需执法配合" in page and 'data-action="approve-joint"' in page
    r = client.post(f"/queues/cases/{case.id}/approve-joint", data={}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "加入的部门 (department_ids):请选择一项"
    r = client.post(f"/queues/cases/{case.id}/approve-joint", data={"department_ids": [str(world.roads.id)]},
                    follow_redirects=True)
    assert "已同意，相关部门加入协办" in flashes(r.get_data(as_text=True))
    session.expire_all()
    assert not session.get(Case, case.id).data.get("joint_application")
    parts = session.execute(select(CaseParticipant.department_id).where(CaseParticipant.case_id == case.id)).scalars()
    assert set(parts) == {world.roads.id, world.sanitation.id}


def test_english_and_who_may_open(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    escalated_case(session, catalog, world)
    as_person(client, world.people["dispatcher"])
    page = client.get("/queues/escalated?lang=en").get_data(as_text=True)
    assert ">Escalated and joint cases</h1>" in page and "Awaiting the district center" in page
    for who in ("san_handler", "liaison", "duty_officer"):
        as_person(client, world.people[who])
        assert client.get("/queues/joint").status_code == 403
        assert "/queues/" not in client.get("/").get_data(as_text=True)
