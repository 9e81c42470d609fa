"""Severity reports, the report to the principal leader and the follow-up on the console
(caseflow/web/instruction_steps.py): the unit's page, the liaison's page and the leader's pages
call the same services as the API, refusals name the field in Chinese, a double submit acts
once, another unit's instruction is not found and the forms need the CSRF token."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from caseflow.models import Instruction, LedgerEntry, Notification
from caseflow.services import instructions as svc
from caseflow.services import linkage110

from .test_dispatch_operations import token
from .test_work_pages import as_person, flashes


def _on_site(session, catalog, world, number: str = "110-SV-1") -> Instruction:  # type: ignore[no-untyped-def]
    liaison = world.actor("liaison")
    item, _ = svc.receive(session, catalog, actor=liaison, number=number, category="garbage", grid="G01",
                          address="人民路 8 号", description="垃圾站起火")
    svc.sign(session, catalog, item.id, actor=liaison)
    svc.dispatch(session, catalog, item.id, actor=liaison, department_id=world.sanitation.id)
    svc.arrive(session, catalog, item.id, actor=world.actor("san_handler"), situation="明火已扑灭，周边有烟")
    return item


def _fresh(session, item_id: int) -> Instruction:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.get(Instruction, item_id)


def _count(session, item_id: int, trigger: str) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == item_id,
        LedgerEntry.trigger == trigger)).scalar_one()


def _told(session, item_id: int, person_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return list(session.execute(select(Notification.subject).where(
        Notification.item_id == item_id, Notification.person_id == person_id).order_by(Notification.id)).scalars())


def _kinds_to_110(session, item_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [n.payload["kind"] for n in linkage110.answers_for(session, item_id)]


def test_the_unit_reports_a_major_event_and_opens_a_follow_up(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _on_site(session, catalog, world)
    as_person(client, world.people["san_handler"])
    url = f"/handler/instructions/{item.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="severity-form"' in page and 'id="follow-up-form"' in page
    assert 'id="principal-form"' not in page  # the deputy leader's step, not the unit's
    assert 'id="step-result-form"' not in page  # the unit reports its result with its own form (photos)

    # No severity chosen, or one that is not offered: refused naming the field, nothing recorded.
    tok = token(page, "severity-form")
    r = client.post(f"{url}/steps/severity", data={"severity": "", "form_token": tok}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "事件等级 (severity):请选择一项"
    r = client.post(f"{url}/steps/severity", data={"severity": "ordinary", "form_token": tok}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "事件等级 (severity):不是可选的值"
    assert _count(session, item.id, "report_severity") == 0

    # The same (refused, so released) token with a valid choice: reported to the deputy in charge.
    data = {"severity": "major", "form_token": tok}
    r = client.post(f"{url}/steps/severity", data=data, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert r.request.path == url and flashes(body)[-1] == "事件等级已报告分管领导"
    got = _fresh(session, item.id)
    assert got.severity == "major"
    report = got.record("severity_reports")[-1]
    assert (report["severity"], report["to"], report["person_id"]) == ("major", "deputy_in_charge",
                                                                       world.people["deputy"].id)
    assert _told(session, item.id, world.people["deputy"].id) == ["[110-SV-1] 重大事件报告"]
    assert re.search(r'<tr data-trigger="report_severity"><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>\s*'
                     r'<td>重大事件报告分管领导</td><td>san_handler</td>\s*<td>deputy</td>', body)
    # A double submit: done once.
    r = client.post(f"{url}/steps/severity", data=data, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "此表单已提交过，操作没有重复执行"
    assert _count(session, item.id, "report_severity") == 1

    # The follow-up needs its explanation (named in Chinese), then goes to 110.
    page = client.get(url).get_data(as_text=True)
    tok = token(page, "follow-up-form")
    r = client.post(f"{url}/steps/follow-up", data={"explanation": " ", "form_token": tok}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "后续处理说明 (explanation):不能为空"
    assert _fresh(session, item.id).state == "on_site"
    r = client.post(f"{url}/steps/follow-up", follow_redirects=True,
                    data={"explanation": "垃圾站设备损毁，明日抢修", "form_token": tok})
    body = r.get_data(as_text=True)
    assert flashes(body)[-1] == "已转后续跟进，并向110说明"
    got = _fresh(session, item.id)
    assert got.state == "follow_up" and got.record("follow_up") == "垃圾站设备损毁，明日抢修"
    assert _kinds_to_110(session, item.id)[-1] == "follow_up"
    assert 'id="follow-up-notice">后续跟进中：垃圾站设备损毁，明日抢修。' in body
    assert 'id="follow-up-form"' not in body and 'id="result-form"' in body  # the follow-up's result next

    # The follow-up's result with the unit's own result form; the liaison then reports to 110.
    client.post(f"{url}/result", data={"result": "设备已修复"})
    assert _fresh(session, item.id).state == "handled"
    svc.report_to_110(session, catalog, item.id, actor=world.actor("liaison"))
    assert _fresh(session, item.id).state == "closed"
    assert linkage110.answers_for(session, item.id)[-1].payload["follow_up"] == "垃圾站设备损毁，明日抢修"


def test_another_units_instruction_is_not_found(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _on_site(session, catalog, world)
    as_person(client, world.people["road_handler"])
    assert client.post(f"/handler/instructions/{item.id}/steps/severity", data={"severity": "major"}).status_code == 404
    assert client.post(f"/handler/instructions/{item.id}/steps/follow-up",
                       data={"explanation": "x"}).status_code == 404
    assert client.post(f"/liaison/{item.id}/steps/severity", data={"severity": "major"}).status_code == 403
    assert client.get(f"/leader/instructions/{item.id}").status_code == 403
    got = _fresh(session, item.id)
    assert (got.state, got.severity, _count(session, item.id, "report_severity")) == ("on_site", "ordinary", 0)


def test_the_liaison_records_reports_the_follow_up_and_its_result(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _on_site(session, catalog, world)
    as_person(client, world.people["liaison"])
    url = f"/liaison/{item.id}"
    page = client.get(url).get_data(as_text=True)
    for form in ("severity-form", "follow-up-form", "step-result-form"):
        assert f'id="{form}"' in page
    assert 'id="principal-form"' not in page  # not a major event (yet)
    # Posted anyway: the workflow's guard, explained about the instruction.
    r = client.post(f"{url}/steps/report-to-principal", data={"comment": "x"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "仅重大事件需报告主要领导"
    assert _count(session, item.id, "report_to_principal") == 0

    client.post(f"{url}/steps/severity", data={"severity": "larger"})
    got = _fresh(session, item.id)
    assert got.severity == "larger" and got.record("severity_reports")[-1]["to"] == "deputy_in_charge"
    assert 'id="principal-form"' not in client.get(url).get_data(as_text=True)
    client.post(f"{url}/steps/severity", data={"severity": "major"})
    page = client.get(url).get_data(as_text=True)
    assert 'id="principal-form"' in page and "重大事件由分管领导向主要领导报告" in page
    r = client.post(f"{url}/steps/report-to-principal", follow_redirects=True,
                    data={"comment": "分管领导电话要求代为报告", "form_token": token(page, "principal-form")})
    body = r.get_data(as_text=True)
    assert flashes(body)[-1] == "已报告主要领导"
    report = _fresh(session, item.id).record("severity_reports")[-1]
    assert (report["to"], report["person_id"], report["by_person_id"]) == (
        "principal", world.people["principal"].id, world.people["liaison"].id)
    assert _told(session, item.id, world.people["principal"].id) == ["[110-SV-1] 重大事件报告"]
    assert re.search(r"已于 \d{4}-\d\d-\d\d \d\d:\d\d 报告主要领导", body)
    steps = re.findall(r'<tr data-trigger="(\w+)">', body[body.index('id="severity-history"'):])
    assert steps == ["report_severity", "report_severity", "report_to_principal"]
    assert "较大事件报告分管领导" in body and "重大事件报告主要领导" in body

    # Follow-up, then its result as the unit reported it by telephone.
    client.post(f"{url}/steps/follow-up", data={"explanation": "需协调供电部门，48 小时内处理"})
    page = client.get(url).get_data(as_text=True)
    assert _fresh(session, item.id).state == "follow_up"
    assert "<h2>登记后续处理结果</h2>" in page and 'id="follow-up-form"' not in page
    tok = token(page, "step-result-form")
    r = client.post(f"{url}/steps/result", data={"result": "", "form_token": tok}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "处置结果 (result):不能为空"
    r = client.post(f"{url}/steps/result", follow_redirects=True,
                    data={"result": "供电恢复，现场清理完毕", "place": "人民路 8 号垃圾站", "form_token": tok})
    assert flashes(r.get_data(as_text=True))[-1] == "处置结果已登记"
    got = _fresh(session, item.id)
    assert (got.state, got.record("result"), got.record("place")) == ("handled", "供电恢复，现场清理完毕",
                                                                      "人民路 8 号垃圾站")
    # Handled: the steps of the earlier states are gone, a late result is refused about the instruction.
    page = client.get(url).get_data(as_text=True)
    assert 'id="step-result-form"' not in page and 'id="follow-up-form"' not in page
    r = client.post(f"{url}/steps/follow-up", data={"explanation": "再跟进"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "指令当前为「处置完毕」，不能进行此操作"
    # The board's report to 110 closes it with the follow-up in the answer.
    client.post(f"/liaison/{item.id}/report-to-110")
    assert _fresh(session, item.id).state == "closed"
    assert _kinds_to_110(session, item.id)[-2:] == ["follow_up", "result"]
    assert client.post("/liaison/99999/steps/result", data={"result": "x"}).status_code == 404


def test_the_deputy_leader_reports_a_major_event_to_the_principal(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    major = _on_site(session, catalog, world)
    larger = _on_site(session, catalog, world, number="110-SV-2")
    _on_site(session, catalog, world, number="110-SV-3")  # ordinary: not on the leader's list
    svc.report_severity(session, catalog, major.id, actor=world.actor("san_handler"), severity="major")
    svc.report_severity(session, catalog, larger.id, actor=world.actor("san_handler"), severity="larger")
    as_person(client, world.people["deputy"])
    dash = client.get("/leader").get_data(as_text=True)
    card = dash[dash.index('id="severity-watch"'):dash.index("</section>", dash.index('id="severity-watch"'))]
    rows = re.findall(r'<tr data-instruction="(\d+)" data-severity="(\w+)" data-to-principal="(\w+)">', card)
    assert sorted(rows) == sorted([(str(major.id), "major", "no"), (str(larger.id), "larger", "no")])
    assert f'href="/leader/instructions/{major.id}">110-SV-1</a>' in card and "110-SV-3" not in card
    assert "<strong>待报告</strong>" in card and "deputy · " in card

    url = f"/leader/instructions/{major.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'data-severity="major"' in page and 'id="principal-form"' in page
    assert 'id="severity-form"' not in page and 'id="follow-up-form"' not in page  # not the leader's steps
    data = {"comment": "已电话报告局长", "form_token": token(page, "principal-form")}
    r = client.post(f"{url}/steps/report-to-principal", data=data, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert r.request.path == url and flashes(body)[-1] == "已报告主要领导"
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.item_id == major.id,
                                                      LedgerEntry.trigger == "report_to_principal")).scalar_one()
    assert (entry.actor_id, entry.comment, entry.payload["reported_to_person_id"]) == (
        world.people["deputy"].id, "已电话报告局长", world.people["principal"].id)
    assert re.search(r'<td>重大事件报告主要领导</td><td>deputy</td>\s*<td>principal</td>\s*<td>已电话报告局长</td>', body)
    r = client.post(f"{url}/steps/report-to-principal", data=data, follow_redirects=True)  # a double click
    assert flashes(r.get_data(as_text=True))[-1] == "此表单已提交过，操作没有重复执行"
    assert _count(session, major.id, "report_to_principal") == 1
    dash = client.get("/leader").get_data(as_text=True)
    assert f'data-instruction="{major.id}" data-severity="major" data-to-principal="yes"' in dash

    # A larger event is the deputy's alone: no form, and a forged post is refused.
    page = client.get(f"/leader/instructions/{larger.id}").get_data(as_text=True)
    assert 'id="principal-form"' not in page
    r = client.post(f"/leader/instructions/{larger.id}/steps/report-to-principal", data={}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "仅重大事件需报告主要领导"
    assert _count(session, larger.id, "report_to_principal") == 0
    assert client.get("/leader/instructions/99999").status_code == 404
    english = client.get(f"{url}?lang=en").get_data(as_text=True)
    client.get(f"{url}?lang=zh")
    assert "Report the major event to the principal leader" in english
    assert not re.search(r">(steps|field|action|severity)\.[a-z_.]+<", english)  # no key left untranslated


@pytest.mark.parametrize(("who", "path", "form_id"), [
    ("san_handler", "/handler/instructions/{id}", "severity-form"),
    ("liaison", "/liaison/{id}", "severity-form"),
])
def test_the_forms_need_the_csrf_token(app, client, session, catalog, world, monkeypatch, who, path, form_id) -> None:  # type: ignore[no-untyped-def]
    item = _on_site(session, catalog, world)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    as_person(client, world.people[who])
    url = path.format(id=item.id)
    assert client.post(f"{url}/steps/severity", data={"severity": "major"}).status_code == 400
    assert _fresh(session, item.id).severity == "ordinary"
    page = client.get(url).get_data(as_text=True)
    form = page[page.index(f'id="{form_id}"'):]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post(f"{url}/steps/severity", data={"csrf_token": csrf, "form_token": token(page, form_id),
                                                   "severity": "major"})
    assert r.status_code == 302 and r.headers["Location"] == url
    assert _fresh(session, item.id).severity == "major"
