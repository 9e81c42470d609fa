"""The handler's console: asking the liaison to transfer an instruction (申请移交) from its page,
withdrawing it, reporting not-ours on site and keeping order; and, on the landing page, the
escalations the person was told about with the acknowledge button (as on the duty page)."""
from __future__ import annotations

import re

from sqlalchemy import select

from caseflow.deadlines import escalation
from caseflow.models import EscalationRun, Instruction, LedgerEntry
from caseflow.services import instructions as svc
from caseflow.services import regulations
from tests.integration.test_escalation import late_instruction
from tests.web.test_work_pages import as_person, flashes


def _dispatched(session, catalog, world) -> Instruction:  # type: ignore[no-untyped-def]
    item, _ = svc.receive(session, catalog, actor=world.actor("liaison"), number="110-W-1", category="garbage",
                          grid="G01", address="人民路 1 号", description="垃圾堆放")
    svc.sign(session, catalog, item.id, actor=world.actor("liaison"))
    svc.dispatch(session, catalog, item.id, actor=world.actor("liaison"), department_id=world.sanitation.id)
    return item


def test_unit_asks_to_transfer_from_its_instruction_page(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    reg = regulations.add(session, world.actor("admin"), code="DL-7", title="环卫职责清单", kind="duty_list")
    as_person(client, world.people["san_handler"])
    page = client.get(f"/handler/instructions/{item.id}").get_data(as_text=True)
    assert 'id="transfer-form"' in page and 'data-action="transfer"' in page
    assert f'<option value="{reg.id}">DL-7 环卫职责清单</option>' in page
    depts = page[page.index('name="suggested_department_id"'):]
    depts = depts[:depts.index("</select>")]
    assert f'<option value="{world.roads.id}">市政养护所</option>' in depts
    assert "环卫所" not in depts  # not its own unit
    assert 'id="not-ours-form"' not in page  # only on site

    # Without a basis: refused, the field named, nothing recorded.
    r = client.post(f"/handler/instructions/{item.id}/transfer", data={"reason": "非本单位职责"},
                    follow_redirects=True)
    assert "(basis)" in flashes(r.get_data(as_text=True))[-1]
    session.expire_all()
    assert session.get(Instruction, item.id).record("transfer_requests") is None

    r = client.post(f"/handler/instructions/{item.id}/transfer", follow_redirects=True,
                    data={"kind": "other_unit", "reason": "路面塌陷", "basis_ref_id": str(reg.id),
                          "suggested_department_id": str(world.roads.id)})
    body = r.get_data(as_text=True)
    assert flashes(body)[-1] == "移交申请已提交联络员"
    assert 'id="transfer-request" data-state="open" data-kind="other_unit"' in body
    assert "DL-7 环卫职责清单" in body and 'id="transfer-form"' not in body
    session.expire_all()
    req = session.get(Instruction, item.id).record("transfer_requests")[-1]
    assert (req["reason"], req["basis_ref_id"], req["suggested_department_id"], req["state"]) == \
        ("路面塌陷", reg.id, world.roads.id, "open")

    r = client.post(f"/handler/instructions/{item.id}/withdraw-transfer", follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "移交申请已撤回"
    session.expire_all()
    assert session.get(Instruction, item.id).record("transfer_requests")[-1]["state"] == "withdrawn"

    # Another unit's handler: not found.
    as_person(client, world.people["road_handler"])
    assert client.get(f"/handler/instructions/{item.id}").status_code == 404
    assert client.post(f"/handler/instructions/{item.id}/transfer",
                       data={"reason": "x", "basis": "y"}).status_code == 404


def test_a_rejection_shows_its_reason(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    svc.request_transfer(session, catalog, item.id, actor=world.actor("san_handler"), reason="x", basis="y")
    svc.reject_transfer(session, catalog, item.id, actor=world.actor("liaison"), reason="属环卫职责，请按时到场")
    as_person(client, world.people["san_handler"])
    page = client.get(f"/handler/instructions/{item.id}").get_data(as_text=True)
    assert re.search(r'id="transfer-rejected">移交申请未同意：属环卫职责，请按时到场<', page)
    assert 'id="transfer-form"' in page  # it may ask again


def test_not_ours_on_site_and_keeping_order(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = _dispatched(session, catalog, world)
    svc.arrive(session, catalog, item.id, actor=world.actor("san_handler"), situation="交通事故")
    as_person(client, world.people["san_handler"])
    page = client.get(f"/handler/instructions/{item.id}").get_data(as_text=True)
    assert 'data-action="not-ours"' in page
    r = client.post(f"/handler/instructions/{item.id}/not-ours", data={"explanation": ""}, follow_redirects=True)
    assert "(explanation)" in flashes(r.get_data(as_text=True))[-1]
    r = client.post(f"/handler/instructions/{item.id}/not-ours", data={"explanation": "属交警处置"},
                    follow_redirects=True)
    body = r.get_data(as_text=True)
    assert flashes(body)[-1] == "非本局事项已报告" and 'id="keep-order-form"' in body
    client.post(f"/handler/instructions/{item.id}/keep-order", data={"note": "交警已到场", "responsible_arrived": "1"})
    session.expire_all()
    got = session.get(Instruction, item.id)
    assert got.state == "not_ours" and got.record("not_ours")["explanation"] == "属交警处置"
    assert got.record("keep_order")[-1]["responsible_arrived"] is True


def test_handler_landing_page_acknowledges_escalations(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)  # the unit head and the group leader are told
    # A handler who was not told sees no escalation list.
    as_person(client, world.people["san_handler"])
    assert 'id="handler-escalations"' not in client.get("/handler").get_data(as_text=True)

    as_person(client, world.people["san_head"])
    page = client.get("/handler").get_data(as_text=True)
    table = page[page.index('id="handler-escalations"'):]
    row = re.search(rf'<tr [^>]*data-run="{run.id}".*?</tr>', table, re.S)
    assert row and 'data-action="acknowledge"' in row.group(0) and "单位负责人 san_head" in row.group(0)
    assert 'name="next" value="/handler"' in row.group(0)
    r = client.post(f"/leader/escalations/{run.id}/acknowledge", data={"comment": "已到场处置", "next": "/handler"},
                    follow_redirects=True)
    assert r.request.path == "/handler"
    body = r.get_data(as_text=True)
    assert "已确认" in flashes(body)[0]
    row = re.search(rf'<tr [^>]*data-run="{run.id}".*?</tr>', body, re.S)
    assert row and 'data-status="acknowledged"' in row.group(0) and 'data-action="acknowledge"' not in row.group(0)
    session.expire_all()
    got = session.get(EscalationRun, run.id)
    assert (got.status, got.acknowledged_by_id) == ("acknowledged", world.people["san_head"].id)
    assert session.execute(select(LedgerEntry.comment).where(
        LedgerEntry.item_id == ins.id, LedgerEntry.trigger == "acknowledge:late_arrival")).scalar_one() == "已到场处置"
