"""A co-operating department (协办) on the handler pages: it sees its own part, signs for it and
reports its part's result (ledgered like every step); the lead's whole-case steps are not offered
to it. And supervision (督办) with a due time, set in the inbox, shown in Asia/Shanghai time."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from caseflow.models import Attachment, Case, CaseParticipant, Category, LedgerEntry, Supervision
from caseflow.services.cases import handling, intake, review, supervision

from .test_work_pages import PNG, _case, as_person, flashes

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def complex_case(session, catalog, world) -> Case:  # type: ignore[no-untyped-def]
    """A complex case led by roads with sanitation co-operating."""
    session.add(Category(code="illegal_building", name="违法搭建", field="city", responsible_department=world.roads,
                         default_tier="complex"))
    session.commit()
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("dispatcher"), title="违法搭建",
                            category_code="illegal_building", grid_id=world.grid_main.id, address="四号路")
    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.roads.id,
                      cooperating_department_ids=[world.sanitation.id])
    return case


def _part(session, case_id: int, dept_id: int) -> CaseParticipant:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(CaseParticipant).where(CaseParticipant.case_id == case_id,
                                                         CaseParticipant.department_id == dept_id)).scalar_one()


def _entries(session, case_id: int, trigger: str) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id, LedgerEntry.trigger == trigger)).scalars())


def test_cooperating_department_signs_and_reports_its_part(client, session, catalog, world, complex_case) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    assert complex_case.number in client.get("/handler").get_data(as_text=True)
    page = client.get(f"/handler/cases/{complex_case.id}").get_data(as_text=True)
    assert 'id="part"' in page and 'data-action="sign-part"' in page
    # The lead's steps for the whole case are not offered to a co-operating department.
    assert 'data-action="sign"' not in page and 'id="return-form"' not in page
    assert re.search(rf'<tr data-department="{world.roads.id}" data-state="assigned"><td>市政养护所</td><td>主办', page)

    r = client.post(f"/handler/cases/{complex_case.id}/sign-part", follow_redirects=True)
    assert "已签收本部门协办任务" in flashes(r.get_data(as_text=True))
    assert _part(session, complex_case.id, world.sanitation.id).state == "signed"
    (entry,) = _entries(session, complex_case.id, "sign_part")
    assert entry.actor_id == world.people["san_handler"].id and entry.payload["department_id"] == world.sanitation.id
    # Until the lead signs, the part cannot be reported yet; the page says so.
    assert 'id="part-wait"' in r.get_data(as_text=True)
    handling.sign(session, catalog, complex_case.id, actor=world.actor("road_handler"))

    page = client.get(f"/handler/cases/{complex_case.id}").get_data(as_text=True)
    assert 'data-action="report-part"' in page and 'capture="environment"' in page
    r = client.post(f"/handler/cases/{complex_case.id}/report-part", content_type="multipart/form-data",
                    data={"part_result": "已清运建筑垃圾", "photo": (io.BytesIO(PNG), "site.png")}, follow_redirects=True)
    assert "协办结果已提交" in flashes(r.get_data(as_text=True))
    part = _part(session, complex_case.id, world.sanitation.id)
    assert part.state == "reported" and part.result == "已清运建筑垃圾"
    assert part.reported_by_id == world.people["san_handler"].id
    photo = session.execute(select(Attachment).where(Attachment.item_type == "case",
                                                     Attachment.item_id == complex_case.id)).scalar_one()
    (entry,) = _entries(session, complex_case.id, "report_part")
    assert entry.payload["result"] == "已清运建筑垃圾" and entry.payload["evidence_refs"] == [f"attachment:{photo.id}"]
    # The case as a whole stays with the lead: still being handled.
    assert session.get(Case, complex_case.id).state == "handling"
    assert '<p id="part-result">已清运建筑垃圾</p>' in r.get_data(as_text=True)

    # The lead sees the co-operating part's result on its own page.
    as_person(client, world.people["road_handler"])
    lead_page = client.get(f"/handler/cases/{complex_case.id}").get_data(as_text=True)
    assert re.search(rf'data-department="{world.sanitation.id}" data-state="reported">.*?已清运建筑垃圾</td></tr>', lead_page, re.S)
    assert 'data-action="result"' in lead_page and 'data-action="sign-part"' not in lead_page


def test_a_part_result_needs_text_and_a_signed_part(client, session, catalog, world, complex_case) -> None:  # type: ignore[no-untyped-def]
    handling.sign(session, catalog, complex_case.id, actor=world.actor("road_handler"))
    as_person(client, world.people["san_handler"])
    r = client.post(f"/handler/cases/{complex_case.id}/report-part", data={"part_result": "  "}, follow_redirects=True)
    assert "协办结果 (part_result)" in flashes(r.get_data(as_text=True))[-1]
    r = client.post(f"/handler/cases/{complex_case.id}/report-part", data={"part_result": "已清运"},
                    follow_redirects=True)
    assert "sign your part first" in flashes(r.get_data(as_text=True))[-1]  # not signed yet: refused
    assert _part(session, complex_case.id, world.sanitation.id).state == "assigned"
    assert _entries(session, complex_case.id, "report_part") == []


def test_a_department_without_a_part_cannot_sign_one(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "dispatched")  # sanitation's general case, no co-operating parts
    as_person(client, world.people["road_handler"])
    assert client.post(f"/handler/cases/{case.id}/sign-part").status_code == 404
    assert _entries(session, case.id, "sign_part") == []


def test_supervision_with_a_due_time_shown_in_shanghai_time(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "dispatched")
    as_person(client, world.people["dispatcher"])
    assert 'type="datetime-local" name="due_by"' in client.get("/dispatch").get_data(as_text=True)
    due_local = (datetime.now(SHANGHAI) + timedelta(days=2)).replace(hour=17, minute=30, second=0, microsecond=0)
    r = client.post(f"/dispatch/cases/{case.id}/supervise", follow_redirects=True,
                    data={"method": "written", "requirement": "两日内清理完毕",
                          "due_by": due_local.strftime("%Y-%m-%dT%H:%M")})
    body = r.get_data(as_text=True)
    assert "督办已记录" in flashes(body)
    shown = due_local.strftime("%Y-%m-%d %H:%M")
    assert f"办结时限 {shown}" in body  # the inbox shows the last supervision's due time
    row = session.execute(select(Supervision).where(Supervision.case_id == case.id)).scalar_one()
    stored = row.due_by if row.due_by.tzinfo else row.due_by.replace(tzinfo=timezone.utc)
    assert stored == due_local.astimezone(timezone.utc)  # 17:30 in Shanghai is 09:30 UTC
    assert stored.hour == 9 and stored.minute == 30

    as_person(client, world.people["san_handler"])
    page = client.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    assert re.search(rf'<tr data-supervision="{row.id}">.*书面督办.*两日内清理完毕.*<td class="due-by">{shown}</td>',
                     page, re.S)


@pytest.mark.parametrize("due_by, message", [
    ("tomorrow", "办结时限 (due_by)"),
    ("2001-01-01T08:00", "办结时限 (due_by)"),  # in the past
])
def test_a_bad_due_time_is_refused_naming_the_field(client, session, catalog, world, due_by, message) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "dispatched")
    as_person(client, world.people["dispatcher"])
    r = client.post(f"/dispatch/cases/{case.id}/supervise", follow_redirects=True,
                    data={"method": "phone", "requirement": "今天办完", "due_by": due_by})
    assert message in flashes(r.get_data(as_text=True))[-1]
    assert supervision.supervisions(session, case.id) == []


def test_supervision_without_a_due_time_still_works(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "dispatched")
    as_person(client, world.people["dispatcher"])
    client.post(f"/dispatch/cases/{case.id}/supervise", data={"method": "phone", "requirement": "尽快", "due_by": ""})
    (row,) = supervision.supervisions(session, case.id)
    assert row.due_by is None and row.requirement == "尽快"
    as_person(client, world.people["san_handler"])
    page = client.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    assert '<td class="due-by">—</td>' in page
