"""The handler's return request form (申请退单) on the case page: the basis picked from the maintained
regulations and duty lists (grouped by kind) or cited in text, an optional suggested department
(active ones only) and attachments (new files stored as the case's evidence and linked by id, as
the API links them; evidence already on the case ticked). A refusal shows the form again with what
was typed and the field named; the request is made once however often the form is sent."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow.models import Attachment, Department, Regulation, ReturnRequest, utcnow
from caseflow.services import attachments
from caseflow.services import returns as returns_svc

from ..integration.test_cases_lifecycle import PNG
from .test_dispatch_operations import new_case, token
from .test_work_pages import as_person, flashes


@pytest.fixture
def handler(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    return client


@pytest.fixture
def basis(session):  # type: ignore[no-untyped-def]
    """A regulation and a duty list in force, and one out of force."""
    rows = {
        "law": Regulation(code="R-ROAD", title="城市道路管理条例", kind="regulation", text="第三十条"),
        "duty": Regulation(code="DL-ROAD", title="市政养护所职责清单", kind="duty_list", text="道路设施养护"),
        "old": Regulation(code="R-OLD", title="已废止的管理办法", kind="regulation", active=False),
    }
    session.add_all(rows.values())
    session.commit()
    return rows


def _requests(session) -> list[ReturnRequest]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(ReturnRequest).order_by(ReturnRequest.id)).scalars())


def _form(page: str) -> str:
    """The return form's HTML."""
    start = page.index('id="return-form"')
    return page[start:page.index("</details>", start)]


def _send(client, case_id: int, page: str, files=(), **fields):  # type: ignore[no-untyped-def]
    """Post the return form of ``page`` (its one-time token) as multipart, with ``files`` as
    ``(bytes, name)`` pairs in the ``attachments`` field."""
    data: dict = {"form_token": token(page, "return-form"), **fields}
    if files:
        data["attachments"] = [(io.BytesIO(content), name) for content, name in files]
    return client.post(f"/handler/cases/{case_id}/return", data=data, content_type="multipart/form-data")


def test_picker_offers_regulations_and_duty_lists_by_kind_and_active_departments(handler, session, catalog, world,
                                                                                  basis) -> None:  # type: ignore[no-untyped-def]
    session.add_all([Department(code="PARK", name="绿化所", kind="unit", center_id=world.sanitation.center_id),
                     Department(code="GONE", name="已撤销的所", kind="unit", center_id=world.sanitation.center_id,
                                active=False)])
    session.commit()
    case = new_case(session, catalog, world, "handling")
    form = _form(handler.get(f"/handler/cases/{case.id}").get_data(as_text=True))
    assert 'enctype="multipart/form-data"' in form and f'action="/handler/cases/{case.id}/return"' in form
    groups = dict(re.findall(r'<optgroup label="([^"]+)" data-kind="(\w+)"', form))
    assert groups == {"法律法规与政策": "regulation", "职责清单": "duty_list"}
    law_group = form[form.index('data-kind="regulation"'):form.index('data-kind="duty_list"')]
    assert f'<option value="{basis["law"].id}">R-ROAD 城市道路管理条例</option>' in law_group
    assert f'<option value="{basis["duty"].id}">DL-ROAD 市政养护所职责清单</option>' in form[form.index('data-kind="duty_list"'):]
    assert "R-OLD" not in form  # out of force: not offered
    # The free text is optional on the page (the service decides), the reason is not.
    assert re.search(r'<textarea name="basis"[^>]*>', form) and "required" not in re.search(
        r'<textarea name="basis"[^>]*>', form).group(0)
    suggested = form[form.index('name="suggested_department_id"'):form.index("</select>", form.index(
        'name="suggested_department_id"'))]
    assert "市政养护所" in suggested and "绿化所" in suggested
    assert "已撤销的所" not in suggested and "环卫所" not in suggested  # inactive, and our own
    assert 'type="file" name="attachments" multiple' in form


def test_regulation_alone_with_files_and_evidence_makes_the_request_once(handler, session, catalog, world,
                                                                         basis) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    earlier = attachments.store(session, item_type="case", item_id=case.id, actor=world.actor("san_handler"),
                                filename="路面.png", stream=io.BytesIO(PNG))
    url = f"/handler/cases/{case.id}"
    page = handler.get(url).get_data(as_text=True)
    assert f'name="attachment_ids" value="{earlier.id}"> 路面.png' in _form(page)
    fields = {"reason": "路面塌陷属市政养护职责", "basis": "", "basis_ref_id": str(basis["duty"].id),
              "suggested_department_id": str(world.roads.id), "attachment_ids": str(earlier.id)}
    r = _send(handler, case.id, page, files=[(PNG, "塌陷.png")], **fields)
    assert r.status_code == 302 and r.headers["Location"].endswith(url)
    assert "退单申请已提交" in flashes(handler.get(url).get_data(as_text=True))

    (rr,) = _requests(session)
    assert (rr.state, rr.basis_kind, rr.basis_ref_id, rr.basis) == ("requested", "duty_list", basis["duty"].id, "")
    assert rr.suggested_department_id == world.roads.id and rr.requested_by_id == world.people["san_handler"].id
    new = session.execute(select(Attachment).where(Attachment.original_name == "塌陷.png")).scalar_one()
    # Stored on the case through the attachments service and linked to the request by id, as the API does.
    assert (new.item_type, new.item_id, new.kind, new.uploaded_by_id) == ("case", case.id, "photo",
                                                                         world.people["san_handler"].id)
    assert rr.data["attachment_ids"] == [earlier.id, new.id]

    # A double tap sends the same form again: nothing is done twice, no file stored twice.
    r = _send(handler, case.id, page, files=[(PNG, "塌陷.png")], **fields)
    assert r.status_code == 302
    assert "此表单已提交过，操作没有重复执行" in flashes(handler.get(url).get_data(as_text=True))
    assert len(_requests(session)) == 1
    assert session.execute(select(func.count()).select_from(Attachment)).scalar() == 2

    # While it waits the page shows the request instead of the form.
    page = handler.get(url).get_data(as_text=True)
    assert 'id="return-form"' not in page
    waiting = page[page.index('id="return-waiting"'):]
    assert 'data-state="requested"' in waiting and "待审核" in waiting and "DL-ROAD 市政养护所职责清单" in waiting


def test_a_regulation_and_text_together(handler, session, catalog, world, basis) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    page = handler.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    r = _send(handler, case.id, page, reason="属道路设施", basis="第三十条 道路养护", basis_ref_id=str(basis["law"].id))
    assert r.status_code == 302
    (rr,) = _requests(session)
    assert (rr.basis_kind, rr.basis_ref_id, rr.basis) == ("regulation", basis["law"].id, "第三十条 道路养护")
    assert rr.suggested_department_id is None and rr.data["attachment_ids"] == []


def test_refused_form_keeps_what_was_typed_and_the_uploaded_file(handler, session, catalog, world,
                                                                 basis) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    url = f"/handler/cases/{case.id}"
    page = handler.get(url).get_data(as_text=True)
    # Neither a regulation nor a basis in text: the service refuses, naming the basis.
    r = _send(handler, case.id, page, files=[(PNG, "现场.png")], reason="路面塌陷 <非环卫>", basis="  ",
              basis_ref_id="", suggested_department_id=str(world.roads.id))
    assert r.status_code == 422
    body = r.get_data(as_text=True)
    assert flashes(body)[-1].startswith("依据 (basis):")
    assert _requests(session) == []
    form = _form(body)
    assert '<details class="card" id="return-form" open>' in body
    assert ">路面塌陷 &lt;非环卫&gt;</textarea>" in form  # typed, and escaped
    assert re.search(r'<textarea name="basis"[^>]*aria-invalid="true"', form)
    assert f'<option value="{world.roads.id}" selected>市政养护所</option>' in form
    # The file was stored as the case's evidence before the refusal: it comes back ticked.
    stored = session.execute(select(Attachment)).scalar_one()
    assert (stored.item_type, stored.item_id, stored.original_name) == ("case", case.id, "现场.png")
    assert f'name="attachment_ids" value="{stored.id}" checked> 现场.png' in form

    # Corrected (a duty list chosen) and sent again with the ticked file: no second upload.
    r = _send(handler, case.id, body, reason="路面塌陷 <非环卫>", basis="", basis_ref_id=str(basis["duty"].id),
              suggested_department_id=str(world.roads.id), attachment_ids=str(stored.id))
    assert r.status_code == 302
    (rr,) = _requests(session)
    assert rr.basis_ref_id == basis["duty"].id and rr.data["attachment_ids"] == [stored.id]
    assert session.execute(select(func.count()).select_from(Attachment)).scalar() == 1


@pytest.mark.parametrize("case_fields, status, named", [
    ({"reason": "", "basis": "职责清单第 3 条"}, 422, "理由 (reason):"),
    ({"reason": "不属本所", "basis_ref_id": "abc"}, 422, "依据(法规/职责清单) (basis_ref_id):"),
    ({"reason": "不属本所", "basis_ref_id": "old"}, 422, "依据(法规/职责清单) (basis_ref_id):"),
    ({"reason": "不属本所", "basis": "清单", "suggested_department_id": "own"}, 422,
     "建议承办部门 (suggested_department_id):"),
    ({"reason": "不属本所", "basis": "清单", "suggested_department_id": "inactive"}, 422,
     "建议承办部门 (suggested_department_id):"),
    ({"reason": "不属本所", "basis": "清单", "attachment_ids": "999"}, 422, "附件 (attachments):"),
])
def test_refusals_name_the_field(handler, session, catalog, world, basis, case_fields, status, named) -> None:  # type: ignore[no-untyped-def]
    inactive = Department(code="GONE", name="已撤销的所", kind="unit", center_id=world.sanitation.center_id,
                          active=False)
    session.add(inactive)
    session.commit()
    ids = {"old": str(basis["old"].id), "own": str(world.sanitation.id), "inactive": str(inactive.id)}
    fields = {k: ids.get(v, v) for k, v in case_fields.items()}
    case = new_case(session, catalog, world, "handling")
    page = handler.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    r = _send(handler, case.id, page, **fields)
    assert r.status_code == status
    body = r.get_data(as_text=True)
    assert flashes(body)[-1].startswith(named), flashes(body)
    assert _requests(session) == []
    form = _form(body)
    if fields.get("basis"):
        assert f">{fields['basis']}</textarea>" in form  # kept
    field = named.split("(")[-1].split(")")[0]
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', form) or field in ("attachments",)


def test_a_file_that_is_not_evidence_is_refused_naming_attachments(handler, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    page = handler.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    r = _send(handler, case.id, page, files=[(b"#!/bin/sh\necho hi\n", "run.sh")], reason="不属本所", basis="清单")
    assert r.status_code == 415
    body = r.get_data(as_text=True)
    assert flashes(body)[-1] == "附件 (attachments):文件类型不支持，只接受照片、文档、音频或视频"
    assert re.search(r'name="attachments"[^>]*aria-invalid="true"', _form(body))
    assert ">不属本所</textarea>" in _form(body)
    assert _requests(session) == [] and session.execute(select(Attachment)).first() is None


def test_out_of_window_is_refused_naming_the_window(handler, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    page = handler.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    later = utcnow() + timedelta(days=10)  # far past two working hours after the dispatch
    monkeypatch.setattr(returns_svc, "utcnow", lambda: later)
    r = _send(handler, case.id, page, reason="不属本所", basis="职责清单")
    assert r.status_code == 422
    assert flashes(r.get_data(as_text=True))[-1].startswith("退单申请期限 (window):申请退单期限已过")
    assert _requests(session) == []


def test_after_a_rejection_the_page_says_a_new_basis_is_needed(handler, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    rr = returns_svc.request_return(session, catalog, case.id, world.actor("san_handler"), "属道路", "职责清单第 3 条")
    returns_svc.reject(session, catalog, rr.id, world.actor("dispatcher"), "仍属环卫职责")
    url = f"/handler/cases/{case.id}"
    page = handler.get(url).get_data(as_text=True)
    assert "仍属环卫职责" in page[page.index('id="return-rejected"'):] and 'id="return-form"' in page
    # The same basis again is refused by the service, naming it; a new one goes to the leader.
    r = _send(handler, case.id, page, reason="属道路", basis="职责清单第 3 条")
    assert r.status_code == 422 and flashes(r.get_data(as_text=True))[-1].startswith("依据 (basis):")
    r = _send(handler, case.id, r.get_data(as_text=True), reason="属道路", basis="《城市道路管理条例》第三十条")
    assert r.status_code == 302
    assert [x.state for x in _requests(session)] == ["rejected", "leader_review"]


def test_another_departments_case_is_not_found(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    as_person(client, world.people["road_handler"])
    r = client.post(f"/handler/cases/{case.id}/return", data={"reason": "x", "basis": "y"})
    assert r.status_code == 404 and _requests(session) == []


def test_the_department_withdraws_its_waiting_request(handler, client, session, catalog, world,
                                                       basis) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    url = f"/handler/cases/{case.id}"
    page = handler.get(url).get_data(as_text=True)
    _send(handler, case.id, page, reason="属道路设施", basis="", basis_ref_id=str(basis["duty"].id))
    (rr,) = _requests(session)
    page = handler.get(url).get_data(as_text=True)
    waiting = page[page.index('id="return-waiting"'):page.index("</section>", page.index('id="return-waiting"'))]
    action = f'action="/handler/cases/{case.id}/return/{rr.id}/withdraw"'
    assert action in waiting and "撤回退单申请" in waiting

    r = handler.post(f"/handler/cases/{case.id}/return/{rr.id}/withdraw")
    assert r.status_code == 302 and r.headers["Location"].endswith(url)
    page = handler.get(url).get_data(as_text=True)
    assert "退单申请已撤回" in flashes(page)
    (rr,) = _requests(session)
    assert rr.state == "withdrawn"
    assert 'id="return-waiting"' not in page and 'id="return-form"' in page  # it may ask again
    # Once withdrawn there is nothing to withdraw: refused with a message, nothing changes.
    handler.post(f"/handler/cases/{case.id}/return/{rr.id}/withdraw")
    assert flashes(handler.get(url).get_data(as_text=True)) and _requests(session)[0].state == "withdrawn"
    # A request is not found through another case's page.
    other = new_case(session, catalog, world, "handling")
    assert handler.post(f"/handler/cases/{other.id}/return/{rr.id}/withdraw").status_code == 404
