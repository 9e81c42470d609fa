"""Navigation: /admin links the admin's other pages, and the top bar offers the reports to the
roles whose route lets them in (and to nobody else), in Chinese and English."""
from __future__ import annotations

import re

import pytest

from caseflow.web import reports
from caseflow.web.guards import REPORT_ROLES, may_open

from .test_work_pages import as_person

NAV = re.compile(r'<nav>(.*?)</nav>', re.S)


def nav(body: str) -> str:
    match = NAV.search(body)
    assert match, "the page has no navigation bar"
    return match.group(1)


def test_admin_page_links_import_returns_report_and_reports(client, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["admin"])
    body = client.get("/admin").get_data(as_text=True)
    tools = body[body.index('id="admin-tools"'):]
    assert '<a class="button" href="/admin/import/" data-page="admin_import.page">批量导入与导出</a>' in tools
    assert '<a class="button" href="/admin/returns" data-page="returns_admin.report">退单分析</a>' in tools
    assert '<a class="button" href="/reports/" data-page="reports_console.index">统计报告</a>' in tools
    # Each link opens for the admin.
    for path in ("/admin/import/", "/admin/returns", "/reports/"):
        assert client.get(path).status_code == 200, path
    english = client.get("/admin?lang=en").get_data(as_text=True)
    assert ">Bulk import and export</a>" in english and ">Returns report</a>" in english
    assert ">Reports</a>" in english and ">More administration</h2>" in english


@pytest.mark.parametrize("who", ["admin", "dispatcher", "deputy"])
def test_reports_link_in_the_top_bar_for_allowed_roles(client, world, who) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people[who])
    assert '<a href="/reports/" >统计报告</a>' in nav(client.get("/").get_data(as_text=True))
    page = client.get("/reports/?lang=en")
    assert page.status_code == 200
    assert '<a href="/reports/" class="active">Reports</a>' in nav(page.get_data(as_text=True))


@pytest.mark.parametrize("who", ["liaison", "san_handler", "duty_lead", "duty_officer"])
def test_no_reports_link_for_other_roles(client, world, who) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people[who])
    bar = nav(client.get("/").get_data(as_text=True))
    assert bar.strip(), "the role's own page is still linked"
    assert "/reports" not in bar and "统计报告" not in bar
    assert client.get("/reports/").status_code == 403  # and the route agrees with the bar


def test_admin_links_only_for_admins(client, world) -> None:  # type: ignore[no-untyped-def]
    assert not may_open({"leader", "dispatcher"}, "admin_import.page")
    assert not may_open({"leader"}, "returns_admin.report") and may_open({"admin"}, "returns_admin.report")
    as_person(client, world.people["deputy"])
    assert client.get("/admin").status_code == 403
    assert client.get("/admin/import/").status_code == 403


def test_the_reports_route_and_the_link_share_one_role_set() -> None:
    assert set(reports.ROLES) == set(REPORT_ROLES)
    assert all(may_open({role}, "reports_console.index") for role in REPORT_ROLES)


@pytest.mark.parametrize("who, shown", [("dispatcher", True), ("admin", True), ("deputy", False),
                                        ("san_handler", False)])
def test_time_limit_table_in_the_top_bar_for_the_roles_that_read_it(client, world, who, shown) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people[who])
    bar = nav(client.get("/").get_data(as_text=True))
    assert ('href="/admin/time-limits"' in bar) is shown
    assert (client.get("/admin/time-limits").status_code == 200) is shown  # the route agrees with the bar
