"""The working-calendar page (/admin/calendar): a year's statutory holidays and make-up workdays,
the overrides with set and remove forms (ledgered), a warning for a year chinesecalendar does not
cover, refusals naming the field, Chinese with English; administrators only."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow.models import CalendarOverride, LedgerEntry

from .test_work_pages import as_person, flashes


@pytest.fixture
def admin(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["admin"])
    return client


def test_the_page_lists_a_years_statutory_days(admin) -> None:  # type: ignore[no-untyped-def]
    body = admin.get("/admin/calendar?year=2025").get_data(as_text=True)
    assert "<h1>工作日历 · 2025</h1>" in body and 'id="uncovered-warning"' not in body
    statutory = body[body.index('id="statutory"'):]
    assert re.search(r'data-day="2025-01-29" data-kind="holiday".*?<td>周三</td><td>放假</td>\s*<td>春节</td>',
                     statutory, re.S)
    assert re.search(r'data-day="2025-01-26" data-kind="makeup_workday".*?<td>周日</td><td>调休上班</td>', statutory, re.S)
    assert 'href="/admin/calendar?year=2024"' in body and 'href="/admin/calendar?year=2026"' in body
    english = admin.get("/admin/calendar?year=2025&lang=en").get_data(as_text=True)
    assert "Working calendar" in english and "Spring Festival" in english and "make-up workday" in english


def test_a_year_without_statutory_data_warns(admin) -> None:  # type: ignore[no-untyped-def]
    body = admin.get("/admin/calendar?year=2099").get_data(as_text=True)
    warning = re.search(r'id="uncovered-warning">([^<]*)<', body)
    assert warning and "2099" in warning.group(1) and "周一至周五" in warning.group(1)
    assert "没有该年的法定数据" in body
    english = admin.get("/admin/calendar?year=2099&lang=en").get_data(as_text=True)
    assert "no statutory holiday data for 2099" in english


def test_set_and_remove_an_override(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/calendar/set", data={"day": "2025-03-03", "is_workday": "0", "center": "S01",
                                               "note": "创城迎检", "view_center": "S01"})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/calendar?year=2025&center=S01"
    body = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert "日历已设置" in flashes(body)
    row = re.search(r'<tr data-day="2025-03-03" data-center="S01".*?</tr>', body, re.S)
    assert row and "休息日" in row.group(0) and "示范街道城运中心" in row.group(0) and "创城迎检" in row.group(0)
    assert "与法定日历相同" not in row.group(0)  # a Monday: the override changes it
    override = session.execute(select(CalendarOverride)).scalar_one()
    assert (override.day.isoformat(), override.is_workday, override.center_id) == ("2025-03-03", False, world.street.id)
    r = admin.post("/admin/calendar/unset", data={"day": "2025-03-03", "center": "S01"}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert "已取消调整，该日按法定日历" in flashes(body) and "本年没有调整" in body
    session.expire_all()
    assert session.execute(select(CalendarOverride)).first() is None
    triggers = list(session.execute(select(LedgerEntry.trigger).where(LedgerEntry.item_type == "calendar")
                                    .order_by(LedgerEntry.seq)).scalars())
    assert triggers == ["set_calendar_day", "remove_calendar_day"]


@pytest.mark.parametrize("data, label", [
    ({"day": "2025-02-30", "is_workday": "1"}, "日期 (day)"),
    ({"day": "2025-05-06"}, "类型 (is_workday)"),
    ({"day": "2025-05-06", "is_workday": "1", "center": "NOPE"}, "所属中心 (center)"),
])
def test_a_refused_change_names_the_field(admin, session, data, label) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/calendar/set", data={**data, "year": "2025"}, follow_redirects=True)
    errors = flashes(r.get_data(as_text=True))
    assert errors and errors[0].startswith(label), errors
    assert session.execute(select(CalendarOverride)).first() is None


def test_removing_what_is_not_there_is_explained(admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/calendar/unset", data={"day": "2025-05-06"}, follow_redirects=True)
    assert r.request.path == "/admin/calendar" and flashes(r.get_data(as_text=True))


def test_the_calendar_page_is_for_administrators(client, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    assert client.get("/admin/calendar").status_code == 403
    assert client.post("/admin/calendar/set", data={"day": "2025-05-06", "is_workday": "0"}).status_code == 403
    as_person(client, world.people["admin"])
    tools = client.get("/admin").get_data(as_text=True)
    assert 'href="/admin/calendar" data-page="calendar_admin.page">工作日历</a>' in tools
