"""The liaison's instruction page decides a unit's transfer request (申请移交): approve by
transferring to another unit (the suggested one preselected) or, on a "not the bureau's"
request, by explaining to 110; or reject it with a reason. Without a request the liaison may
transfer on their own initiative. Refusals name the field in Chinese, a double submit acts once,
a form drawn for another request is refused, and the forms need the CSRF token."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from caseflow.models import Instruction, LedgerEntry
from caseflow.services import instructions as svc
from caseflow.services import linkage110, regulations

from .test_dispatch_operations import token
from .test_work_pages import as_person, flashes


def _dispatched(session, catalog, world, number: str = "110-L-1") -> Instruction:  # type: ignore[no-untyped-def]
    item, _ = svc.receive(session, catalog, actor=world.actor("liaison"), number=number, category="garbage",
                          grid="G01", address="人民路 1 号", description="路面塌陷")
    svc.sign(session, catalog, item.id, actor=world.actor("liaison"))
    svc.dispatch(session, catalog, item.id, actor=world.actor("liaison"), department_id=world.sanitation.id)
    return item


def _ask(session, catalog, world, item, **kw):  # type: ignore[no-untyped-def]
    args = {"reason": "路面塌陷，属道路养护", "basis": "《城市道路管理条例》第三十五条"}
    args.update(kw)
    return svc.request_transfer(session, catalog, item.id, actor=world.actor("san_handler"), **args)


def _form(page: str, form_id: str) -> str:
    start = page.index(f'id="{form_id}"')
    return page[start:page.index("</form>", start)]


def _fresh(session, item_id: int) -> Instruction:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(Instruction, item_id)


def _count(session, item_id: int, trigger: str) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == item_id,
        LedgerEntry.trigger == trigger)).scalar_one()


@pytest.fixture
def liaison(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    return client


def test_the_request_is_shown_and_approved_by_transferring_to_the_suggested_unit(liaison, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    reg = regulations.add(session, world.actor("admin"), code="DL-9", title="道路养护职责清单", kind="duty_list")
    _ask(session, catalog, world, item, basis="第 3 条", basis_ref_id=reg.id, suggested_department_id=world.roads.id)
    url = f"/liaison/{item.id}"
    # The board marks the row and links to the request.
    html = liaison.get("/liaison/board.json").get_json()["html"]
    assert re.search(rf'href="{url}#transfer-request">移交申请待处理</a>', html)
    page = liaison.get(url).get_data(as_text=True)
    box = page[page.index('id="transfer-request"'):page.index('id="answers-110"')]
    assert 'data-state="open" data-kind="other_unit" data-no="1"' in box
    assert re.search(r'id="transfer-reason">路面塌陷，属道路养护<', box)
    assert re.search(r'id="transfer-basis">DL-9 道路养护职责清单 · 第 3 条<', box)
    assert re.search(r'id="transfer-suggested">市政养护所<', box)
    assert re.search(r'id="transfer-unit">环卫所<', box)
    assert re.search(r'id="transfer-by">san_handler · \d{4}-\d\d-\d\d \d\d:\d\d<', box)
    form = _form(page, "op-approve-transfer")
    assert re.search(rf'<option value="{world.roads.id}" selected>市政养护所 \(建议\)', form)
    assert f'<option value="{world.sanitation.id}"' not in form  # not the unit holding it
    assert 'id="op-reject-transfer"' in page
    assert 'id="op-not-ours"' not in page  # the unit says "not ours", not "not the bureau's"
    assert 'id="transfer-form"' not in page  # the request is answered, not bypassed

    # Without a reason: refused naming the field, nothing changes, the form may be sent again.
    tok = token(page, "op-approve-transfer")
    data = {"department_id": str(world.roads.id), "request_no": "1", "form_token": tok, "next": url}
    r = liaison.post(f"{url}/transfer", data={**data, "reason": ""}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "移交理由 (reason):不能为空"
    assert _fresh(session, item.id).department_id == world.sanitation.id

    r = liaison.post(f"{url}/transfer", data={**data, "reason": "同意移交养护所"}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert r.request.path == url and flashes(body)[-1] == "指令已移交，新单位和110已通知"
    got = _fresh(session, item.id)
    assert (got.state, got.department_id) == ("dispatched", world.roads.id)
    req = got.record("transfer_requests")[-1]
    assert (req["state"], req["outcome"], req["to_department_id"], req["decided_by_id"]) == (
        "approved", "transferred", world.roads.id, world.people["liaison"].id)
    assert [a.payload["kind"] for a in linkage110.answers_for(session, item.id)][-1] == "transferred"
    # Decided: no request box; the history row says so; a further transfer is on the liaison's initiative.
    assert 'id="transfer-request"' not in body and 'id="transfer-form"' in body
    assert "移交申请待处理" not in liaison.get("/liaison/board.json").get_json()["html"]
    assert re.search(r'<tr data-no="1" data-state="approved">.*?已同意 → 市政养护所', body, re.S)

    # The same form again (a double click, a reload): done once.
    r = liaison.post(f"{url}/transfer", data={**data, "reason": "同意移交养护所"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "此表单已提交过，操作没有重复执行"
    assert _count(session, item.id, "transfer") == 1


def test_a_not_the_bureaus_request_is_explained_to_110(liaison, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    _ask(session, catalog, world, item, kind="not_bureau", reason="交通事故，属交警处置")
    url = f"/liaison/{item.id}"
    page = liaison.get(url).get_data(as_text=True)
    assert 'data-kind="not_bureau"' in page and 'id="transfer-suggested"' not in page
    english = liaison.get(f"{url}?lang=en").get_data(as_text=True)
    liaison.get(f"{url}?lang=zh")
    assert ">Approve: explain to 110 it is not the bureau&#39;s</h2>" in english
    assert not re.search(r">(liaison|field|action|transfer)\.[a-z_.]+<", english)  # no key left untranslated
    form = _form(page, "op-not-ours")
    assert ">交通事故，属交警处置</textarea>" in form  # the unit's words, to edit
    r = liaison.post(f"{url}/not-ours", follow_redirects=True, data={
        "explanation": "", "request_no": "1", "form_token": token(page, "op-not-ours")})
    assert flashes(r.get_data(as_text=True))[-1] == "向110的说明 (explanation):不能为空"
    r = liaison.post(f"{url}/not-ours", follow_redirects=True, data={
        "explanation": "经核实属交警处置", "request_no": "1", "form_token": token(page, "op-not-ours")})
    assert flashes(r.get_data(as_text=True))[-1] == "已向110说明非本局事项"
    got = _fresh(session, item.id)
    assert got.state == "not_ours" and got.record("not_ours")["explanation"] == "经核实属交警处置"
    req = got.record("transfer_requests")[-1]
    assert (req["state"], req["outcome"]) == ("approved", "not_ours")
    kinds = [a.payload for a in linkage110.answers_for(session, item.id)]
    assert kinds[-1]["kind"] == "not_ours"


def test_a_request_is_rejected_with_a_reason(liaison, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    _ask(session, catalog, world, item, suggested_department_id=world.roads.id)
    url = f"/liaison/{item.id}"
    page = liaison.get(url).get_data(as_text=True)
    tok = token(page, "op-reject-transfer")
    r = liaison.post(f"{url}/reject-transfer", data={"reason": " ", "request_no": "1", "form_token": tok},
                     follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "驳回理由 (reason):不能为空"
    r = liaison.post(f"{url}/reject-transfer", data={"reason": "垃圾清运属环卫职责", "request_no": "1",
                                                     "form_token": tok}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert flashes(body)[-1] == "移交申请已驳回"
    got = _fresh(session, item.id)
    req = got.record("transfer_requests")[-1]
    assert (req["state"], req["decision_reason"], got.department_id) == (
        "rejected", "垃圾清运属环卫职责", world.sanitation.id)
    assert re.search(r'data-state="rejected">.*?已驳回:垃圾清运属环卫职责', body, re.S)
    # An old copy of the approve form (drawn for the request now rejected) is refused.
    r = liaison.post(f"{url}/transfer", follow_redirects=True, data={
        "department_id": str(world.roads.id), "reason": "同意", "request_no": "1",
        "form_token": token(page, "op-approve-transfer")})
    assert flashes(r.get_data(as_text=True))[-1] == "移交申请已变化(已处理、撤回或新提交)，请刷新页面后再处理"
    assert _count(session, item.id, "transfer") == 0


def test_the_liaison_transfers_on_their_own_initiative(liaison, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    url = f"/liaison/{item.id}"
    page = liaison.get(url).get_data(as_text=True)
    assert 'id="transfer-request"' not in page
    form = _form(page, "transfer-form")
    assert 'name="request_no" value="0"' in form and " selected" not in form  # nothing suggested
    tok = token(page, "transfer-form")
    r = liaison.post(f"{url}/transfer", follow_redirects=True, data={
        "department_id": str(world.sanitation.id), "reason": "改派", "request_no": "0", "form_token": tok})
    assert flashes(r.get_data(as_text=True))[-1] == "移交至 (department_id):指令已在该单位，请选择其他单位"
    r = liaison.post(f"{url}/transfer", follow_redirects=True, data={
        "department_id": "", "reason": "改派", "request_no": "0", "form_token": tok})
    assert flashes(r.get_data(as_text=True))[-1] == "移交至 (department_id):请选择一项"

    # A unit asks while the page is open: the form drawn without a request is refused.
    _ask(session, catalog, world, item)
    r = liaison.post(f"{url}/transfer", follow_redirects=True, data={
        "department_id": str(world.roads.id), "reason": "改派", "request_no": "0", "form_token": tok})
    assert "移交申请已变化" in flashes(r.get_data(as_text=True))[-1]
    svc.withdraw_transfer_request(session, catalog, item.id, actor=world.actor("san_handler"))

    page = liaison.get(url).get_data(as_text=True)
    r = liaison.post(f"{url}/transfer", follow_redirects=True, data={
        "department_id": str(world.roads.id), "reason": "属道路养护", "request_no": "0",
        "form_token": token(page, "transfer-form")})
    assert flashes(r.get_data(as_text=True))[-1] == "指令已移交，新单位和110已通知"
    got = _fresh(session, item.id)
    assert got.department_id == world.roads.id and got.record("transfer_requests")[-1]["state"] == "withdrawn"
    assert _count(session, item.id, "transfer") == 1


def test_no_transfer_before_dispatch_and_refusals_speak_of_the_instruction(liaison, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item, _ = svc.receive(session, catalog, actor=world.actor("liaison"), number="110-L-2", category="garbage",
                          grid="G01")
    svc.sign(session, catalog, item.id, actor=world.actor("liaison"))
    page = liaison.get(f"/liaison/{item.id}").get_data(as_text=True)
    assert 'id="transfer-form"' not in page and 'id="transfer-request"' not in page
    r = liaison.post(f"/liaison/{item.id}/transfer", follow_redirects=True,
                     data={"department_id": str(world.roads.id), "reason": "改派"})
    assert flashes(r.get_data(as_text=True))[-1] == "指令当前为「已签收」，不能进行此操作"
    r = liaison.post(f"/liaison/{item.id}/reject-transfer", follow_redirects=True, data={"reason": "不同意"})
    assert flashes(r.get_data(as_text=True))[-1] == "指令当前为「已签收」，不能进行此操作"
    assert _fresh(session, item.id).department_id is None
    # Before arrival, "not ours" only answers a not-the-bureau's request.
    item = _dispatched(session, catalog, world, number="110-L-3")
    r = liaison.post(f"/liaison/{item.id}/not-ours", follow_redirects=True, data={"explanation": "属交警"})
    assert flashes(r.get_data(as_text=True))[-1] == "到场前只能应单位「非本局事项」的申请向110说明"
    assert _fresh(session, item.id).state == "dispatched"
    assert liaison.post("/liaison/99999/transfer", data={"reason": "x"}).status_code == 404


def test_other_roles_and_the_csrf_token(app, client, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    _ask(session, catalog, world, item)
    as_person(client, world.people["san_handler"])
    assert client.get(f"/liaison/{item.id}").status_code == 403
    assert client.post(f"/liaison/{item.id}/reject-transfer", data={"reason": "x"}).status_code == 403
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    as_person(client, world.people["liaison"])
    assert client.post(f"/liaison/{item.id}/reject-transfer", data={"reason": "不同意"}).status_code == 400
    assert _fresh(session, item.id).record("transfer_requests")[-1]["state"] == "open"
    page = client.get(f"/liaison/{item.id}").get_data(as_text=True)
    form = _form(page, "op-reject-transfer")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post(f"/liaison/{item.id}/reject-transfer", data={
        "csrf_token": csrf, "form_token": token(page, "op-reject-transfer"), "request_no": "1", "reason": "不同意"})
    assert r.status_code == 302 and r.headers["Location"] == f"/liaison/{item.id}"
    assert _fresh(session, item.id).record("transfer_requests")[-1]["state"] == "rejected"
