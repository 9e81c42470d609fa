"""A liaison signs and dispatches an instruction on the board and watches its countdown."""
from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import select

from caseflow.models import Instruction, utcnow
from caseflow.services import instructions as svc

from .pages import sign_in, watch_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _receive(session, catalog, world, number: str) -> Instruction:  # type: ignore[no-untyped-def]
    item, _ = svc.receive(session, catalog, actor=world.actor("liaison"), number=number, category="garbage",
                          received_at=utcnow(), grid="G01", address="一号路口", description="垃圾堆放")
    return item


def _left(page, number: str) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    cell = page.locator(f'tr[data-number="{number}"] [data-due]')
    return int(cell.get_attribute("data-left")), cell.inner_text()


def test_liaison_signs_dispatches_and_watches_the_countdown(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    first = _receive(session, catalog, world, "ZL-BROWSER-1")
    session.commit()
    page = open_browser()
    problems = watch_problems(page)
    sign_in(page, "liaison")
    assert page.url.endswith("/liaison")
    row = page.locator('tr[data-number="ZL-BROWSER-1"]')
    assert row.get_attribute("data-state") == "received"
    shot(page, "received")

    with page.expect_navigation():
        row.locator('[data-action="sign"]').click()
    assert "已签收" in page.locator(".flash.ok").inner_text()
    row = page.locator('tr[data-number="ZL-BROWSER-1"]')
    assert row.get_attribute("data-state") == "signed"
    # The category's responsible unit is preselected.
    assert row.locator('select[name="department_id"]').input_value() == str(world.sanitation.id)
    with page.expect_navigation():
        row.locator('[data-action="dispatch"]').click()
    assert "已派遣" in page.locator(".flash.ok").inner_text()
    row = page.locator('tr[data-number="ZL-BROWSER-1"]')
    assert row.get_attribute("data-state") == "dispatched"

    # The countdown ticks every second from the server's due time: 30 minutes in the main urban area.
    left1, text1 = _left(page, "ZL-BROWSER-1")
    time.sleep(2)
    left2, text2 = _left(page, "ZL-BROWSER-1")
    assert 25 * 60 < left2 < left1 <= 30 * 60
    assert 1 <= left1 - left2 <= 4, (left1, left2)
    assert text1 != text2 and re.search(r"\d+ 分 \d+ 秒", text2)
    assert "risk-ok" in row.locator("[data-due]").get_attribute("class")  # over half left: green
    assert "risk-row-ok" in row.get_attribute("class")
    shot(page)

    assert problems == []  # nothing refused by the CSP, no script errors
    session.expire_all()
    stored = session.get(Instruction, first.id)
    assert stored.state == "dispatched" and stored.department_id == world.sanitation.id
    session.rollback()

    # A new instruction from 110 shows up by itself within the 15-second refresh, without a reload.
    _receive(session, catalog, world, "ZL-BROWSER-2")
    session.commit()
    page.wait_for_selector('tr[data-number="ZL-BROWSER-2"]', timeout=20000)
    assert page.locator("#board-count").inner_text() == "2"
    assert "已刷新" in page.locator("#board-status").inner_text()
    # The new one (5 minutes to sign) is above the dispatched one (30 minutes to arrive).
    numbers = page.locator("#instructions tbody tr").evaluate_all("rows => rows.map(r => r.dataset.number)")
    assert numbers == ["ZL-BROWSER-2", "ZL-BROWSER-1"]
    assert session.execute(select(Instruction).where(Instruction.number == "ZL-BROWSER-2")).scalar_one().state == "received"
    assert problems == []
    shot(page, "refreshed")
