"""Duplicates merged, tier changes, deferral and resume, callbacks that reopen."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow.deadlines.clock import item_calendar
from caseflow.errors import TransitionRejected, ValidationFailed
from caseflow.models import Attachment, Case, CaseParticipant, CaseReporter, Category, Deadline, LedgerEntry, utcnow
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.cases import closing, duplicates, extension, handling, intake, review, tiers, time_limits

LAT, LON = 31.2305, 121.4705


def rows(session, case_id, status=None):  # type: ignore[no-untyped-def]
    q = select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case_id)
    if status:
        q = q.where(Deadline.status == status)
    return session.execute(q.order_by(Deadline.id)).scalars().all()


def ledger(session, case_id):  # type: ignore[no-untyped-def]
    return session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id).order_by(LedgerEntry.seq)).scalars().all()


def handling_case(session, catalog, world, ref="h-1"):  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                            category_code="garbage", external_ref=ref, lat=LAT, lon=LON)
    disp = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    return handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))


def test_duplicate_merged_keeps_both_reporters(session, catalog, world):
    original, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                                category_code="garbage", external_ref="12345-A", lat=LAT, lon=LON,
                                reporter={"name": "张女士", "phone": "13900000001"})
    dup, _ = intake.report(session, catalog, channel="app", actor=Actor.client_of("app"), title="这里有垃圾",
                           category_code="garbage", external_ref="app-B", lat=LAT + 0.0001, lon=LON,
                           reporter={"name": "李先生", "evidence_refs": ["evidence-17"]})
    assert dup.data["duplicate_candidates"][0]["id"] == original.id
    original = duplicates.merge(session, catalog, dup.id, original.id, actor=world.actor("dispatcher"))
    session.expire_all()
    reporters = session.execute(select(CaseReporter).where(CaseReporter.case_id == original.id)
                                .order_by(CaseReporter.id)).scalars().all()
    assert [(r.name, r.channel) for r in reporters] == [("张女士", "hotline"), ("李先生", "app")]
    assert reporters[1].merged_from_case_id == dup.id and reporters[1].evidence_refs == ["evidence-17"]
    dup = session.get(Case, dup.id)
    assert dup.state == "voided" and dup.data["void_reason"] == "duplicate" and dup.data["merged_into"] == original.id
    assert ledger(session, dup.id)[-1].payload["duplicate_of"] == original.id
    last = ledger(session, original.id)[-1]
    assert last.trigger == "absorb_duplicate" and last.payload["reporters_moved"] == 1
    assert "_via_case_service" not in last.payload
    # The app re-sending its report finds the original, not the void duplicate.
    again, created = intake.report(session, catalog, channel="app", actor=Actor.client_of("app"), title="x",
                                   category_code="garbage", external_ref="app-B")
    assert (again.id, created) == (original.id, False)


def test_duplicate_merged_moves_uploaded_files(session, catalog, world):
    original, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                                category_code="garbage", external_ref="att-A", lat=LAT, lon=LON)
    dup, _ = intake.report(session, catalog, channel="app", actor=Actor.client_of("app"), title="这里有垃圾",
                           category_code="garbage", external_ref="att-B", lat=LAT, lon=LON)
    photo = Attachment(item_type="case", item_id=dup.id, uploaded_client="app", original_name="垃圾.jpg",
                       stored_path="merge-test/photo.jpg", content_type="image/jpeg", size=3, sha256="a" * 64,
                       kind="photo", ledger_seq=1)
    session.add(photo)
    session.commit()
    duplicates.merge(session, catalog, dup.id, original.id, actor=world.actor("dispatcher"))
    session.expire_all()
    files = session.execute(select(Attachment.item_id, Attachment.ledger_seq)
                            .where(Attachment.id == photo.id)).one()
    assert tuple(files) == (original.id, None)
    last = ledger(session, original.id)[-1]
    assert last.trigger == "absorb_duplicate"
    assert last.payload["attachments_moved"] == [{"id": photo.id, "name": "垃圾.jpg", "sha256": "a" * 64,
                                                  "from_ledger_seq": 1}]


def test_absorb_duplicate_cannot_be_fired_bare(session, catalog, world):
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                            category_code="garbage", external_ref="bare")
    with pytest.raises(TransitionRejected):
        transition.fire(session, catalog, "case", case.id, "absorb_duplicate", actor=world.actor("dispatcher"),
                        data={"duplicate_id": 1, "_via_case_service": True})


def test_merge_refuses_other_category_and_self(session, catalog, world):
    a, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                         category_code="garbage", external_ref="m-1")
    b, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="路",
                         category_code="road", external_ref="m-2")
    for dup_id, orig_id in [(b.id, a.id), (a.id, a.id)]:
        with pytest.raises(ValidationFailed) as info:
            duplicates.merge(session, catalog, dup_id, orig_id, actor=world.actor("dispatcher"))
        assert info.value.field == "original_id"
    session.expire_all()
    assert session.get(Case, b.id).state == "reported"


def test_change_tier_restarts_on_the_new_workflow(session, catalog, world):
    case = handling_case(session, catalog, world)
    old_handle = rows(session, case.id, "pending")[0]
    with pytest.raises(ValidationFailed) as info:
        tiers.change_tier(session, catalog, case.id, actor=world.actor("dispatcher"), tier="huge", reason="r")
    assert info.value.field == "tier"
    case = tiers.change_tier(session, catalog, case.id, actor=world.actor("dispatcher"), tier="complex",
                             reason="涉及多个部门")
    session.expire_all()
    case = session.get(Case, case.id)
    assert (case.tier, case.workflow, case.state, case.department_id) == ("complex", "case_complex", "reported", None)
    assert case.data["started_on"]["workflow"] == "case_general"
    hist = case.data["tier_history"][0]
    assert hist["from"] == {"tier": "general", "workflow": "case_general", "version": 1, "state": "handling"}
    assert session.get(Deadline, old_handle.id).status == "cancelled"
    assert rows(session, case.id, "pending") == []  # complex 'reported' has no limit of its own
    entries = ledger(session, case.id)
    assert [(e.trigger, e.workflow) for e in entries[-2:]] == [("change_tier", "case_general"),
                                                                ("restart", "case_complex")]
    assert (entries[-1].from_state, entries[-1].to_state) == ("handling", "reported")
    # The new tier's triggers work: register and dispatch with a co-operating department.
    disp = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id,
                      cooperating_department_ids=[world.sanitation.id])
    sign_row = rows(session, case.id, "pending")[0]
    cal = item_calendar(session, case)
    assert sign_row.key == "sign" and sign_row.due_at == cal.add_working(sign_row.armed_at, timedelta(hours=2))


def test_time_limit_table_overrides_defaults(session, catalog, world):
    time_limits.set_limit(session, tier="general", stage="sign", duration="30m")
    time_limits.set_limit(session, tier="general", stage="sign", duration="3h", clock="wall",
                          category_id=world.cat_road.id)
    session.commit()
    with pytest.raises(ValidationFailed) as info:
        time_limits.set_limit(session, tier="general", stage="sign", duration="later")
    assert info.value.field == "duration"
    disp = world.actor("dispatcher")
    made = {}
    for code in ("garbage", "road"):
        case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title=code,
                                category_code=code, external_ref=f"tl-{code}")
        review.register(session, catalog, case.id, actor=disp)
        handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
        made[code] = (case, rows(session, case.id, "pending")[0])
    case, row = made["garbage"]
    assert row.clock == "working"
    assert row.due_at == item_calendar(session, case).add_working(row.armed_at, timedelta(minutes=30))
    _, row = made["road"]
    assert row.clock == "wall" and row.due_at - row.armed_at == timedelta(hours=3)


def test_defer_pauses_and_resume_rearms(session, catalog, world):
    case = handling_case(session, catalog, world)
    row = rows(session, case.id, "pending")[0]
    disp, handler = world.actor("dispatcher"), world.actor("san_handler")
    extension.request_deferral(session, catalog, case.id, actor=handler, reason="等待产权单位审批")
    with pytest.raises(TransitionRejected):  # one request at a time
        extension.request_extension(session, catalog, case.id, actor=handler, duration="1h", reason="r")
    extension.approve_deferral(session, catalog, case.id, actor=disp, reason="同意挂账")
    session.expire_all()
    paused = session.get(Deadline, row.id)
    assert paused.status == "paused" and paused.remaining_s is not None and 0 < paused.remaining_s <= 4 * 3600
    assert session.get(Case, case.id).data["deferred"] is True
    with pytest.raises(TransitionRejected):  # a hung-up case is not reported on
        handling.report_result(session, catalog, case.id, actor=handler, result="x")
    remaining = paused.remaining_s
    case = extension.resume(session, catalog, case.id, actor=disp, reason="审批已下达")
    session.expire_all()
    again = session.get(Deadline, row.id)
    assert again.status == "pending" and again.remaining_s is None
    resumed_at = ledger(session, case.id)[-1].at
    cal = item_calendar(session, case)
    assert again.due_at == cal.add_working(resumed_at, timedelta(seconds=remaining))
    payloads = {e.trigger: e.payload for e in ledger(session, case.id)}
    assert payloads["approve_deferral"]["deadlines_paused"][0]["deadline_id"] == row.id
    assert payloads["resume"]["deadlines_resumed"][0]["deadline_id"] == row.id


def test_refused_extension_leaves_the_deadline(session, catalog, world):
    case = handling_case(session, catalog, world)
    row = rows(session, case.id, "pending")[0]
    extension.request_extension(session, catalog, case.id, actor=world.actor("san_handler"), duration="1d",
                                reason="r")
    case = extension.reject_extension(session, catalog, case.id, actor=world.actor("dispatcher"), reason="理由不足")
    session.expire_all()
    assert session.get(Deadline, row.id).due_at == row.due_at
    assert session.get(Case, case.id).data["requests"][-1]["decision"] == "refused"


def _closed(session, catalog, world, ref):  # type: ignore[no-untyped-def]
    case = handling_case(session, catalog, world, ref)
    handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="已清理")
    return closing.check_pass(session, catalog, case.id, actor=world.actor("dispatcher"))


def test_unsatisfied_callback_reopens_with_the_same_department(session, catalog, world):
    case = _closed(session, catalog, world, "cb-1")
    with pytest.raises(ValidationFailed) as info:
        closing.callback(session, catalog, case.id, actor=world.actor("dispatcher"), grade=0)
    assert info.value.field == "grade"
    case = closing.callback(session, catalog, case.id, actor=Actor.client_of("hotline"), grade=4)
    assert case.state == "closed"
    case = closing.callback(session, catalog, case.id, actor=Actor.client_of("hotline"), grade=1, note="没扫干净")
    assert case.state == "handling" and case.department_id == world.sanitation.id
    assert case.closed_at is None and case.data["reopen_count"] == 1
    assert [e.trigger for e in ledger(session, case.id)][-3:] == ["callback", "callback", "reopen"]
    assert [r.key for r in rows(session, case.id, "pending")] == ["handle"]


def test_late_unsatisfied_callback_does_not_reopen(session, catalog, world, app):
    case = _closed(session, catalog, world, "cb-2")
    case.closed_at = utcnow() - timedelta(days=8)
    session.commit()
    case = closing.callback(session, catalog, case.id, actor=world.actor("dispatcher"), grade=2)
    assert case.state == "closed" and case.data["callbacks"][-1]["grade"] == 2
    app.config["CALLBACK_REOPEN_DAYS"] = 30
    try:
        case = closing.callback(session, catalog, case.id, actor=world.actor("dispatcher"), grade=2)
    finally:
        del app.config["CALLBACK_REOPEN_DAYS"]
    assert case.state == "handling"


def test_complex_reopen_returns_to_the_lead_part(session, catalog, world):
    session.add(Category(code="cx", name="cx", responsible_department=world.roads, default_tier="complex"))
    session.commit()
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="app", actor=Actor.client_of("app"), title="x",
                            category_code="cx", external_ref="cx-1")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    handling.report_result(session, catalog, case.id, actor=world.actor("road_handler"), result="done")
    closing.check_pass(session, catalog, case.id, actor=disp)
    case = closing.callback(session, catalog, case.id, actor=disp, grade=1)
    lead = session.execute(select(CaseParticipant).where(CaseParticipant.case_id == case.id)).scalar_one()
    assert case.state == "handling" and lead.state == "signed"
