"""The work pages through the test client: forms call the services, errors name the field,
another department's item is not found, the board's JSON, the map and the handover."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select

from caseflow.models import Attachment, Case, EscalationRun, Instruction, LedgerEntry, utcnow
from caseflow.services import transition
from caseflow.services.cases import handling, intake, review

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


def as_person(client, person) -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as s:
        s["person_id"] = person.id


def flashes(body: str) -> list[str]:
    return re.findall(r'<p class="flash \w+"[^>]*>([^<]*)</p>', body)


@pytest.fixture
def instruction(session, catalog, world):  # type: ignore[no-untyped-def]
    ins = Instruction(number="ZL-W-1", received_at=utcnow(), category_id=world.cat_garbage.id,
                      grid_id=world.grid_main.id, area_kind="main_urban", address="一号路口")
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    return ins


def _case(session, catalog, world, state: str = "reported") -> Case:  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("dispatcher"), title="垃圾堆放",
                            category_code="garbage", grid_id=world.grid_main.id, address="二号路")
    if state in ("registered", "dispatched", "handling"):
        review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    if state in ("dispatched", "handling"):
        handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    if state == "handling":
        handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    return case


def test_liaison_signs_and_dispatches_to_the_suggested_unit(client, session, world, instruction) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    page = client.get("/liaison").get_data(as_text=True)
    assert "data-board" in page and 'data-action="sign"' in page
    r = client.post(f"/liaison/{instruction.id}/sign", follow_redirects=True)
    assert "已签收" in flashes(r.get_data(as_text=True))
    page = client.get("/liaison").get_data(as_text=True)
    # The category's unit is preselected.
    assert re.search(rf'<option value="{world.sanitation.id}" selected>环卫所', page)
    client.post(f"/liaison/{instruction.id}/dispatch", data={"department_id": str(world.sanitation.id)})
    session.expire_all()
    item = session.get(Instruction, instruction.id)
    assert item.state == "dispatched" and item.department_id == world.sanitation.id
    data = client.get("/liaison/board.json").get_json()
    assert data["count"] == 1 and "ZL-W-1" in data["html"] and "data-due=" in data["html"]
    assert data["now"].endswith("+00:00")


def test_a_refused_step_is_flashed_naming_the_field(client, session, world, instruction) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    client.post(f"/liaison/{instruction.id}/sign")
    r = client.post(f"/liaison/{instruction.id}/dispatch", data={"department_id": "abc"}, follow_redirects=True)
    messages = flashes(r.get_data(as_text=True))
    assert messages and "部门 (department_id)" in messages[-1]
    r = client.post("/liaison/intake", data={"number": "", "category": "garbage"}, follow_redirects=True)
    assert "编号 (number)" in flashes(r.get_data(as_text=True))[-1]
    session.expire_all()
    assert session.get(Instruction, instruction.id).state == "signed"


def test_liaison_files_an_instruction(client, session, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    r = client.post("/liaison/intake", data={"number": "110-NEW-1", "category": "garbage", "grid": "G02",
                                             "address": "三号路", "severity": "ordinary"}, follow_redirects=True)
    assert "指令已登记" in flashes(r.get_data(as_text=True))
    item = session.execute(select(Instruction).where(Instruction.number == "110-NEW-1")).scalar_one()
    assert item.state == "received" and item.area_kind == "other"


def test_dispatcher_registers_dispatches_and_checks(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world)
    as_person(client, world.people["dispatcher"])
    page = client.get("/dispatch").get_data(as_text=True)
    assert case.number in page and 'data-action="register"' in page
    client.post(f"/dispatch/cases/{case.id}/register")
    page = client.get("/dispatch").get_data(as_text=True)
    assert re.search(rf'<option value="{world.sanitation.id}" selected>环卫所', page)
    client.post(f"/dispatch/cases/{case.id}/dispatch", data={"department_id": str(world.sanitation.id)})
    session.expire_all()
    assert session.get(Case, case.id).state == "dispatched"
    r = client.post(f"/dispatch/cases/{case.id}/supervise", data={"method": "phone", "requirement": ""},
                    follow_redirects=True)
    assert "督办要求 (requirement)" in flashes(r.get_data(as_text=True))[-1]
    r = client.post(f"/dispatch/cases/{case.id}/supervise", data={"method": "phone", "requirement": "今天办完"},
                    follow_redirects=True)
    assert "督办已记录" in flashes(r.get_data(as_text=True))


def test_handler_reports_a_result_with_a_photo(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "dispatched")
    as_person(client, world.people["san_handler"])
    assert case.number in client.get("/handler").get_data(as_text=True)
    page = client.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    assert 'data-action="sign"' in page
    client.post(f"/handler/cases/{case.id}/sign")
    page = client.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    assert 'capture="environment"' in page and 'accept="image/*"' in page
    r = client.post(f"/handler/cases/{case.id}/result", content_type="multipart/form-data",
                    data={"result": "已清理", "photo": (io.BytesIO(PNG), "site.png")}, follow_redirects=True)
    assert "处置结果已提交" in flashes(r.get_data(as_text=True))
    session.expire_all()
    row = session.execute(select(Attachment).where(Attachment.item_id == case.id)).scalar_one()
    assert session.get(Case, case.id).state == "checking" and row.kind == "photo"
    report = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == case.id,
                                                       LedgerEntry.trigger == "report_result")).scalar_one()
    assert report.payload["evidence_refs"] == [f"attachment:{row.id}"] and report.payload["result"] == "已清理"
    as_person(client, world.people["dispatcher"])
    page = client.get("/dispatch").get_data(as_text=True)
    assert "已清理" in page and "1 张照片" in page  # the check sees the result and its photo


def test_another_departments_case_is_not_found(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = _case(session, catalog, world, "dispatched")
    as_person(client, world.people["road_handler"])
    assert client.get(f"/handler/cases/{case.id}").status_code == 404
    assert client.post(f"/handler/cases/{case.id}/sign").status_code == 404
    session.expire_all()
    assert session.get(Case, case.id).state == "dispatched"


def test_leader_sees_the_map_and_acknowledges_an_escalation(client, session, catalog, world, instruction) -> None:  # type: ignore[no-untyped-def]
    world.grid_main.shape = {"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.01, 31.0], [121.01, 31.01],
                                                                 [121.0, 31.01], [121.0, 31.0]]]}
    world.grid_other.shape = {"type": "Polygon", "coordinates": [[[121.01, 31.0], [121.02, 31.0], [121.02, 31.01],
                                                                  [121.01, 31.01], [121.01, 31.0]]]}
    run = EscalationRun(item_type="instruction", item_id=instruction.id, chain="unsigned", state="received",
                        state_seq=instruction.state_seq, steps=[], status="active")
    session.add(run)
    session.commit()
    as_person(client, world.people["deputy"])
    page = client.get("/leader").get_data(as_text=True)
    assert '<g data-grid="G01" data-count="1">' in page and '<g data-grid="G02" data-count="0">' in page
    assert 'fill="#b3261e"' in page and 'fill="#e8f5e9"' in page
    assert f'data-run="{run.id}"' in page and "指令未签收" in page
    r = client.post(f"/leader/escalations/{run.id}/acknowledge", data={"comment": "我来处理"}, follow_redirects=True)
    assert "已确认" in flashes(r.get_data(as_text=True))[0]
    session.expire_all()
    assert session.get(EscalationRun, run.id).status == "acknowledged"
    ledger = session.execute(select(LedgerEntry).where(LedgerEntry.item_id == instruction.id,
                                                       LedgerEntry.trigger == "acknowledge:unsigned")).scalar_one()
    assert ledger.comment == "我来处理"


def test_risk_colours_follow_the_share_of_time_left() -> None:
    from caseflow.web.liaison import risk_of

    assert [risk_of(s, 100) for s in (80, 51, 50, 20, 19, 0, -5)] == \
        ["ok", "ok", "soon", "soon", "danger", "overdue", "overdue"]
    assert risk_of(None, 100) == "none" and risk_of(10, 0) == "ok"


def test_an_overdue_instruction_is_dark_red_on_the_board(client, session, world, instruction) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from caseflow.models import Deadline

    row = session.execute(select(Deadline).where(Deadline.item_id == instruction.id, Deadline.key == "sign")).scalar_one()
    row.due_at = utcnow() - timedelta(minutes=3)
    session.commit()
    as_person(client, world.people["liaison"])
    html = client.get("/liaison/board.json").get_json()["html"]
    assert 'class="risk-row-overdue"' in html and re.search(r'class="countdown risk-overdue">已超时 3 分', html)
