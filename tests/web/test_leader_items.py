"""The leader's overdue list links each item to a read-only page a leader may open (the dispatcher's
and the liaison's pages are theirs alone), and an overdue case can be supervised (督办) there by a
leader through the supervision service: recorded once, on the case's ledger, errors naming the field."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow.models import Case, Deadline, Instruction, LedgerEntry, Supervision, utcnow
from caseflow.services import transition
from caseflow.services.cases import handling, intake, review

from .test_work_pages import as_person, flashes


def _overdue_case(session, catalog, world) -> Case:  # type: ignore[no-untyped-def]
    """A general case dispatched to sanitation whose sign deadline passed ten minutes ago."""
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("dispatcher"), title="垃圾堆放",
                            category_code="garbage", grid_id=world.grid_main.id, address="二号路")
    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    session.expire_all()
    case = session.get(Case, case.id)
    row = session.execute(select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case.id,
                                                 Deadline.state_seq == case.state_seq)).scalars().first()
    assert row is not None, "a dispatched case has a deadline"
    row.due_at = utcnow() - timedelta(minutes=10)
    session.commit()
    return case


@pytest.fixture
def overdue(session, catalog, world) -> Case:  # type: ignore[no-untyped-def]
    return _overdue_case(session, catalog, world)


def test_overdue_items_link_to_a_page_the_leader_may_open(client, world, overdue) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    assert client.get(f"/dispatch/cases/{overdue.id}").status_code == 403  # the dispatcher's page is not theirs
    page = client.get("/leader").get_data(as_text=True)
    table = page[page.index('id="overdue"'):]
    row = re.search(rf'<tr class="risk-row-overdue" data-item="case-{overdue.id}">.*?</tr>', table, re.S)
    assert row, table[:800]
    link = f'/leader/items/case/{overdue.id}'
    assert f'<a href="{link}">案件 {overdue.number}</a>' in row.group(0)
    assert f'href="{link}#op-supervise" data-action="supervise">督办</a>' in row.group(0)
    item = client.get(link)
    assert item.status_code == 200
    body = item.get_data(as_text=True)
    assert overdue.number in body and "垃圾堆放" in body and "环卫所" in body and 'id="read-only"' in body
    deadlines = body[body.index('id="deadlines"'):]
    assert 'class="risk-row-overdue"' in deadlines and "已超时" in deadlines
    assert 'data-trigger="dispatch"' in body and 'id="op-supervise"' in body
    english = client.get(f"{link}?lang=en").get_data(as_text=True)
    assert "Read only" in english and "Supervise" in english


def test_a_leader_supervises_an_overdue_case(client, session, world, overdue) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    form = {"method": "phone", "requirement": "今日 17:00 前清理完毕", "due_by": "2030-03-01T17:00",
            "form_token": "tok-1", "next": "/leader"}
    r = client.post(f"/leader/items/case/{overdue.id}/supervise", data=form)
    assert r.status_code == 302 and r.headers["Location"] == "/leader"
    assert "督办已记录" in flashes(client.get("/leader").get_data(as_text=True))
    again = client.post(f"/leader/items/case/{overdue.id}/supervise", data=form, follow_redirects=True)
    assert again.status_code == 200  # the same form twice: done once
    session.expire_all()
    rows = list(session.execute(select(Supervision).where(Supervision.case_id == overdue.id)).scalars())
    assert len(rows) == 1
    assert (rows[0].method, rows[0].requirement, rows[0].by_id) == ("phone", "今日 17:00 前清理完毕",
                                                                    world.people["deputy"].id)
    assert rows[0].department_id == world.sanitation.id and rows[0].due_by.isoformat().startswith("2030-03-01T09:00")
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == overdue.id,
                                                      LedgerEntry.trigger == "supervise")).scalar_one()
    assert entry.actor_role == "leader"
    page = client.get(f"/leader/items/case/{overdue.id}").get_data(as_text=True)
    supervisions = page[page.index('id="supervisions"'):]
    assert "电话督办" in supervisions and "今日 17:00 前清理完毕" in supervisions


def test_a_refused_supervision_names_the_field(client, session, world, overdue) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    r = client.post(f"/leader/items/case/{overdue.id}/supervise", data={"method": "phone", "requirement": ""},
                    follow_redirects=True)
    assert r.request.path == f"/leader/items/case/{overdue.id}"
    assert flashes(r.get_data(as_text=True))[0].startswith("督办要求 (requirement)")
    r = client.post(f"/leader/items/case/{overdue.id}/supervise", data={"method": "fax", "requirement": "快办"},
                    follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[0].startswith("督办方式 (method)")
    assert session.execute(select(Supervision)).first() is None


def test_no_supervise_form_where_the_workflow_does_not_allow_it(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("dispatcher"), title="井盖缺失",
                            category_code="garbage", grid_id=world.grid_main.id, address="三号路")
    as_person(client, world.people["deputy"])
    page = client.get(f"/leader/items/case/{case.id}").get_data(as_text=True)
    assert 'id="facts"' in page and 'id="op-supervise"' not in page  # reported: not yet dispatched
    r = client.post(f"/leader/items/case/{case.id}/supervise", data={"method": "phone", "requirement": "快办"},
                    follow_redirects=True)
    assert flashes(r.get_data(as_text=True)) and session.execute(select(Supervision)).first() is None


def test_other_items_open_read_only_and_others_are_refused(app, client, session, catalog, world, overdue) -> None:  # type: ignore[no-untyped-def]
    ins = Instruction(number="ZL-L-1", received_at=utcnow(), category_id=world.cat_garbage.id,
                      grid_id=world.grid_main.id, area_kind="main_urban", address="一号路口")
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    as_person(client, world.people["deputy"])
    page = client.get(f"/leader/items/instruction/{ins.id}")
    assert page.status_code == 200 and "ZL-L-1" in page.get_data(as_text=True)
    assert 'id="op-supervise"' not in page.get_data(as_text=True)
    if "instruction_steps.leader_instruction" in app.view_functions:  # the instruction's own leader page
        assert f'href="/leader/instructions/{ins.id}" id="steps-page"' in page.get_data(as_text=True)
    assert client.get("/leader/items/case/999999").status_code == 404
    for who in ("san_handler", "dispatcher"):
        as_person(client, world.people[who])
        assert client.get(f"/leader/items/case/{overdue.id}").status_code == 403
        assert client.post(f"/leader/items/case/{overdue.id}/supervise",
                           data={"method": "phone", "requirement": "快办"}).status_code == 403
    assert session.execute(select(Supervision)).first() is None
