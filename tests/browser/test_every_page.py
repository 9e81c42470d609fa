"""Every console page of every role, opened in a real browser: it answers 200, runs no script
that throws, has nothing refused by the content security policy, and leaves a full-page
screenshot ``test-artifacts/screenshots/<role>-<path-slug>.png`` (issue 8, point 4).

One test per role signs in once and walks its pages (one sign-in and one seeding per role keeps
the file near a minute). It first reads the navigation bar from the page itself (and, for the
admin, the tool links of /admin) and fails when they differ from the lists here, so the lists
cannot silently fall behind the console.
"""
from __future__ import annotations

import re
from typing import Any

import pytest

from caseflow.services import returns, transition
from caseflow.services.duty.handover import open_handover
from tests.integration.duty_support import lead_actor, plan, running_instruction

from .conftest import Shots
from .pages import sign_in, watch_problems
from .test_handler_phone import dispatched_case

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# The person of the test street who signs in for each role.
USERS: dict[str, str] = {
    "liaison": "liaison",
    "dispatcher": "dispatcher",
    "handler": "san_handler",
    "duty_lead": "duty_lead",
    "duty_officer": "duty_officer",
    "leader": "deputy",
    "admin": "admin",
}

# What each role's navigation bar offers (checked against the page by test_nav_is_covered).
NAV: dict[str, list[str]] = {
    "liaison": ["/liaison", "/ledger/instructions"],
    "dispatcher": ["/dispatch", "/reports/", "/patrol/", "/queues/", "/admin/time-limits"],
    "handler": ["/handler", "/patrol/"],
    "duty_lead": ["/duty", "/ledger/instructions", "/admin/notifications/dead", "/patrol/", "/duty/watch/"],
    "duty_officer": ["/duty", "/ledger/instructions", "/patrol/", "/duty/watch/"],
    "leader": ["/leader", "/ledger/instructions", "/reports/", "/queues/", "/duty/watch/"],
    "admin": ["/admin", "/ledger/instructions", "/reports/", "/admin/notifications/dead", "/duty/watch/",
              "/admin/time-limits"],
}

# Pages reached from the landing pages rather than the bar; {case}, {instruction}, {return_case},
# {handover} and the admin's {area} ... {grid} are filled from the data seeded for the page.
MORE: dict[str, list[str]] = {
    "liaison": ["/liaison/{instruction}"],
    "dispatcher": ["/dispatch/cases/{case}", "/dispatch/cases/{return_case}", "/patrol/cases/{case}",
                   "/queues/escalated", "/queues/joint"],
    "handler": ["/handler/cases/{case}", "/handler/cases/{return_case}", "/handler/instructions/{instruction}",
                ],  # not /patrol/cases/{case}: a handler opens only the patrol reports they made (404)
    "duty_lead": ["/duty/handover/", "/duty/handover/{handover}", "/duty/watch/handovers/{handover}/print"],
    "duty_officer": [],
    "leader": ["/leader/returns", "/leader/instructions/{instruction}", "/leader/items/case/{case}",
               "/leader/items/instruction/{instruction}", "/leader/items/return_request/{return_request}",
               "/leader/items/handover/{handover}", "/queues/escalated", "/queues/joint"],
    "admin": ["/admin/import/", "/admin/returns", "/admin/calendar", "/admin/areas", "/admin/departments",
              "/admin/categories", "/admin/people", "/admin/grids", "/admin/areas/new", "/admin/departments/new",
              "/admin/categories/new", "/admin/people/new", "/admin/grids/new", "/admin/areas/{area}",
              "/admin/departments/{department}", "/admin/categories/{category}", "/admin/people/{person}",
              "/admin/grids/{grid}"],
}

def slug(path: str) -> str:
    """``/admin/people/{person}`` -> ``admin-people-person``: a file-name-safe form of a path."""
    return re.sub(r"[^a-z0-9_]+", "-", path.lower()).strip("-") or "index"


def seed(session, catalog, world, paths: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Make only the records the placeholders in ``paths`` name; their ids by placeholder."""
    ids: dict[str, int] = {"area": world.main_area.id, "department": world.sanitation.id,
                           "category": world.cat_garbage.id, "person": world.people["liaison"].id,
                           "grid": world.grid_main.id}
    if "{case}" in paths:
        ids["case"] = dispatched_case(session, catalog, world).id
    if "{return_case}" in paths or "{return_request}" in paths:
        case = dispatched_case(session, catalog, world, title="路面塌陷（误派环卫）")
        session.commit()
        request = returns.request_return(session, catalog, case.id, world.actor("san_handler"),
                                         "路面塌陷属市政养护职责", "《城市道路管理条例》第三十条",
                                         suggested_department_id=world.roads.id)
        ids["return_case"], ids["return_request"] = case.id, request.id
    if "{instruction}" in paths:
        ids["instruction"] = running_instruction(session, catalog, world).id
    if "{handover}" in paths:
        shifts = plan(session, catalog, world, days=2)
        transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
        running_instruction(session, catalog, world)  # an open item on the checklist
        session.commit()
        ids["handover"] = open_handover(session, catalog, shifts[0].id, actor=lead_actor(world, shifts[0])).id
    session.commit()
    return ids


def visit(page: Any, role: str, path: str, ids: dict[str, int]) -> list[str]:
    """Open ``path`` as the signed-in ``role``, screenshot it; what went wrong there (empty when all is well)."""
    target = path.format(**ids)
    problems = watch_problems(page)  # a fresh list per page (earlier pages' lists are not read again)
    response = page.goto(target)
    status = response.status if response is not None else None
    if status != 200:
        return [f"{role} {target}: HTTP {status}"]
    if not page.url.split("?")[0].endswith(target):  # e.g. sent back to sign in
        return [f"{role} {target}: ended on {page.url}"]
    page.wait_for_load_state("load")
    Shots(f"{role}-{slug(path)}")(page)
    # Script errors and CSP refusals (console errors), failed loads of the page's assets.
    return [f"{role} {target}: {p}" for p in problems]


def nav_links(page: Any, selector: str) -> list[str]:
    """The ``href`` of every link matched by ``selector``."""
    return page.locator(selector).evaluate_all("as => as.map(a => a.getAttribute('href'))")  # type: ignore[no-any-return]


@pytest.mark.parametrize("role", list(USERS))
def test_every_page_of_the_role(open_browser, session, catalog, world, people, role: str) -> None:  # type: ignore[no-untyped-def]
    paths = NAV[role] + MORE[role]
    ids = seed(session, catalog, world, " ".join(paths))
    page = open_browser()
    sign_in(page, USERS[role])

    # The bar offers exactly the pages listed here, so this list cannot fall behind the console.
    offered = nav_links(page, "header.topbar nav a")
    assert sorted(offered) == sorted(NAV[role]), f"{role}'s navigation changed: update NAV"
    if role == "admin":  # the admin's tools are linked from /admin, not the bar
        tools = {t.split("?")[0] for t in nav_links(page, "main a[href^='/admin/']")}
        missing = sorted(tools - set(NAV[role]) - set(MORE[role]))
        assert missing == [], f"/admin links pages this file does not open: {missing}"

    failures: list[str] = []
    for path in paths:
        failures += visit(page, role, path, ids)
    assert failures == []
