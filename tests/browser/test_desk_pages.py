"""The dispatcher's inbox and the leader's dashboard in a real browser: they work under the
content security policy (no script or style refused), the map is drawn, the buttons act."""
from __future__ import annotations

import pytest

from caseflow.models import Case, EscalationRun
from caseflow.services.cases import intake

from .pages import sign_in, sign_out, watch_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def square(lon: float, lat: float, size: float = 0.01) -> dict:  # type: ignore[type-arg]
    """A GeoJSON square polygon with its south-west corner at (lon, lat)."""
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def test_dispatcher_registers_and_leader_acknowledges(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    world.grid_main.shape = square(121.47, 31.23)
    world.grid_other.shape = square(121.48, 31.23)
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="井盖缺失",
                            category_code="road", grid_id=world.grid_main.id, address="四号路")
    run = EscalationRun(item_type="case", item_id=case.id, chain="overdue_review", state="reported",
                        state_seq=case.state_seq, steps=[], status="active")
    session.add(run)
    session.commit()
    page = open_browser()
    problems = watch_problems(page)

    sign_in(page, "dispatcher")
    row = page.locator(f'#review tr[data-number="{case.number}"]')
    assert "井盖缺失" in row.inner_text()
    with page.expect_navigation():
        row.locator('[data-action="register"]').click()
    row = page.locator(f'#to-dispatch tr[data-number="{case.number}"]')
    assert row.locator('select[name="department_id"]').input_value() == str(world.roads.id)  # road -> roads unit
    shot(page, "inbox")
    with page.expect_navigation():
        row.locator('[data-action="dispatch"]').click()
    assert page.locator(f'#supervision tr[data-number="{case.number}"]').count() == 1
    sign_out(page)

    sign_in(page, "deputy")
    assert page.locator('#grid-map g[data-grid="G01"]').get_attribute("data-count") == "1"
    assert page.locator('#grid-map g[data-grid="G02"]').get_attribute("data-count") == "0"
    assert page.locator('#grid-map polygon').count() == 2
    assert page.locator('#grid-map g[data-grid="G01"] polygon').get_attribute("fill") == "#b3261e"
    shot(page, "dashboard")
    with page.expect_navigation():
        page.locator(f'#escalations tr[data-run="{run.id}"] [data-action="acknowledge"]').click()
    assert "已确认" in page.locator(".flash.ok").inner_text()
    shot(page)
    assert problems == []  # nothing refused by the CSP, no script errors

    session.expire_all()
    assert session.get(Case, case.id).state == "dispatched"
    assert session.get(EscalationRun, run.id).status == "acknowledged"
