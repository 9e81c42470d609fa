"""In a real browser (CSRF on, under the CSP): the leader opens the return requests waiting for
review from the dashboard, is told which field is missing without losing what was typed, and
decides; a co-operating department signs for and reports its part on a phone."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from caseflow.models import Case, CaseParticipant, Category, ReturnRequest
from caseflow.services.cases import handling, intake, review

from .conftest import PHONE
from .pages import sign_in, sign_out, watch_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_leader_reviews_a_repeated_return_request(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    from caseflow.services import returns as svc

    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="路面塌陷",
                            category_code="garbage", address="和平路 3 号", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    first = svc.request_return(session, catalog, case.id, world.actor("san_handler"), "属道路养护职责", "职责清单第3条")
    svc.reject(session, catalog, first.id, world.actor("dispatcher"), "环卫所负责路面保洁")
    second = svc.request_return(session, catalog, case.id, world.actor("san_handler"), "路面塌陷非保洁问题",
                                "区政府关于道路设施管养分工的通知", suggested_department_id=world.roads.id)
    session.commit()

    page = open_browser()
    problems = watch_problems(page)
    sign_in(page, "deputy")
    assert page.locator("#returns-waiting .count").inner_text() == "1"
    with page.expect_navigation():
        page.click("#leader-returns-link")
    card = page.locator(f"#return-{second.id}")
    assert "环卫所负责路面保洁" in card.inner_text()
    assert card.locator('select[name="department_id"]').input_value() == str(world.roads.id)
    # Only spaces: the browser lets it through (required is satisfied), the server names the field.
    card.locator('textarea[name="opinion"]').fill("   ")
    with page.expect_navigation():
        card.locator('[data-action="reject-return"]').click()
    card = page.locator(f"#return-{second.id}")
    assert card.locator('.flash.error[data-field="opinion"]').count() == 1
    assert card.locator('select[name="department_id"]').input_value() == str(world.roads.id)
    shot(page, "refused")
    card.locator('textarea[name="opinion"]').fill("依据充分，同意改派市政养护所")
    with page.expect_navigation():
        card.locator('[data-action="approve-return"]').click()
    assert "已同意退单" in page.locator(".flash.ok").inner_text(), page.locator(".flash").all_inner_texts()
    assert page.locator(f"#return-{second.id}").count() == 0
    shot(page)
    # The 422 answer of the refused attempt is the one expected "problem".
    assert [p for p in problems if "/leader/returns/" not in p] == []

    session.expire_all()
    rr = session.get(ReturnRequest, second.id)
    assert rr.state == "approved" and rr.decision_reason == "依据充分，同意改派市政养护所"
    assert session.get(Case, case.id).department_id == world.roads.id


def test_cooperating_department_reports_its_part_on_a_phone(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    session.add(Category(code="illegal_building", name="违法搭建", field="city", responsible_department=world.roads,
                         default_tier="complex"))
    session.commit()
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("dispatcher"), title="违法搭建",
                            category_code="illegal_building", grid_id=world.grid_main.id, address="四号路")
    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.roads.id,
                      cooperating_department_ids=[world.sanitation.id])
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    session.commit()

    page = open_browser(viewport=PHONE, is_mobile=True, has_touch=True)
    problems = watch_problems(page)
    sign_in(page, "san_handler")
    page.goto(f"/handler/cases/{case.id}")
    assert page.locator('[data-action="sign"]').count() == 0
    with page.expect_navigation():
        page.click('[data-action="sign-part"]')
    assert "已签收本部门协办任务" in page.locator(".flash.ok").inner_text()
    page.fill('#report-part-form textarea[name="part_result"]', "已清运建筑垃圾")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "part")
    with page.expect_navigation():
        page.click('[data-action="report-part"]')
    assert "协办结果已提交" in page.locator(".flash.ok").inner_text(), page.locator(".flash").all_inner_texts()
    assert page.locator("#part-result").inner_text() == "已清运建筑垃圾"
    shot(page)
    sign_out(page)
    assert problems == []

    session.expire_all()
    part = session.execute(select(CaseParticipant).where(CaseParticipant.case_id == case.id,
                                                         CaseParticipant.department_id == world.sanitation.id)).scalar_one()
    assert part.state == "reported" and part.result == "已清运建筑垃圾"
