"""End to end per tier on the service layer: intake to archive, with a failed check and rework,
a supervision and an extension; the complex tier's parts; the difficult tier's joint handling."""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from caseflow.deadlines.clock import item_calendar
from caseflow.errors import InvalidTransition, NotFound, TransitionRejected, ValidationFailed
from caseflow.models import Case, Category, Deadline, LedgerEntry, Supervision
from caseflow.security.actor import Actor
from caseflow.services.cases import (
    closing,
    extension,
    handling,
    intake,
    review,
    supervision,
)
from caseflow.worktime import parse_duration

LAT, LON = 31.2305, 121.4705
# The smallest PNG: a site photo (现场照片) for a simple case's result.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c63f8cfc0f01f0005000201e5270de1"
                    "0000000049454e44ae426082")


def site_photo(session, case_id, actor):  # type: ignore[no-untyped-def]
    """Upload a site photo to the case; its reference for ``evidence_refs``."""
    import io

    from caseflow.services import attachments

    row = attachments.store(session, item_type="case", item_id=case_id, actor=actor, filename="photo.png",
                            stream=io.BytesIO(PNG))
    return f"attachment:{row.id}"


def add_category(session, world, code, tier, dept):  # type: ignore[no-untyped-def]
    cat = Category(code=code, name=code, field="city", responsible_department=dept, default_tier=tier)
    session.add(cat)
    session.commit()
    return cat


def pending(session, case_id, key=None):  # type: ignore[no-untyped-def]
    q = select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case_id,
                               Deadline.status == "pending")
    if key:
        q = q.where(Deadline.key == key)
    return session.execute(q.order_by(Deadline.id)).scalars().all()


def triggers(session, case_id):  # type: ignore[no-untyped-def]
    return [e.trigger for e in session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id).order_by(LedgerEntry.seq)).scalars()]


def extend_and_check(session, catalog, world, case_id, handler):  # type: ignore[no-untyped-def]
    """Request and approve an extension; the running limit moves by the granted working time."""
    before = pending(session, case_id)[0]
    old_due, row_id = before.due_at, before.id
    extension.request_extension(session, catalog, case_id, actor=world.actor(handler), duration="4h",
                                reason="需协调产权单位")
    extension.approve_extension(session, catalog, case_id, actor=world.actor("dispatcher"), reason="情况属实",
                                duration="2h")
    session.expire_all()
    row = session.get(Deadline, row_id)
    case = session.get(Case, case_id)
    cal = item_calendar(session, case)
    assert row.status == "pending"
    assert row.due_at == cal.add_working(old_due, parse_duration("2h", day_length=cal.day_length))
    assert case.data["requests"][-1]["granted"] == "2h" and not case.data.get("pending_request")
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_id == case_id, LedgerEntry.trigger == "approve_extension")).scalar_one()
    assert entry.payload["deadlines_moved"][0]["deadline_id"] == row_id


def rework_and_archive(session, catalog, world, case_id, handler, report=None):  # type: ignore[no-untyped-def]
    report = report or (lambda: handling.report_result(session, catalog, case_id, actor=world.actor(handler),
                                                       result="已清理", evidence_refs=["photo-1"]))
    report()
    case = closing.check_fail(session, catalog, case_id, actor=world.actor("dispatcher"), reason="仍有残留")
    assert case.data["rework_count"] == 1
    fail = session.execute(select(LedgerEntry).where(LedgerEntry.item_id == case_id,
                                                     LedgerEntry.trigger == "check_fail")).scalar_one()
    assert fail.payload["reason"] == "仍有残留" and fail.payload["rework_count"] == 1
    assert pending(session, case_id)  # handling limit re-armed for the rework
    report()
    case = closing.check_pass(session, catalog, case_id, actor=world.actor("dispatcher"), opinion="核查通过")
    assert case.state == "closed" and case.closed_at is not None
    case = closing.archive(session, catalog, case_id, actor=world.actor("dispatcher"))
    assert case.state == "archived" and case.read_only
    assert pending(session, case_id) == []
    with pytest.raises(InvalidTransition):
        closing.callback(session, catalog, case_id, actor=world.actor("dispatcher"), grade=5)
    with pytest.raises(InvalidTransition):
        supervision.supervise(session, catalog, case_id, actor=world.actor("dispatcher"), method="phone",
                              requirement="x")
    return case


def test_simple_case_end_to_end(session, catalog, world):
    add_category(session, world, "fly_posting", "simple", world.sanitation)
    patrol = world.actor("san_handler")
    case, created = intake.report(session, catalog, channel="patrol", actor=patrol, title="小广告",
                                  category_code="fly_posting", lat=LAT, lon=LON)
    assert created and case.workflow == "case_simple" and case.department_id == world.sanitation.id
    handle = pending(session, case.id, "handle")[0]
    cal = item_calendar(session, case)
    # Time-limit default for a simple case: 4 working hours.
    assert handle.due_at == cal.add_working(handle.armed_at, timedelta(hours=4))
    supervision.supervise(session, catalog, case.id, actor=world.actor("deputy"), method="on_site",
                          requirement="今日内处理完毕")
    extend_and_check(session, catalog, world, case.id, "san_handler")
    # Each report (the first and the one after rework) carries a new site photo.
    rework_and_archive(session, catalog, world, case.id, "san_handler",
                       report=lambda: handling.report_result(
                           session, catalog, case.id, actor=patrol, result="已清理",
                           evidence_refs=[site_photo(session, case.id, patrol)]))
    assert triggers(session, case.id) == [
        "report", "supervise", "request_extension", "approve_extension", "report_result", "check_fail",
        "report_result", "check_pass", "archive"]


def test_general_case_end_to_end(session, catalog, world):
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"),
                            title="垃圾", category_code="garbage", external_ref="12345-9", lat=LAT, lon=LON)
    disp = world.actor("dispatcher")
    review.verify_report(session, catalog, case.id, actor=disp, question="请补充门牌号")
    case = review.register(session, catalog, case.id, actor=disp, address="和平路 12 号")
    assert case.address == "和平路 12 号"
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
    # The wrong department: a second dispatch to sanitation after a supervision.
    supervision.supervise(session, catalog, case.id, actor=disp, method="phone", requirement="立即签收",
                          due_by=datetime.now(timezone.utc) + timedelta(hours=1))
    with pytest.raises(NotFound):  # sanitation cannot see the case yet
        handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    handling.redispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id, reason="职责调整")
    case = handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    assert case.state == "handling" and case.data["redispatch_count"] == 1
    handle = pending(session, case.id, "handle")[0]
    cal = item_calendar(session, case)
    # 暴露垃圾: 4 working hours to handle, not the general tier's working day.
    assert handle.due_at == cal.add_working(handle.armed_at, timedelta(hours=4))
    sup = session.execute(select(Supervision).where(Supervision.case_id == case.id)).scalar_one()
    assert (sup.method, sup.department_id, sup.by_id) == ("phone", world.roads.id, world.people["dispatcher"].id)
    assert sup.due_by is not None
    extend_and_check(session, catalog, world, case.id, "san_handler")
    rework_and_archive(session, catalog, world, case.id, "san_handler")


def test_complex_case_parts_and_lead(session, catalog, world):
    add_category(session, world, "illegal_building", "complex", world.roads)
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="app", actor=Actor.client_of("app"), title="违建",
                            category_code="illegal_building", external_ref="app-1")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id,
                      cooperating_department_ids=[world.sanitation.id])
    parts = handling.participants(session, case.id)
    assert [(p.department_id, p.role, p.state) for p in parts] == [
        (world.roads.id, "lead", "assigned"), (world.sanitation.id, "cooperating", "assigned")]
    # A co-operating handler sees the case but cannot sign or report for the whole case.
    with pytest.raises(TransitionRejected):
        handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    handling.sign_part(session, catalog, case.id, actor=world.actor("san_handler"))
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    supervision.supervise(session, catalog, case.id, actor=world.actor("deputy"), method="written",
                          requirement="三日内完成拆除")
    handling.report_part(session, catalog, case.id, actor=world.actor("san_handler"), result="已清运建筑垃圾")
    with pytest.raises(TransitionRejected):
        handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="x")
    extend_and_check(session, catalog, world, case.id, "road_handler")
    rework_and_archive(session, catalog, world, case.id, "road_handler",
                       report=lambda: handling.report_result(session, catalog, case.id,
                                                             actor=world.actor("road_handler"), result="已拆除"))
    session.expire_all()
    parts = {p.department_id: p for p in handling.participants(session, case.id)}
    assert parts[world.roads.id].state == "reported" and parts[world.roads.id].result == "已拆除"
    assert parts[world.sanitation.id].state == "reported" and parts[world.sanitation.id].signed_at is not None


def test_difficult_case_joint_handling_on_application(session, catalog, world):
    add_category(session, world, "river", "difficult", world.roads)
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="referral", actor=disp, title="跨区域河道污染",
                            category_code="river")
    review.register(session, catalog, case.id, actor=disp)
    case = handling.escalate_to_district(session, catalog, case.id, actor=disp, reason="需区级部门协调")
    assert case.state == "escalated" and pending(session, case.id, "coordinate")
    handling.start_joint_handling(session, catalog, case.id, actor=world.actor("principal"),
                                  department_id=world.roads.id)
    supervision.supervise(session, catalog, case.id, actor=world.actor("principal"), method="on_site",
                          requirement="现场协调")
    handling.apply_joint_handling(session, catalog, case.id, actor=world.actor("road_handler"),
                                  reason="涉及环卫职责", department_ids=[world.sanitation.id])
    with pytest.raises(NotFound):  # not a participant yet
        handling.sign_part(session, catalog, case.id, actor=world.actor("san_handler"))
    case = handling.approve_joint_handling(session, catalog, case.id, actor=disp,
                                           department_ids=[world.sanitation.id])
    assert case.data["joint"] is True and case.data["joint_application"] is None
    handling.sign_part(session, catalog, case.id, actor=world.actor("san_handler"))
    extend_and_check(session, catalog, world, case.id, "road_handler")
    rework_and_archive(session, catalog, world, case.id, "road_handler",
                       report=lambda: handling.report_result(session, catalog, case.id,
                                                             actor=world.actor("road_handler"), result="已治理"))


def test_void_needs_a_known_reason(session, catalog, world):
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="x",
                            category_code="garbage", external_ref="v-1")
    with pytest.raises(ValidationFailed) as info:
        review.void(session, catalog, case.id, actor=world.actor("dispatcher"), reason="不想办")
    assert info.value.field == "reason"
    case = review.void(session, catalog, case.id, actor=world.actor("dispatcher"), reason="out_of_scope")
    assert case.state == "voided" and case.data["void_reason"] == "out_of_scope"


def test_bad_supervision_and_extension_input_names_fields(session, catalog, world):
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="x",
                            category_code="garbage", external_ref="b-1")
    disp = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    for kw, field in [({"method": "pigeon"}, "method"), ({"due_by": "tomorrow"}, "due_by"),
                      ({"due_by": "2000-01-01T00:00:00+08:00"}, "due_by")]:
        with pytest.raises(ValidationFailed) as info:
            supervision.supervise(session, catalog, case.id, actor=disp,
                                  **{"method": "phone", "requirement": "r", **kw})
        assert info.value.field == field
    with pytest.raises(ValidationFailed) as info:
        extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="soon",
                                    reason="r")
    assert info.value.field == "duration"
    with pytest.raises(TransitionRejected):  # nothing to approve
        extension.approve_extension(session, catalog, case.id, actor=disp, reason="r")
    assert session.execute(select(Supervision)).first() is None


@pytest.mark.slow
def test_overdue_handling_fired_by_real_worker(session, catalog, world, app):
    """`caseflow worker --burst` fires an overdue handling limit; an extension afterwards re-arms it."""
    from caseflow.deadlines.scheduling import schedule_deadline

    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                            category_code="garbage", external_ref="w-1")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    row = pending(session, case.id, "handle")[0]
    row.due_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    session.commit()
    schedule_deadline(row.id, row.due_at)
    env = {**os.environ, "CASEFLOW_DATABASE_URL": app.config["DATABASE_URL"],
           "CASEFLOW_REDIS_URL": app.config["REDIS_URL"], "CASEFLOW_DEADLINE_QUEUE": app.config["DEADLINE_QUEUE"],
           "CASEFLOW_DEFAULT_QUEUE": app.config["DEFAULT_QUEUE"], "CASEFLOW_NOTIFY_QUEUE": app.config["NOTIFY_QUEUE"]}
    exe = os.path.join(os.path.dirname(sys.executable), "caseflow")
    proc = subprocess.run([exe, "worker", "--burst", "--queues", app.config["DEADLINE_QUEUE"], "--no-sweeper"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    session.expire_all()
    assert session.get(Deadline, row.id).status == "fired"
    assert "deadline:handle" in triggers(session, case.id)
    # The handler asks for more time after the limit passed: approval re-arms it from now.
    extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="1h",
                                reason="雨天")
    extension.approve_extension(session, catalog, case.id, actor=disp, reason="同意")
    rows = pending(session, case.id, "handle")
    assert len(rows) == 1 and rows[0].id != row.id and rows[0].due_at > datetime.now(timezone.utc)
