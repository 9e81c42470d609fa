"""The work pages through the test client: forms call the services, errors name the field,
another department's item is not found, the board's JSON, the map and the handover."""
from __future__ import annotations

import io
import re
from zoneinfo import ZoneInfo

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


def _second_instruction(session, catalog, world, number: str):  # type: ignore[no-untyped-def]
    ins = Instruction(number=number, received_at=utcnow(), category_id=world.cat_garbage.id,
                      grid_id=world.grid_main.id, area_kind="main_urban", address="二号路口")
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    return ins


def _dispatch(session, catalog, world, ins):  # type: ignore[no-untyped-def]
    liaison = world.actor("liaison")
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=liaison)
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=liaison,
                    data={"department_id": world.sanitation.id})


def _make_late(session, catalog, ins, minutes_overdue: int = 7):  # type: ignore[no-untyped-def]
    """Let the arrival deadline fire ``minutes_overdue`` ago: the instruction goes to ``late``."""
    from datetime import timedelta

    from caseflow.deadlines.firing import fire_deadline
    from caseflow.models import Deadline

    row = session.execute(select(Deadline).where(Deadline.item_type == "instruction", Deadline.item_id == ins.id,
                                                 Deadline.key == "arrival")).scalar_one()
    row.due_at = utcnow() - timedelta(minutes=minutes_overdue)
    session.commit()
    assert fire_deadline(session, catalog, row.id).result == "fired"
    session.expire_all()
    assert session.get(Instruction, ins.id).state == "late"
    return row


def test_a_late_instruction_is_overdue_and_on_top_of_the_board(client, session, catalog, world, instruction) -> None:  # type: ignore[no-untyped-def]
    on_time = _second_instruction(session, catalog, world, "ZL-W-2")
    _dispatch(session, catalog, world, instruction)
    _dispatch(session, catalog, world, on_time)
    _make_late(session, catalog, instruction)
    as_person(client, world.people["liaison"])
    html = client.get("/liaison/board.json").get_json()["html"]
    late_row = re.search(r'<tr class="risk-row-(\w+)" data-state="late" data-number="ZL-W-1".*?</tr>', html, re.S)
    assert late_row and late_row.group(1) == "overdue"
    assert re.search(r'class="countdown risk-overdue">已超时 7 分', late_row.group(0))
    # Overdue first, above the instruction still inside its arrival time.
    assert html.index('data-number="ZL-W-1"') < html.index('data-number="ZL-W-2"')
    # The handler's page shows it overdue, too.
    as_person(client, world.people["san_handler"])
    page = client.get("/handler").get_data(as_text=True)
    card = re.search(r'<li class="work-card risk-row-(\w+)" data-number="ZL-W-1">.*?</li>', page, re.S)
    assert card and card.group(1) == "overdue" and "已超时 7 分" in card.group(0)
    page = client.get(f"/handler/instructions/{instruction.id}").get_data(as_text=True)
    assert "risk-overdue" in page and "已超时 7 分" in page
    # Explaining the delay (a step that stays in ``late``) does not make it look on time.
    transition.fire(session, catalog, "instruction", instruction.id, "explain_delay", actor=world.actor("san_handler"),
                    data={"reason": "道路拥堵"})
    as_person(client, world.people["liaison"])
    html = client.get("/liaison/board.json").get_json()["html"]
    assert re.search(r'<tr class="risk-row-overdue" data-state="late" data-number="ZL-W-1"', html)


def test_a_late_arrival_is_shown_as_such(client, session, catalog, world, instruction) -> None:  # type: ignore[no-untyped-def]
    _dispatch(session, catalog, world, instruction)
    _make_late(session, catalog, instruction)
    transition.fire(session, catalog, "instruction", instruction.id, "arrive", actor=world.actor("san_handler"),
                    data={"situation": "现场垃圾已清理"})
    session.expire_all()
    assert session.get(Instruction, instruction.id).state == "on_site"
    as_person(client, world.people["liaison"])
    html = client.get("/liaison/board.json").get_json()["html"]
    row = re.search(r'<tr [^>]*data-number="ZL-W-1".*?</tr>', html, re.S)
    assert row and "迟到到场" in row.group(0) and "risk-overdue" not in row.group(0)
    as_person(client, world.people["san_handler"])
    assert "迟到到场" in client.get("/handler").get_data(as_text=True)
    page = client.get(f"/handler/instructions/{instruction.id}?lang=en").get_data(as_text=True)
    assert "arrived late" in page


def test_an_arrival_in_time_is_not_marked_late(client, session, catalog, world, instruction) -> None:  # type: ignore[no-untyped-def]
    _dispatch(session, catalog, world, instruction)
    transition.fire(session, catalog, "instruction", instruction.id, "arrive", actor=world.actor("san_handler"),
                    data={"situation": "已到场"})
    as_person(client, world.people["liaison"])
    html = client.get("/liaison/board.json").get_json()["html"]
    assert 'data-number="ZL-W-1"' in html and "迟到到场" not in html


def _intake_form(page: str) -> str:
    found = re.search(r'<details class="card intake".*?</details>', page, re.S)
    assert found
    return found.group(0)


def test_intake_form_has_time_area_leader_and_location(client, session, world) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    as_person(client, world.people["liaison"])
    form = _intake_form(client.get("/liaison").get_data(as_text=True))
    # Time received defaults to now, Shanghai wall time, minute precision.
    value = re.search(r'type="datetime-local" name="received_at"[^>]*value="([^"]+)"', form)
    assert value
    now_local = utcnow().astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, second=0, microsecond=0)
    from datetime import datetime

    assert abs(datetime.fromisoformat(value.group(1)) - now_local) <= timedelta(minutes=1)
    for name in ('name="area_kind"', 'name="leader_on_site"', 'name="lat"', 'name="lon"'):
        assert name in form
    assert "接收时间" in form and "区域类型" in form and "须领导到场" in form and "按网格/位置判断" in form
    english = _intake_form(client.get("/liaison?lang=en").get_data(as_text=True))
    assert "Time received" in english and "A leader must go on site" in english and "main urban" in english
    client.get("/liaison?lang=zh")

    r = client.post("/liaison/intake", data={
        "number": "110-FORM-1", "category": "garbage", "grid": "G01", "area_kind": "other",
        "received_at": "2026-03-11T06:05", "leader_on_site": "1", "lat": "31.23", "lon": "121.47",
        "address": "四号路", "severity": "larger"}, follow_redirects=True)
    assert "指令已登记" in flashes(r.get_data(as_text=True))
    item = session.execute(select(Instruction).where(Instruction.number == "110-FORM-1")).scalar_one()
    assert item.received_at.replace(tzinfo=None) == datetime(2026, 3, 10, 22, 5)  # 06:05 Shanghai = 22:05 UTC
    assert item.area_kind == "other" and item.data["area_source"] == "given"  # given wins over the grid's
    assert item.leader_on_site is True and (item.lat, item.lon) == (31.23, 121.47)


def test_intake_area_left_empty_comes_from_the_grid(client, session, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    client.post("/liaison/intake", data={"number": "110-FORM-2", "category": "garbage", "grid": "G02",
                                         "area_kind": "", "received_at": ""})
    item = session.execute(select(Instruction).where(Instruction.number == "110-FORM-2")).scalar_one()
    assert item.area_kind == "other" and item.data["area_source"] == "grid" and item.leader_on_site is False
    assert abs((utcnow() - item.received_at).total_seconds()) < 60  # empty time: now


@pytest.mark.parametrize(("field", "value", "label"), [
    ("received_at", "昨天晚上", "接收时间 (received_at)"),
    ("area_kind", "suburb", "区域类型 (area_kind)"),
    ("lat", "north", "纬度 (lat)"),
    ("lat", "95", "纬度 (lat)"),
    ("lon", "", "经度 (lon)"),  # lat given without lon
])
def test_bad_intake_shows_the_form_again_as_typed(client, session, world, field, value, label) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    data = {"number": "110-BAD-1", "category": "road", "grid": "G02", "area_kind": "other",
            "received_at": "2026-03-11T06:05", "leader_on_site": "1", "lat": "31.2", "lon": "121.4",
            "address": "五号路 7 号", "caller_contact": "139 0000 0000", "severity": "major",
            "description": "路面塌陷 <约 2 米>"}
    data[field] = value
    r = client.post("/liaison/intake", data=data)
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert label in flashes(page)[-1]
    form = _intake_form(page)
    assert form.startswith('<details class="card intake" id="intake" open')
    assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', form)
    # What was typed is kept (escaped), selects and the checkbox too.
    assert 'value="110-BAD-1"' in form and 'value="五号路 7 号"' in form and 'value="139 0000 0000"' in form
    assert "路面塌陷 &lt;约 2 米&gt;</textarea>" in form
    assert re.search(r'<option value="road" selected>', form) and re.search(r'<option value="G02" selected>', form)
    assert re.search(r'<option value="major" selected>', form)
    assert re.search(r'name="leader_on_site" value="1" checked', form)
    if field != "received_at":
        assert 'value="2026-03-11T06:05"' in form
    if field != "area_kind":
        assert re.search(r'<option value="other" selected>', form)
    assert f'value="{value}"' in form or field in ("area_kind", "lon")
    assert session.execute(select(Instruction).where(Instruction.number == "110-BAD-1")).scalar_one_or_none() is None


def test_liaison_sees_the_answers_to_110_with_their_delivery(client, session, catalog, world, instruction) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from caseflow.models import Notification
    from caseflow.services import instructions as ins_svc

    liaison = world.actor("liaison")
    ins_svc.sign(session, catalog, instruction.id, actor=liaison)
    ins_svc.dispatch(session, catalog, instruction.id, actor=liaison, department_id=world.sanitation.id)
    ins_svc.arrive(session, catalog, instruction.id, actor=world.actor("san_handler"), situation="已到场")
    answers = session.execute(select(Notification).where(
        Notification.channel == "linkage_110", Notification.item_id == instruction.id)
        .order_by(Notification.id)).scalars().all()
    kinds = [a.payload["kind"] for a in answers]
    assert kinds[0] == "signed" and "arrived" in kinds
    signed, arrived = answers[0], answers[kinds.index("arrived")]
    signed.status, signed.attempts, signed.sent_at = "sent", 2, signed.created_at + timedelta(seconds=30)
    arrived.status, arrived.attempts, arrived.last_error = "dead", 5, "110 adapter: HTTP 503"
    session.commit()

    as_person(client, world.people["liaison"])
    board = client.get("/liaison").get_data(as_text=True)
    assert f'href="/liaison/{instruction.id}">ZL-W-1</a>' in board
    page = client.get(f"/liaison/{instruction.id}").get_data(as_text=True)
    section = re.search(r'<section class="card" id="answers-110">.*?</section>', page, re.S)
    assert section
    rows = re.findall(r'<tr data-kind="(\w+)" data-status="(\w+)">(.*?)</tr>', section.group(0), re.S)
    assert [(k, s) for k, s, _ in rows] == [(a.payload["kind"], a.status) for a in answers]
    cells = {k: re.findall(r"<td[^>]*>(.*?)</td>", body, re.S) for k, _, body in rows}
    when = signed.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    assert cells["signed"][:4] == ["指令已签收", when, "已送达", "2"]
    assert cells["arrived"][0] == "已到达现场" and cells["arrived"][2].startswith("发送失败") and cells["arrived"][3] == "5"
    assert "HTTP 503" in cells["arrived"][5]
    english = client.get(f"/liaison/{instruction.id}?lang=en").get_data(as_text=True)
    assert "Answers to 110" in english and "delivered" in english and "Arrived on site" in english
    assert client.get("/liaison/999999").status_code == 404


def test_liaison_instruction_page_without_answers(client, session, world, instruction) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    page = client.get(f"/liaison/{instruction.id}").get_data(as_text=True)
    assert "尚未向 110 反馈" in page and "ZL-W-1" in page
    as_person(client, world.people["san_handler"])
    assert client.get(f"/liaison/{instruction.id}").status_code == 403
