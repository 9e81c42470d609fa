"""The duty watch desk (/duty/watch/): emergency mode declared and ended, swaps asked and decided,
special periods, the log's roll-call time, links and urgent documents, and the handover checklist
grouped by kind with "accept all undisputed". Errors name the field; a double submit acts once."""
from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import g
from sqlalchemy import event, func, select

from caseflow.models import (
    DutyLogEntry,
    DutyShift,
    DutySpecialPeriod,
    EmergencyPeriod,
    EscalationRun,
    HandoverItem,
    LedgerEntry,
    SwapRequest,
    utcnow,
)
from caseflow.services import transition
from caseflow.services.cases import intake
from caseflow.services.duty import handover as hs
from caseflow.services.duty import log as duty_log
from tests.integration.duty_support import lead_actor, plan, running_instruction, today
from tests.integration.test_escalation import late_instruction

from .test_work_pages import flashes

SHANGHAI = ZoneInfo("Asia/Shanghai")


def as_(client, person) -> None:  # type: ignore[no-untyped-def]
    g.pop("console_person", None)
    with client.session_transaction() as s:
        s["person_id"] = person.id


def token(page: str, form_id: str) -> str:
    """The one-time token of the form ``form_id`` on the page."""
    start = page.index(f'id="{form_id}"')
    return re.search(r'name="form_token" value="([^"]+)"', page[start:]).group(1)  # type: ignore[union-attr]


def watch(client) -> str:  # type: ignore[no-untyped-def]
    g.pop("console_person", None)
    return client.get("/duty/watch/").get_data(as_text=True)


def post(client, path: str, data: dict) -> list[str]:  # type: ignore[no-untyped-def]
    g.pop("console_person", None)
    return flashes(client.post(path, data=data, follow_redirects=True).get_data(as_text=True))


def local_input(t) -> str:  # type: ignore[no-untyped-def]
    """A UTC time as a ``datetime-local`` field holds it (Shanghai wall clock, minutes)."""
    return t.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def on_duty(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=4)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    return shifts


def test_emergency_mode_declared_and_ended_from_the_watch(client, session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    _, run = late_instruction(session, catalog, world)  # a chain already running in normal mode
    as_(client, world.people["duty_officer"])
    page = watch(client)
    assert 'id="emergency"' in page and 'data-mode="normal"' in page
    assert 'id="emergency-declare-form"' not in page  # duty officers do not declare
    g.pop("console_person", None)
    assert client.post("/duty/watch/emergency", data={"kind": "typhoon", "reason": "x", "scope": "y"}).status_code == 403

    as_(client, world.people["principal"])
    page = watch(client)
    form = {"kind": "typhoon", "reason": "", "scope": "全街道", "form_token": token(page, "emergency-declare-form")}
    assert post(client, "/duty/watch/emergency", form) == ["理由 (reason):不能为空"]
    form |= {"reason": "台风“梅花”登陆", "form_token": token(watch(client), "emergency-declare-form")}
    assert post(client, "/duty/watch/emergency", form) == ["已启动应急状态，正在进行的催办链已改按应急步骤执行"]
    assert post(client, "/duty/watch/emergency", form) == ["此表单已提交过，操作没有重复执行"]  # double submit
    assert session.execute(select(func.count()).select_from(EmergencyPeriod)).scalar_one() == 1
    session.expire_all()
    assert {s["mode"] for s in session.get(EscalationRun, run.id).steps} == {"emergency"}
    page = watch(client)
    assert 'id="emergency-banner"' in page and "应急状态：台风（全街道）" in page
    assert '应急 · 最少 4 人 · 带班领导: <strong class="error">未安排</strong>' in page  # the shift on duty needs more
    # A second declaration (another copy of the form) is refused in Chinese, not with the service's English.
    again = {"kind": "snow_ice", "reason": "再次", "scope": "全街道", "form_token": "another-copy"}
    assert post(client, "/duty/watch/emergency", again) == ["本中心已处于应急状态，请先结束当前应急状态"]

    period = session.execute(select(EmergencyPeriod)).scalar_one()
    end_form = {"summary": " ", "form_token": token(page, "emergency-end-form")}
    assert post(client, f"/duty/watch/emergency/{period.id}/end", end_form) == ["处置总结 (summary):不能为空"]
    end_form |= {"summary": "无人员伤亡，转移群众 120 人", "form_token": token(watch(client), "emergency-end-form")}
    assert post(client, f"/duty/watch/emergency/{period.id}/end", end_form) == ["已结束应急状态"]
    session.expire_all()
    assert session.get(EmergencyPeriod, period.id).summary == "无人员伤亡，转移群众 120 人"
    page = watch(client)
    assert 'data-mode="normal"' in page and "无人员伤亡，转移群众 120 人" in page  # in the history
    # Running chains keep their emergency steps after the end (README: emergency mode).
    assert {s["mode"] for s in session.get(EscalationRun, run.id).steps} == {"emergency"}
    triggers = session.execute(select(LedgerEntry.trigger).where(LedgerEntry.item_type == "center")
                               .order_by(LedgerEntry.seq)).scalars().all()
    assert triggers == ["declare_emergency", "end_emergency"]
    # English page, English message naming the field.
    g.pop("console_person", None)
    client.get("/duty/watch/?lang=en")
    form = {"kind": "typhoon", "reason": "drill", "scope": "", "form_token": token(watch(client), "emergency-declare-form")}
    assert post(client, "/duty/watch/emergency", form) == ["Scope (scope): is required"]


def test_swaps_asked_and_decided_on_the_watch(client, session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    lead, lead2 = world.people["duty_lead"], world.people["duty_lead2"]
    planned = next(s for s in on_duty[1:] if s.lead_id == lead.id)
    as_(client, lead)
    page = watch(client)
    assert f'data-shift="{planned.id}"' in page and 'id="swap-form"' in page
    form = {"shift_id": str(planned.id), "to_person_id": "", "reason": "家中有事", "form_token": token(page, "swap-form")}
    assert post(client, "/duty/watch/swaps", form) == ["接替人员 (to_person_id):请选择一项"]
    form |= {"to_person_id": str(world.people["liaison"].id), "form_token": token(watch(client), "swap-form")}
    [message] = post(client, "/duty/watch/swaps", form)
    assert message.startswith("接替人员 (to_person_id):")  # a liaison cannot lead a shift
    form |= {"to_person_id": str(lead2.id), "form_token": token(watch(client), "swap-form")}
    assert post(client, "/duty/watch/swaps", form) == ["换班申请已提交，待领导审批"]
    assert post(client, "/duty/watch/swaps", form) == ["此表单已提交过，操作没有重复执行"]
    swap = session.execute(select(SwapRequest)).scalar_one()
    # Only leaders and administrators decide.
    g.pop("console_person", None)
    assert client.post(f"/duty/watch/swaps/{swap.id}/approve").status_code == 403
    as_(client, world.people["principal"])
    page = watch(client)
    assert f'data-swap="{swap.id}" data-status="requested"' in page
    decision = {"note": "同意", "form_token": token(page, f"approve-swap-{swap.id}")}
    assert post(client, f"/duty/watch/swaps/{swap.id}/approve", decision) == ["已批准换班"]
    session.expire_all()
    assert session.get(DutyShift, planned.id).lead_id == lead2.id
    # Deciding again (an old copy of the page) says it is decided already.
    reject = {"form_token": token(page, f"reject-swap-{swap.id}")}
    assert post(client, f"/duty/watch/swaps/{swap.id}/reject", reject) == ["该换班申请已处理（已批准）"]
    assert f'data-swap="{swap.id}" data-status="approved"' in watch(client)


def test_special_periods_on_the_watch(client, session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    as_(client, world.people["duty_lead"])
    page = watch(client)
    assert 'id="special-periods"' in page and 'id="period-form"' not in page  # listed, not declared
    g.pop("console_person", None)
    assert client.post("/duty/watch/periods", data={"kind": "sensitive"}).status_code == 403
    as_(client, world.people["admin"])
    first = today() + timedelta(days=5)
    form = {"kind": "major_event", "name": "进博会", "first_day": first.isoformat(),
            "last_day": (first - timedelta(days=1)).isoformat(), "form_token": token(watch(client), "period-form")}
    [message] = post(client, "/duty/watch/periods", form)
    assert message.startswith("结束日期 (last_day):")
    form |= {"last_day": "2025-13-01", "form_token": token(watch(client), "period-form")}
    assert post(client, "/duty/watch/periods", form) == ["结束日期 (last_day):须为日期，如 2025-10-01"]
    form |= {"last_day": (first + timedelta(days=2)).isoformat(), "min_staff": "3",
             "form_token": token(watch(client), "period-form")}
    assert post(client, "/duty/watch/periods", form) == ["特殊时期已设定，人员不足的班次已提醒领导"]
    assert post(client, "/duty/watch/periods", form) == ["此表单已提交过，操作没有重复执行"]
    period = session.execute(select(DutySpecialPeriod)).scalar_one()
    assert (period.kind, period.name, period.min_staff) == ("major_event", "进博会", 3)
    page = watch(client)
    assert f'data-period="{period.id}"' in page and "重大活动" in page
    cancel = {"reason": "", "form_token": token(page, f"cancel-period-{period.id}")}
    assert post(client, f"/duty/watch/periods/{period.id}/cancel", cancel) == ["取消理由 (reason):不能为空"]
    cancel |= {"reason": "活动延期", "form_token": token(watch(client), f"cancel-period-{period.id}")}
    assert post(client, f"/duty/watch/periods/{period.id}/cancel", cancel) == ["特殊时期已取消"]
    session.expire_all()
    assert session.get(DutySpecialPeriod, period.id).cancel_reason == "活动延期"
    assert f'data-period="{period.id}"' not in watch(client)


def test_log_roll_call_time_links_and_urgent_documents(client, session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    ins = running_instruction(session, catalog, world)
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="井盖缺失",
                            category_code="road", address="和平路", grid_id=world.grid_main.id)
    as_(client, world.people["duty_officer"])
    page = watch(client)
    assert f'<option value="{ins.id}">{ins.number}' in page  # open instructions to link

    called = (utcnow() - timedelta(minutes=3)).replace(second=0, microsecond=0)
    form = {"type": "call_help", "summary": "求助", "asked_at": local_input(called), "form_token": token(page, "log-form")}
    assert post(client, "/duty/watch/log", form) == ["点名时间 (asked_at):只有点名记录填写点名时间"]
    form = {"type": "roll_call", "summary": "视频点名", "asked_at": "昨天", "form_token": token(watch(client), "log-form")}
    assert post(client, "/duty/watch/log", form) == ["点名时间 (asked_at):须为日期和时间，如 2025-03-01T17:30"]
    form |= {"asked_at": local_input(utcnow() + timedelta(hours=2)), "form_token": token(watch(client), "log-form")}
    assert post(client, "/duty/watch/log", form) == ["点名时间 (asked_at):不能晚于当前时间"]
    form |= {"asked_at": local_input(called), "form_token": token(watch(client), "log-form")}
    assert post(client, "/duty/watch/log", form) == ["已记录"]
    roll = session.execute(select(DutyLogEntry).where(DutyLogEntry.type == "roll_call")).scalar_one()
    assert roll.asked_at == called  # typed on the Shanghai clock, stored in UTC

    form = {"type": "call_complaint", "summary": "噪声投诉", "case_id": "NO-SUCH", "form_token": token(watch(client), "log-form")}
    assert post(client, "/duty/watch/log", form) == ["关联案件 (case_id):不存在（可填编号或序号）"]
    form |= {"case_id": case.number, "instruction_id": str(ins.id), "form_token": token(watch(client), "log-form")}
    assert post(client, "/duty/watch/log", form) == ["已记录"]
    linked = session.execute(select(DutyLogEntry).where(DutyLogEntry.type == "call_complaint")).scalar_one()
    assert (linked.case_id, linked.instruction_id) == (case.id, ins.id)
    page = watch(client)
    assert f'data-case="{case.id}">{case.number}<' in page and f'data-instruction="{ins.id}">{ins.number}<' in page

    received = (utcnow() - timedelta(minutes=30)).replace(second=0, microsecond=0)
    form = {"type": "urgent_document", "summary": "区委紧急通知：防汛检查", "received_at": local_input(received),
            "form_token": token(page, "log-form")}
    assert post(client, "/duty/watch/log", form) == ["已记录"]
    doc = session.execute(select(DutyLogEntry).where(DutyLogEntry.type == "urgent_document")).scalar_one()
    assert doc.received_at == received
    page = watch(client)
    principal = world.people["principal"]
    assert f'id="report-form-{doc.id}"' in page and f'id="done-form-{doc.id}"' not in page
    report = {"reported_to_id": str(principal.id), "direction": "", "form_token": token(page, f"report-form-{doc.id}")}
    assert post(client, f"/duty/watch/log/{doc.id}/report", report) == ["领导批示 (direction):不能为空"]
    report |= {"direction": "立即转发各社区落实", "reported_at": local_input(received - timedelta(minutes=5)),
               "form_token": token(watch(client), f"report-form-{doc.id}")}
    assert post(client, f"/duty/watch/log/{doc.id}/report", report) == ["报告时间 (reported_at):不能早于收文时间"]
    reported = received + timedelta(minutes=10)
    report |= {"reported_at": local_input(reported), "form_token": token(watch(client), f"report-form-{doc.id}")}
    assert post(client, f"/duty/watch/log/{doc.id}/report", report) == ["已记录报告领导及批示"]
    session.expire_all()
    doc = session.get(DutyLogEntry, doc.id)
    assert (doc.reported_to_id, doc.reported_at, doc.direction) == (principal.id, reported, "立即转发各社区落实")
    page = watch(client)
    assert f"已报告 {principal.full_name}" in page and "批示：立即转发各社区落实" in page
    done = {"done_note": "已转发 12 个社区并回报", "form_token": token(page, f"done-form-{doc.id}")}
    assert post(client, f"/duty/watch/log/{doc.id}/done", done) == ["紧急公文已办结"]
    assert post(client, f"/duty/watch/log/{doc.id}/done", done) == ["此表单已提交过，操作没有重复执行"]
    # An old copy of the form (another token) learns it is done already.
    assert post(client, f"/duty/watch/log/{doc.id}/done", {"done_note": "x", "form_token": "old"}) == [
        "该紧急公文已办结"]
    session.expire_all()
    assert session.get(DutyLogEntry, doc.id).done_note == "已转发 12 个社区并回报"
    # Leaders read the log, with no forms to write it.
    as_(client, principal)
    page = watch(client)
    assert "区委紧急通知：防汛检查" in page and 'id="log-form"' not in page
    g.pop("console_person", None)
    assert client.post("/duty/watch/log", data={"type": "note", "summary": "x"}).status_code == 403


def test_csrf_is_required_on_the_watch_forms(app, client, world, on_duty, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    as_(client, world.people["principal"])
    r = client.post("/duty/watch/emergency", data={"kind": "typhoon", "reason": "台风", "scope": "全街道"})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)


def _handover_with_items(session, catalog, world, shifts, n: int):  # type: ignore[no-untyped-def]
    for _ in range(n):
        running_instruction(session, catalog, world)
        duty_log.record(session, catalog, world.street.id, "urgent_document", actor=world.actor("duty_officer"),
                        summary="紧急公文")
    out_lead = lead_actor(world, shifts[0])
    h = hs.open_handover(session, catalog, shifts[0].id, actor=out_lead)
    hs.submit(session, catalog, h.id, actor=out_lead)
    return h


def _selects(session, fn):  # type: ignore[no-untyped-def]
    seen: list[str] = []

    def before(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(seen)


def test_checklist_grouped_and_accepted_all_but_the_disputed(client, session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    h = _handover_with_items(session, catalog, world, on_duty, 2)
    as_(client, world.people["duty_lead"])  # the outgoing lead cannot accept for the next shift
    assert post(client, f"/duty/handover/{h.id}/accept-all", {}) == ["只有接班值班长可以进行此操作"]
    as_(client, world.people["duty_lead2"])
    g.pop("console_person", None)
    page = client.get(f"/duty/handover/{h.id}").get_data(as_text=True)
    kinds = re.findall(r'<h3 class="kind" data-kind="(\w+)">', page)
    assert kinds == ["instruction", "deadline", "urgent_document"]  # grouped, in checklist order
    assert "未办结指令 <span class=\"count\">2</span>" in page
    rows = hs.items(session, h.id)
    doc = next(r for r in rows if r.kind == "urgent_document")
    hs.dispute_item(session, catalog, h.id, doc.id, "批示内容未写明", actor=lead_actor(world, on_duty[1]))
    g.pop("console_person", None)
    page = client.get(f"/duty/handover/{h.id}").get_data(as_text=True)
    assert f"({len(rows) - 1})" in page[page.index('id="accept-all-form"'):]  # the undisputed ones
    one_kind = {"kind": "instruction", "form_token": token(page, "accept-kind-instruction")}
    assert post(client, f"/duty/handover/{h.id}/accept-all", one_kind) == ["无异议事项已全部接收"]
    session.expire_all()
    assert {r.status for r in hs.items(session, h.id) if r.kind == "instruction"} == {"accepted"}
    assert {r.status for r in hs.items(session, h.id) if r.kind == "deadline"} == {"pending"}
    g.pop("console_person", None)
    page = client.get(f"/duty/handover/{h.id}").get_data(as_text=True)
    form = {"form_token": token(page, "accept-all-form")}
    assert post(client, f"/duty/handover/{h.id}/accept-all", form) == ["无异议事项已全部接收"]
    assert post(client, f"/duty/handover/{h.id}/accept-all", form) == ["此表单已提交过，操作没有重复执行"]
    session.expire_all()
    statuses = {r.id: r.status for r in hs.items(session, h.id)}
    assert statuses.pop(doc.id) == "disputed" and set(statuses.values()) == {"accepted"}
    assert session.get(HandoverItem, doc.id).review_note == "批示内容未写明"  # the dispute is kept
    # The page costs the same queries with many more items on the checklist (each measured right
    # after the same page was shown once, so both start from the same session state).
    def measured() -> int:
        g.pop("console_person", None)
        client.get(f"/duty/handover/{h.id}").close()
        g.pop("console_person", None)
        return _selects(session, lambda: client.get(f"/duty/handover/{h.id}").close())

    few = measured()
    for n in range(30):
        session.add(HandoverItem(handover_id=h.id, kind=("deadline", "roll_call", "flagged_entry")[n % 3],
                                 ref_type="duty_log_entry", ref_id=1000 + n, summary=f"事项 {n}", status="pending"))
    session.commit()
    assert measured() == few


def test_an_administrator_without_a_center_picks_one(client, session, catalog, world, on_duty):  # type: ignore[no-untyped-def]
    from tests.factories import make_person

    root = make_person(session, "root_admin", ["admin"])
    session.commit()
    as_(client, root)
    page = watch(client)
    assert 'id="center-pick"' in page and "请先选择城运中心。" in page
    assert 'id="period-form"' not in page  # nothing to act on before a center is chosen
    g.pop("console_person", None)
    page = client.get(f"/duty/watch/?center_id={world.street.id}").get_data(as_text=True)
    assert f'<option value="{world.street.id}" selected>' in page
    form = page[page.index('id="period-form"'):]
    assert f'name="center_id" value="{world.street.id}"' in form  # the choice travels with the form
    data = {"kind": "weather", "name": "寒潮", "first_day": today().isoformat(), "last_day": today().isoformat(),
            "center_id": str(world.street.id), "form_token": token(page, "period-form")}
    assert post(client, "/duty/watch/periods", data) == ["特殊时期已设定，人员不足的班次已提醒领导"]
    assert session.execute(select(DutySpecialPeriod.center_id)).scalar_one() == world.street.id
    # Without a center the declaration is refused, saying what is missing.
    data = {"kind": "typhoon", "reason": "台风", "scope": "全区", "form_token": "no-center"}
    assert post(client, "/duty/watch/emergency", data) == ["请先选择城运中心。"]
