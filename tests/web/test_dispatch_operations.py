"""The dispatcher's console operations that were API-only: register with a corrected category and
grid, merge a duplicate, change the tier, dispatch a second time, decide extension and deferral
requests, archive, callback. Forms name the field in Chinese, and a double submit acts once."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from caseflow.models import Case, CaseReporter, Deadline, LedgerEntry
from caseflow.services.cases import closing, extension, handling, intake, review

from .test_work_pages import as_person, flashes

LAT, LON = 31.2305, 121.4705


def triggers(session, case_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(LedgerEntry.trigger).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id).order_by(LedgerEntry.seq)).scalars())


def token(page: str, form_id: str) -> str:
    """The one-time token of a form on the page."""
    start = page.index(f'id="{form_id}"')
    return re.search(r'name="form_token" value="([^"]+)"', page[start:]).group(1)


def new_case(session, catalog, world, state: str = "reported", **kw):  # type: ignore[no-untyped-def]
    args = {"title": "垃圾堆放", "category_code": "garbage", "grid_id": world.grid_main.id, "address": "二号路"}
    args.update(kw)
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), **args)
    disp = world.actor("dispatcher")
    if state in ("registered", "handling", "closed"):
        review.register(session, catalog, case.id, actor=disp)
    if state in ("handling", "closed"):
        handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
        handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    if state == "closed":
        handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="已清理")
        closing.check_pass(session, catalog, case.id, actor=disp)
    return case


@pytest.fixture
def dispatcher(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["dispatcher"])
    return client


def test_register_from_the_inbox_corrects_category_and_grid(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world)
    page = dispatcher.get("/dispatch").get_data(as_text=True)
    form = page[page.index(f'/dispatch/cases/{case.id}/register'):]
    assert re.search(rf'<option value="{world.cat_garbage.id}" selected>暴露垃圾', form)  # the current category
    assert f'/dispatch/cases/{case.id}"' in page  # the number opens the case page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/register", follow_redirects=True,
                        data={"category_id": str(world.cat_road.id), "grid_id": str(world.grid_other.id)})
    assert "已立案" in flashes(r.get_data(as_text=True))
    session.expire_all()
    item = session.get(Case, case.id)
    assert (item.state, item.category_id, item.grid_id, item.area_kind) == (
        "registered", world.cat_road.id, world.grid_other.id, "other")
    assert triggers(session, case.id)[-2:] == ["reclassify", "register"]
    # The suggested department is now the new category's.
    page = dispatcher.get("/dispatch").get_data(as_text=True)
    assert re.search(rf'<option value="{world.roads.id}" selected>市政养护所', page)


def test_reclassify_on_the_case_page_only_before_dispatch(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "registered")
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="op-reclassify"' in page and 'id="op-dispatch"' in page and 'id="op-register"' not in page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/reclassify", data={"category_id": "9999"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1].startswith("类别 (category_id):")
    r = dispatcher.post(f"/dispatch/cases/{case.id}/reclassify", data={"grid_id": str(world.grid_other.id),
                                                                      "next": f"/dispatch/cases/{case.id}"})
    assert r.headers["Location"] == f"/dispatch/cases/{case.id}"
    session.expire_all()
    assert session.get(Case, case.id).grid_id == world.grid_other.id
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="op-reclassify"' not in page and 'id="op-redispatch"' in page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/reclassify", data={"category_id": str(world.cat_road.id)},
                        follow_redirects=True)
    assert "案件当前为「已派遣」，不能进行此操作" in flashes(r.get_data(as_text=True))[-1]


def test_merge_a_duplicate_once_keeping_both_reporters(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    original = new_case(session, catalog, world, lat=LAT, lon=LON)
    duplicate = new_case(session, catalog, world, lat=LAT, lon=LON + 0.0001)
    inbox = dispatcher.get("/dispatch").get_data(as_text=True)
    assert f'#op-merge' in inbox and original.number in inbox
    page = dispatcher.get(f"/dispatch/cases/{duplicate.id}").get_data(as_text=True)
    assert f'value="{original.number}" checked' in page  # the candidate is offered
    data = {"original": original.number, "form_token": token(page, "op-merge")}
    r = dispatcher.post(f"/dispatch/cases/{duplicate.id}/merge", data=data, follow_redirects=True)
    assert "已合并到原案件" in flashes(r.get_data(as_text=True))
    r = dispatcher.post(f"/dispatch/cases/{duplicate.id}/merge", data=data, follow_redirects=True)  # sent twice
    assert "此表单已提交过，操作没有重复执行" in flashes(r.get_data(as_text=True))
    session.expire_all()
    assert session.get(Case, duplicate.id).state == "voided"
    assert triggers(session, original.id).count("absorb_duplicate") == 1
    reporters = session.execute(select(func.count()).select_from(CaseReporter).where(
        CaseReporter.case_id == original.id)).scalar_one()
    assert reporters == 2
    page = dispatcher.get(f"/dispatch/cases/{duplicate.id}").get_data(as_text=True)
    assert f'id="merged-into"><a href="/dispatch/cases/{original.id}">{original.number}</a>' in page


@pytest.mark.parametrize("ref, message", [
    ("C19990101 99999", "原案件 (original):找不到案件「C19990101 99999」"),
    ("", "原案件 (original):不能为空"),
])
def test_merge_refusals_name_the_original(dispatcher, session, catalog, world, ref, message) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world)
    r = dispatcher.post(f"/dispatch/cases/{case.id}/merge", data={"original": ref}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == message
    other = new_case(session, catalog, world, category_code="road")
    r = dispatcher.post(f"/dispatch/cases/{case.id}/merge", data={"original": str(other.id)}, follow_redirects=True)
    assert "的类别不同，不能合并" in flashes(r.get_data(as_text=True))[-1]
    session.expire_all()
    assert session.get(Case, case.id).state == "reported"


def test_change_tier_with_a_reason(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world)
    r = dispatcher.post(f"/dispatch/cases/{case.id}/change-tier", data={"tier": "complex"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "理由 (reason):不能为空"
    r = dispatcher.post(f"/dispatch/cases/{case.id}/change-tier", data={"tier": "general", "reason": "x"},
                        follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "分级 (tier):案件已是此分级"
    r = dispatcher.post(f"/dispatch/cases/{case.id}/change-tier", data={"tier": "complex", "reason": "涉及多部门"},
                        follow_redirects=True)
    assert "分级已改变" in flashes(r.get_data(as_text=True))
    session.expire_all()
    item = session.get(Case, case.id)
    assert (item.tier, item.workflow) == ("complex", "case_complex")
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'data-trigger="change_tier"' in page and "按新分级重新开始" in page


def test_second_dispatch_from_the_inbox(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    page = dispatcher.get("/dispatch").get_data(as_text=True)
    assert f'/dispatch/cases/{case.id}/redispatch' in page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/redispatch",
                        data={"department_id": str(world.sanitation.id), "reason": "x"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "部门 (department_id):二次派遣须派往其他部门"
    r = dispatcher.post(f"/dispatch/cases/{case.id}/redispatch", data={"department_id": str(world.roads.id)},
                        follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "理由 (reason):不能为空"
    r = dispatcher.post(f"/dispatch/cases/{case.id}/redispatch",
                        data={"department_id": str(world.roads.id), "reason": "属道路养护范围"}, follow_redirects=True)
    assert "已二次派遣" in flashes(r.get_data(as_text=True))
    session.expire_all()
    item = session.get(Case, case.id)
    assert (item.state, item.department_id, item.data["redispatch_count"]) == ("dispatched", world.roads.id, 1)


def test_extension_request_is_decided_from_the_inbox(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="4h",
                                reason="等待配件")
    due_before = session.execute(select(Deadline.due_at).where(
        Deadline.item_type == "case", Deadline.item_id == case.id, Deadline.status == "pending")).scalar_one()
    page = dispatcher.get("/dispatch").get_data(as_text=True)
    requests = page[page.index('id="requests"'):page.index('id="returns"')]
    assert case.number in requests and "延期申请" in requests and "等待配件" in requests
    r = dispatcher.post(f"/dispatch/cases/{case.id}/approve-extension", data={"duration": "four", "reason": "同意"},
                        follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1].startswith("延期时长 (duration):须写成")
    r = dispatcher.post(f"/dispatch/cases/{case.id}/approve-extension", data={"reason": "同意"},
                        follow_redirects=True)
    assert "已同意延期，时限已顺延" in flashes(r.get_data(as_text=True))
    session.expire_all()
    due_after = session.execute(select(Deadline.due_at).where(
        Deadline.item_type == "case", Deadline.item_id == case.id, Deadline.status == "pending")).scalar_one()
    assert due_after > due_before
    assert not session.get(Case, case.id).data.get("pending_request")
    # Nothing is pending any more: a second decision is refused in words.
    r = dispatcher.post(f"/dispatch/cases/{case.id}/reject-extension", data={"reason": "迟了"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "没有待审批的申请"


def test_deferral_is_approved_and_resumed_on_the_case_page(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "handling")
    extension.request_deferral(session, catalog, case.id, actor=world.actor("san_handler"), reason="等待审批")
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="pending-request"' in page and 'id="op-approve-deferral"' in page
    dispatcher.post(f"/dispatch/cases/{case.id}/approve-deferral", data={"reason": "同意挂账"})
    session.expire_all()
    assert session.get(Case, case.id).data["deferred"] is True
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="deferred"' in page and 'id="op-resume"' in page and 'id="op-redispatch"' in page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/redispatch",
                        data={"department_id": str(world.roads.id), "reason": "改派"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "案件处于缓办(挂账)状态，请先恢复办理"
    r = dispatcher.post(f"/dispatch/cases/{case.id}/resume", data={"reason": "批文已到"}, follow_redirects=True)
    assert "已恢复办理" in flashes(r.get_data(as_text=True))
    session.expire_all()
    assert session.get(Case, case.id).data["deferred"] is False


def test_callback_once_then_archive_read_only(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "closed")
    page = dispatcher.get("/dispatch").get_data(as_text=True)
    closed = page[page.index('id="closed"'):]
    assert case.number in closed and 'data-action="archive"' in closed and 'data-action="callback"' in closed
    r = dispatcher.post(f"/dispatch/cases/{case.id}/callback", data={"grade": "6"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "满意度 (grade):须在 1 到 5 之间"
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    data = {"grade": "5", "note": "满意", "form_token": token(page, "op-callback")}
    dispatcher.post(f"/dispatch/cases/{case.id}/callback", data=data)
    dispatcher.post(f"/dispatch/cases/{case.id}/callback", data=data)  # a double click
    session.expire_all()
    assert [c["grade"] for c in session.get(Case, case.id).data["callbacks"]] == [5]
    r = dispatcher.post(f"/dispatch/cases/{case.id}/archive", data={"opinion": "材料齐全"}, follow_redirects=True)
    assert "已归档" in flashes(r.get_data(as_text=True))
    session.expire_all()
    assert session.get(Case, case.id).state == "archived"
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    assert 'id="read-only"' in page and 'id="op-callback"' not in page and "5 非常满意" in page
    r = dispatcher.post(f"/dispatch/cases/{case.id}/callback", data={"grade": "1"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "案件当前为「已归档」，不能进行此操作"


def test_a_refused_step_can_be_sent_again_with_the_same_form(dispatcher, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "closed")
    page = dispatcher.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    form_token = token(page, "op-callback")
    r = dispatcher.post(f"/dispatch/cases/{case.id}/callback", data={"grade": "", "form_token": form_token},
                        follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "满意度 (grade):不能为空"
    r = dispatcher.post(f"/dispatch/cases/{case.id}/callback", data={"grade": "4", "form_token": form_token},
                        follow_redirects=True)
    assert "回访已记录" in flashes(r.get_data(as_text=True))


def test_the_case_page_in_english_and_for_other_roles(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "closed")
    as_person(client, world.people["dispatcher"])
    page = client.get(f"/dispatch/cases/{case.id}?lang=en").get_data(as_text=True)
    assert ">Close and archive</h2>" in page and ">Record the callback</button>" in page
    assert client.get("/dispatch/cases/99999").status_code == 404
    as_person(client, world.people["san_handler"])
    assert client.get(f"/dispatch/cases/{case.id}").status_code == 403
    assert client.post(f"/dispatch/cases/{case.id}/archive").status_code == 403
    session.expire_all()
    assert session.get(Case, case.id).state == "closed"


def test_forms_need_the_csrf_token(app, client, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world, "closed")
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    as_person(client, world.people["dispatcher"])
    assert client.post(f"/dispatch/cases/{case.id}/archive", data={"opinion": "x"}).status_code == 400
    session.expire_all()
    assert session.get(Case, case.id).state == "closed"
    page = client.get(f"/dispatch/cases/{case.id}").get_data(as_text=True)
    start = page.index('id="op-archive"')
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page[start:]).group(1)
    r = client.post(f"/dispatch/cases/{case.id}/archive", data={"csrf_token": csrf, "opinion": "x",
                                                                "form_token": token(page, "op-archive")})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(Case, case.id).state == "archived"
