"""The dispatcher's case page shows whether the case is on Open311 and a button to show or hide
it (``open311.set_public``, ledgered as ``set_public``); a double submit acts once, an archived
case offers no button, and the ledger names the step."""
from __future__ import annotations

import re

from sqlalchemy import func, select

from caseflow.models import Case, LedgerEntry
from caseflow.services import open311
from caseflow.services.cases import closing

from .test_dispatch_operations import new_case, token
from .test_work_pages import as_person, flashes


def _entries(session, case_id: int) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.item_id == case_id, LedgerEntry.item_type == "case", LedgerEntry.trigger == "set_public")
    ).scalar_one()


def test_show_then_hide_on_open311(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "registered")
    as_person(client, world.people["dispatcher"])
    url = f"/dispatch/cases/{case.id}"
    page = client.get(url).get_data(as_text=True)
    form = page[page.index('id="op-public"'):]
    form = form[:form.index("</form>")]
    assert 'data-public="false"' in form and "未公开，Open311 查询不到此案件" in form
    assert 'data-action="publish"' in form and f'action="{url}/publish" class="card" id="op-public"' in page
    tok = token(page, "op-public")
    r = client.post(f"{url}/publish", data={"reason": "公开处置进度", "form_token": tok, "next": url},
                    follow_redirects=True)
    body = r.get_data(as_text=True)
    assert r.request.path == url and flashes(body)[-1] == "已在 Open311 公开"
    session.expire_all()
    assert open311.is_public(session.get(Case, case.id))
    assert 'data-public="true"' in body and 'data-action="unpublish"' in body
    # The ledger on the page names the step and shows the reason.
    assert re.search(r'<tr data-trigger="set_public">.*?Open311 公开/隐藏.*?公开处置进度', body, re.S)
    # The same form again: done once.
    r = client.post(f"{url}/publish", data={"reason": "公开处置进度", "form_token": tok, "next": url},
                    follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "此表单已提交过，操作没有重复执行"
    assert _entries(session, case.id) == 1

    r = client.post(f"{url}/unpublish", data={"reason": "", "form_token": token(body, "op-public")},
                    follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "已从 Open311 隐藏"
    session.expire_all()
    assert not open311.is_public(session.get(Case, case.id)) and _entries(session, case.id) == 2
    # In English too.
    page = client.get(f"{url}?lang=en").get_data(as_text=True)
    assert ">Show on Open311</button>" in page
    client.get(f"{url}?lang=zh")


def test_archived_cases_and_other_roles(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "closed")
    closing.archive(session, catalog, case.id, actor=world.actor("dispatcher"))
    as_person(client, world.people["dispatcher"])
    url = f"/dispatch/cases/{case.id}"
    assert 'id="op-public"' not in client.get(url).get_data(as_text=True)
    r = client.post(f"{url}/publish", data={"reason": "x"}, follow_redirects=True)
    assert "不能进行此操作" in flashes(r.get_data(as_text=True))[-1]
    assert _entries(session, case.id) == 0
    as_person(client, world.people["san_handler"])
    assert client.post(f"{url}/publish", data={"reason": "x"}).status_code == 403
    assert _entries(session, case.id) == 0
