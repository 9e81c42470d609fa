"""The urgent flag (紧急) in the console: ticked on the patrol report form, or set by the dispatcher
when registering a case or later on its page (``caseflow.services.cases.urgent``). Marking it
tells the case's commanders at once and is ledgered; taking it off needs a reason; a double
submit acts once; a closed case keeps its flag."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.models import Case, LedgerEntry, Notification

from .test_dispatch_operations import new_case, token, triggers
from .test_work_pages import as_person, flashes


def urgent_notices(session, case_id: int) -> list[Notification]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return [n for n in session.execute(select(Notification).where(
        Notification.item_type == "case", Notification.item_id == case_id)).scalars()
        if (n.payload or {}).get("urgent")]


def set_urgent_entries(session, case_id: int) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id, LedgerEntry.trigger == "set_urgent")
        .order_by(LedgerEntry.seq)).scalars())


def test_patrol_reports_an_urgent_case(client, session, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    page = client.get("/patrol/").get_data(as_text=True)
    assert 'name="urgent" value="1"' in page and "紧急(需立即处置)" in page
    data = {"title": "井盖缺失", "category_id": str(world.cat_road.id), "address": "五号路", "urgent": "1",
            "form_token": token(page, "report-form")}
    r = client.post("/patrol/report", data=data, follow_redirects=True)
    assert "已上报，等待受理" in flashes(r.get_data(as_text=True))
    assert '<span class="tag" id="urgent">紧急</span>' in r.get_data(as_text=True)
    client.post("/patrol/report", data=data)  # sent twice: one case
    cases = list(session.execute(select(Case).where(Case.title == "井盖缺失")).scalars())
    assert len(cases) == 1 and cases[0].urgent is True
    report = session.execute(select(LedgerEntry).where(LedgerEntry.item_id == cases[0].id,
                                                       LedgerEntry.trigger == "report")).scalar_one()
    assert report.payload["urgent"] is True
    told = {n.person_id for n in urgent_notices(session, cases[0].id)}
    assert world.people["dispatcher"].id in told and world.people["road_head"].id in told
    # Unticked, a report is not urgent.
    data = {"title": "垃圾堆放", "category_id": str(world.cat_garbage.id), "address": "六号路"}
    client.post("/patrol/report", data=data)
    plain = session.execute(select(Case).where(Case.title == "垃圾堆放")).scalar_one()
    assert plain.urgent is False and urgent_notices(session, plain.id) == []


def test_dispatcher_registers_a_case_as_urgent(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world)
    as_person(client, world.people["dispatcher"])
    inbox = client.get("/dispatch").get_data(as_text=True)
    row = inbox[inbox.index(f'data-number="{case.number}"'):]
    assert 'name="urgent" value="1"' in row[:row.index("</tr>")]
    page = client.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    data = {"urgent": "1", "urgent_reason": "临近学校", "form_token": token(page, "op-register")}
    r = client.post(f"/dispatch/cases/{case.id}/register", data=data, follow_redirects=True)
    assert "已立案" in flashes(r.get_data(as_text=True))
    client.post(f"/dispatch/cases/{case.id}/register", data=data)  # a double click
    item = session.get(Case, case.id)
    assert (item.state, item.urgent) == ("registered", True)
    assert triggers(session, case.id)[-2:] == ["set_urgent", "register"]
    (entry,) = set_urgent_entries(session, case.id)
    assert entry.payload["urgent"] is True and entry.payload["reason"] == "临近学校"
    assert entry.actor_id == world.people["dispatcher"].id and entry.from_state == entry.to_state == "reported"
    assert {n.person_id for n in urgent_notices(session, case.id)} >= {world.people["dispatcher"].id,
                                                                       world.people["san_head"].id}
    page = client.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert '<span class="tag" id="urgent">紧急</span>' in page and 'data-trigger="set_urgent"' in page


def test_mark_and_clear_on_the_case_page(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    as_person(client, world.people["dispatcher"])
    page = client.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="op-urgent" data-urgent="false"' in page and 'data-action="mark-urgent"' in page
    data = {"reason": "围观人员增多", "form_token": token(page, "op-urgent")}
    r = client.post(f"/dispatch/cases/{case.id}/mark-urgent", data=data, follow_redirects=True)
    assert "已标记为紧急，已通知相关人员" in flashes(r.get_data(as_text=True))
    r = client.post(f"/dispatch/cases/{case.id}/mark-urgent", data=data, follow_redirects=True)
    assert "此表单已提交过，操作没有重复执行" in flashes(r.get_data(as_text=True))
    assert len(set_urgent_entries(session, case.id)) == 1
    notices = len(urgent_notices(session, case.id))
    assert notices >= 2
    # A copy of the old page (a second tab) says the case is urgent already, and tells nobody again.
    r = client.post(f"/dispatch/cases/{case.id}/mark-urgent", data={"reason": "x"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "紧急 (urgent):案件已是紧急案件"
    assert len(urgent_notices(session, case.id)) == notices

    page = client.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="op-urgent" data-urgent="true"' in page and 'data-action="clear-urgent"' in page
    r = client.post(f"/dispatch/cases/{case.id}/clear-urgent", data={"reason": ""}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "理由 (reason):不能为空"
    r = client.post(f"/dispatch/cases/{case.id}/clear-urgent", data={"reason": "现场已控制"}, follow_redirects=True)
    assert "已取消紧急标记" in flashes(r.get_data(as_text=True))
    assert session.get(Case, case.id).urgent is False
    assert [e.payload["urgent"] for e in set_urgent_entries(session, case.id)] == [True, False]
    assert len(urgent_notices(session, case.id)) == notices  # taking the flag off tells nobody


def test_a_closed_case_keeps_its_flag(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "closed")
    as_person(client, world.people["dispatcher"])
    page = client.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="op-urgent"' not in page
    r = client.post(f"/dispatch/cases/{case.id}/mark-urgent", data={"reason": "x"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "案件当前为「已结案」，不能进行此操作"
    assert session.get(Case, case.id).urgent is False and set_urgent_entries(session, case.id) == []


def test_only_dispatchers_mark_cases_urgent(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    as_person(client, world.people["san_handler"])
    assert client.post(f"/dispatch/cases/{case.id}/mark-urgent", data={"reason": "x"}).status_code == 403
    page = client.get(f"/dispatch/cases/{case.id}?lang=en")
    assert page.status_code == 403
    as_person(client, world.people["dispatcher"])
    page = client.get(f"/dispatch/cases/{case.id}?lang=en").get_data(as_text=True)
    assert ">Urgent flag</h2>" in page and ">Mark urgent</button>" in page
    assert session.get(Case, case.id).urgent is False
