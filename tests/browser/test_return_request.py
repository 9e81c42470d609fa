"""A handler on a phone asks to return a misrouted case; the dispatcher approves it in the inbox."""
from __future__ import annotations


import pytest
from sqlalchemy import select

from caseflow.models import ReturnRequest

from .conftest import PHONE
from .pages import sign_in, sign_out
from .test_handler_phone import dispatched_case

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_handler_requests_a_return_and_the_dispatcher_approves(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    # A road-damage report sent to sanitation by mistake.
    case = dispatched_case(session, catalog, world, title="路面塌陷（误派环卫）")
    session.commit()
    page = open_browser(viewport=PHONE, is_mobile=True, has_touch=True)
    sign_in(page, "san_handler")
    page.goto(f"/handler/cases/{case.id}")
    page.click("#return-form summary")
    page.fill('#return-form textarea[name=reason]', "路面塌陷属市政养护职责")
    page.fill('#return-form textarea[name=basis]', "《城市道路管理条例》第三十条")
    page.select_option('#return-form select[name=suggested_department_id]', str(world.roads.id))
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "request")
    with page.expect_navigation():
        page.click('#return-form [data-action="return"]')
    assert "退单申请已提交" in page.locator(".flash.ok").inner_text(), page.locator(".flash").all_inner_texts()
    sign_out(page)

    desk = open_browser()
    sign_in(desk, "dispatcher")
    row = desk.locator(f'#returns tr[data-number="{case.number}"]')
    assert "路面塌陷属市政养护职责" in row.inner_text()
    # The department the handler suggested is preselected for the re-dispatch.
    assert row.locator('select[name="department_id"]').input_value() == str(world.roads.id)
    shot(desk, "inbox")
    with desk.expect_navigation():
        row.locator('[data-action="approve-return"]').click()
    assert "已同意退单" in desk.locator(".flash.ok").inner_text(), desk.locator(".flash").all_inner_texts()
    assert desk.locator(f'#returns tr[data-number="{case.number}"]').count() == 0
    shot(desk)

    session.expire_all()
    request = session.execute(select(ReturnRequest).where(ReturnRequest.case_id == case.id)).scalar_one()
    assert request.state == "approved" and request.requested_by_id == world.people["san_handler"].id
