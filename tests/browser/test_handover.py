"""The outgoing duty lead opens and hands over; the incoming lead accepts each open item and
completes the handover."""
from __future__ import annotations

import pytest

from caseflow.models import DutyShift, Handover, HandoverItem
from caseflow.services import transition
from tests.integration.duty_support import lead_actor, plan, running_instruction

from .pages import sign_in, sign_out

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_duty_lead_completes_a_handover(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    running_instruction(session, catalog, world)  # an open item the next shift must take over
    session.commit()
    outgoing = world.people["duty_lead"]
    assert shifts[0].lead_id == outgoing.id and shifts[1].lead_id == world.people["duty_lead2"].id

    page = open_browser()
    sign_in(page, "duty_lead")
    assert page.url.endswith("/duty")
    assert "duty_lead" in page.locator("#shift").inner_text()
    shot(page, "duty")
    with page.expect_navigation():
        page.click("#handover-link")
    with page.expect_navigation():
        page.click('[data-action="open"]')
    assert "未结事项已汇总" in page.locator(".flash.ok").inner_text()
    items = page.locator("#checklist li[data-item]")
    assert items.count() >= 2  # the instruction and its running arrival deadline
    assert "ZL" in items.first.inner_text() or "110-" in items.first.inner_text()
    page.fill('#notes textarea[name=note]', "110-0001 环卫所已在路上")
    with page.expect_navigation():
        page.click('#notes button[type=submit]')
    assert "环卫所已在路上" in page.locator("#notes").inner_text()
    with page.expect_navigation():
        page.click('[data-action="submit"]')
    assert page.locator("#handover-state").get_attribute("data-state") == "reviewing"
    shot(page, "handed-over")
    sign_out(page)

    sign_in(page, "duty_lead2")
    page.goto("/duty/handover/")
    complete = page.locator('[data-action="complete"]')
    assert complete.is_disabled()  # not before every item is accepted
    count = items.count()
    for _ in range(count):
        with page.expect_navigation():
            page.locator('#checklist [data-action="accept"]').first.click()
    assert page.locator('#checklist li[data-status="accepted"]').count() == count
    shot(page, "accepted")
    with page.expect_navigation():
        page.click('[data-action="complete"]')
    assert "交接班已完成" in page.locator(".flash.ok").inner_text()
    assert page.locator("#handover-state").get_attribute("data-state") == "completed"
    shot(page)

    session.expire_all()
    handover = session.query(Handover).one()
    assert handover.state == "completed"
    assert {i.status for i in session.query(HandoverItem).filter_by(handover_id=handover.id)} == {"accepted"}
    assert session.get(DutyShift, shifts[0].id).state == "closed"
    assert session.get(DutyShift, shifts[1].id).state == "on_duty"
