"""Return for reassignment (申请退单, issue #6): every path through the returns service."""
from __future__ import annotations

import io
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from caseflow.deadlines.clock import item_calendar
from caseflow.deadlines.firing import fire_deadline
from caseflow.errors import Conflict, DomainError, InvalidTransition, NotFound, PermissionDenied, ValidationFailed
from caseflow.extensions import db
from caseflow.models import (
    AccessDenial,
    Attachment,
    Case,
    Category,
    Deadline,
    EscalationRun,
    Instruction,
    LedgerEntry,
    Regulation,
    ReturnRequest,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.services import instructions
from caseflow.services import returns as svc
from caseflow.services import transition
from caseflow.services.cases import handling, intake, review

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def dispatched_case(session, catalog, world, category="garbage", dept=None):  # type: ignore[no-untyped-def]
    """A general case registered and dispatched to ``dept`` (default sanitation)."""
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="垃圾堆放",
                            category_code=category, address="和平路 3 号", grid_id=world.grid_main.id)
    d = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=d)
    handling.dispatch(session, catalog, case.id, actor=d, department_id=(dept or world.sanitation).id)
    return session.get(Case, case.id)


def rows(session, item_type, item_id, key=None):  # type: ignore[no-untyped-def]
    q = select(Deadline).where(Deadline.item_type == item_type, Deadline.item_id == item_id)
    if key:
        q = q.where(Deadline.key == key)
    return session.execute(q.order_by(Deadline.id)).scalars().all()


def entries(session, item_type, item_id):  # type: ignore[no-untyped-def]
    return session.execute(select(LedgerEntry).where(LedgerEntry.item_type == item_type, LedgerEntry.item_id == item_id)
                           .order_by(LedgerEntry.seq)).scalars().all()


def ask(session, catalog, world, case, who="san_handler", basis="《城市市容和环境卫生管理条例》不涉及", **kw):  # type: ignore[no-untyped-def]
    return svc.request_return(session, catalog, case.id, world.actor(who), "属道路养护职责", basis, **kw)


def test_within_window_approved_and_redispatched(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    first_sign = rows(session, "case", case.id, "sign")[0]
    rr = ask(session, catalog, world, case, suggested_department_id=world.roads.id)
    assert rr.state == "requested" and rr.attempt == 1 and rr.basis_kind == "free_text"
    assert rr.reviewer_role == "dispatcher" and rr.category_id == world.cat_garbage.id
    # Ledgered on both: the request's own entry and the case's request_return.
    assert [e.trigger for e in entries(session, "return_request", rr.id)] == ["request"]
    case_entry = entries(session, "case", case.id)[-1]
    assert case_entry.trigger == "request_return" and case_entry.payload["return_request_id"] == rr.id
    assert case_entry.payload["deadlines_paused"][0]["deadline_id"] == first_sign.id
    assert rows(session, "return_request", rr.id, "review")[0].status == "pending"

    approved_at = utcnow()
    svc.approve(session, catalog, rr.id, world.actor("dispatcher"))  # to the suggested department
    session.expire_all()
    rr, case = session.get(ReturnRequest, rr.id), session.get(Case, case.id)
    assert rr.state == "approved" and rr.to_department_id == world.roads.id
    assert rr.reviewer_id == world.people["dispatcher"].id and rr.decided_at is not None
    assert case.department_id == world.roads.id and case.state == "dispatched"
    # The new department's clock starts fresh; the old one's paused limit is cancelled, never fired.
    signs = rows(session, "case", case.id, "sign")
    assert [r.status for r in signs] == ["cancelled", "pending"]
    assert signs[1].armed_at >= approved_at and signs[1].due_at > signs[0].due_at - timedelta(seconds=1)
    assert rows(session, "return_request", rr.id, "review")[0].status == "cancelled"
    # The first department's record shows the case as returned, not failed.
    returned = case.data["returned_by"]
    assert returned == [{"department_id": world.sanitation.id, "to_department_id": world.roads.id,
                         "return_request_id": rr.id, "at": returned[0]["at"], "outcome": "returned"}]
    last = entries(session, "case", case.id)[-1]
    assert last.trigger == "return_approved" and last.payload["returned_from_department_id"] == world.sanitation.id
    assert not svc.counts_against_on_time(session, case.id, world.sanitation.id)
    assert svc.counts_against_on_time(session, case.id, world.roads.id)
    assert svc.returned_pairs(session) == {(case.id, world.sanitation.id)}
    # The road department now holds it and signs; sanitation no longer sees it.
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    with pytest.raises(NotFound):
        ask(session, catalog, world, session.get(Case, case.id))


def test_out_of_window_refused(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    later = utcnow() + timedelta(days=10)  # ten calendar days hold far more than two working hours
    monkeypatch.setattr(svc, "utcnow", lambda: later)
    with pytest.raises(ValidationFailed) as exc:
        ask(session, catalog, world, case)
    assert exc.value.field == "window" and "申请退单期限已过" in exc.value.message
    assert "the return window closed at" in exc.value.message
    assert session.execute(select(ReturnRequest)).first() is None
    # A longer configured window lets the same request through.
    monkeypatch.setitem(app.config, "RETURN_WINDOW_GENERAL", "30d")
    assert ask(session, catalog, world, case).state == "requested"


def test_missing_fields_refused_naming_them(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    with pytest.raises(ValidationFailed) as exc:
        svc.request_return(session, catalog, case.id, world.actor("san_handler"), "不属本所职责", "  ")
    assert exc.value.field == "basis"
    with pytest.raises(ValidationFailed) as exc:
        svc.request_return(session, catalog, case.id, world.actor("san_handler"), "", "职责清单第 3 条")
    assert exc.value.field == "reason"
    with pytest.raises(ValidationFailed) as exc:
        ask(session, catalog, world, case, suggested_department_id=world.sanitation.id)
    assert exc.value.field == "suggested_department_id"
    with pytest.raises(ValidationFailed) as exc:
        ask(session, catalog, world, case, basis_ref_id=99999)
    assert exc.value.field == "basis_ref_id"
    assert session.execute(select(ReturnRequest)).first() is None
    # A duty list from the maintained list is a basis on its own.
    duty = Regulation(code="DL-ROAD", title="市政养护所职责清单", kind="duty_list", text="道路设施日常养护")
    session.add(duty)
    session.commit()
    rr = svc.request_return(session, catalog, case.id, world.actor("san_handler"), "属道路设施", "",
                            basis_ref_id=duty.id)
    assert rr.basis_kind == "duty_list" and rr.basis_ref_id == duty.id


def test_only_the_holding_department_may_ask(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    with pytest.raises(NotFound):
        ask(session, catalog, world, case, who="road_handler")
    with pytest.raises(PermissionDenied):
        ask(session, catalog, world, case, who="dispatcher")
    assert session.execute(select(AccessDenial.action)).scalars().all() == ["request_return", "request_return"]
    first = ask(session, catalog, world, case)
    with pytest.raises(Conflict):  # one waiting request per case
        ask(session, catalog, world, case, basis="另一依据")
    assert first.state == "requested"


def test_rejected_then_same_basis_refused_new_basis_goes_to_the_leader(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    rr = ask(session, catalog, world, case, basis="职责清单 第3条")
    with pytest.raises(ValidationFailed) as exc:
        svc.reject(session, catalog, rr.id, world.actor("dispatcher"), " ")
    assert exc.value.field == "reason"
    svc.reject(session, catalog, rr.id, world.actor("dispatcher"), "暴露垃圾属环卫所职责")
    session.expire_all()
    assert session.get(ReturnRequest, rr.id).state == "rejected"
    assert session.get(Case, case.id).department_id == world.sanitation.id
    assert session.get(ReturnRequest, rr.id).decision_reason == "暴露垃圾属环卫所职责"
    # The same basis again (spacing and case aside) is refused, naming the basis.
    with pytest.raises(ValidationFailed) as exc:
        ask(session, catalog, world, case, basis="  职责清单   第3条 ")
    assert exc.value.field == "basis"
    second = ask(session, catalog, world, case, basis="区政府办公室关于道路设施管养分工的通知")
    assert second.state == "leader_review" and second.attempt == 2 and second.reviewer_role == "leader"
    assert [e.trigger for e in entries(session, "return_request", second.id)] == ["request", "refer_to_leader"]
    assert rows(session, "return_request", second.id, "leader_review")[0].status == "pending"
    with pytest.raises(PermissionDenied):
        svc.approve(session, catalog, second.id, world.actor("dispatcher"), department_id=world.roads.id)
    with pytest.raises(PermissionDenied):
        svc.reject(session, catalog, second.id, world.actor("dispatcher"), "不同意")
    session.expire_all()
    assert session.get(ReturnRequest, second.id).state == "leader_review"
    # The leader decides with an opinion (as the leader's console asks): none is refused, naming it.
    with pytest.raises(ValidationFailed) as exc:
        svc.approve(session, catalog, second.id, world.actor("deputy"), department_id=world.roads.id, opinion=" ")
    assert exc.value.field == "opinion"
    session.expire_all()
    assert session.get(ReturnRequest, second.id).state == "leader_review"
    svc.approve(session, catalog, second.id, world.actor("deputy"), department_id=world.roads.id,
                opinion="依据区政府分工通知，改派市政养护所")
    session.expire_all()
    assert session.get(ReturnRequest, second.id).state == "approved"
    assert session.get(ReturnRequest, second.id).decision_reason == "依据区政府分工通知，改派市政养护所"
    assert session.get(Case, case.id).department_id == world.roads.id
    # The rejected request still counts against sanitation? No: its approved second one took the case off.
    assert not svc.counts_against_on_time(session, case.id, world.sanitation.id)


def test_clock_pauses_and_resumes_on_the_deadline_rows(session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    handle = rows(session, "case", case.id, "handle")[0]
    old_due = handle.due_at
    rr = ask(session, catalog, world, case)
    session.expire_all()
    handle = session.get(Deadline, handle.id)
    assert handle.status == "paused" and handle.remaining_s is not None
    cal = item_calendar(session, session.get(Case, case.id))
    assert abs(handle.remaining_s - cal.working_between(utcnow(), old_due).total_seconds()) < 120
    # Three days later the dispatcher rejects: the limit runs again with the time it had left.
    later = utcnow() + timedelta(days=3)
    monkeypatch.setattr(transition, "utcnow", lambda: later)
    svc.reject(session, catalog, rr.id, world.actor("dispatcher"), "属环卫所职责")
    session.expire_all()
    handle = session.get(Deadline, handle.id)
    assert handle.status == "pending" and handle.remaining_s is None
    assert handle.due_at > old_due
    assert abs(cal.working_between(later, handle.due_at).total_seconds()
               - cal.working_between(rr.created_at, old_due).total_seconds()) < 120
    last = entries(session, "case", case.id)[-1]
    assert last.trigger == "return_rejected" and last.payload["deadlines_resumed"][0]["deadline_id"] == handle.id
    assert svc.counts_against_on_time(session, case.id, world.sanitation.id)  # rejected: it still counts


def test_clock_keeps_running_when_configured(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "RETURN_PAUSES_CLOCK", False)
    case = dispatched_case(session, catalog, world)
    ask(session, catalog, world, case)
    assert [r.status for r in rows(session, "case", case.id, "sign")] == ["pending"]
    assert entries(session, "case", case.id)[-1].payload["deadlines_paused"] == []


def test_withdraw_resumes_the_clock(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    rr = ask(session, catalog, world, case)
    with pytest.raises(NotFound):  # another department cannot even see it
        svc.withdraw(session, catalog, rr.id, world.actor("road_handler"))
    svc.withdraw(session, catalog, rr.id, world.actor("san_handler"))
    session.expire_all()
    assert session.get(ReturnRequest, rr.id).state == "withdrawn"
    assert [r.status for r in rows(session, "case", case.id, "sign")] == ["pending"]


def test_ping_pong_limit_escalates_to_the_district(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    first = ask(session, catalog, world, case)
    svc.approve(session, catalog, first.id, world.actor("dispatcher"), department_id=world.roads.id)
    second = ask(session, catalog, world, session.get(Case, case.id), who="road_handler", basis="道路养护职责清单")
    svc.approve(session, catalog, second.id, world.actor("dispatcher"), department_id=world.sanitation.id)
    third = ask(session, catalog, world, session.get(Case, case.id), basis="第三次申请的依据")
    session.expire_all()
    third, case = session.get(ReturnRequest, third.id), session.get(Case, case.id)
    assert third.state == "escalated"
    assert case.tier == "difficult" and case.workflow == "case_difficult" and case.state == "escalated"
    assert case.department_id is None
    tail = [e.trigger for e in entries(session, "case", case.id)][-4:]
    assert tail == ["change_tier", "restart", "register", "escalate_to_district"]
    assert entries(session, "case", case.id)[-1].payload["return_request_id"] == third.id
    assert [r.status for r in rows(session, "case", case.id) if r.status == "pending"] == ["pending"]
    assert rows(session, "case", case.id, "coordinate")[0].status == "pending"
    # The escalation takes the case off sanitation's record, like an approved return.
    assert not svc.counts_against_on_time(session, case.id, world.sanitation.id)


def test_review_deadline_has_its_own_escalation(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    rr = ask(session, catalog, world, case)
    row = rows(session, "return_request", rr.id, "review")[0]
    session.execute(update(Deadline).where(Deadline.id == row.id).values(due_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    assert fire_deadline(session, catalog, row.id).result == "fired"
    run = session.execute(select(EscalationRun).where(EscalationRun.item_type == "return_request")).scalar_one()
    assert run.item_id == rr.id and run.chain == "overdue_review"


def test_attachments_are_kept_with_the_request(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    rr = ask(session, catalog, world, case, attachments=[("现场.png", io.BytesIO(PNG))])
    stored = session.execute(select(Attachment).where(Attachment.item_type == "return_request")).scalars().all()
    assert [a.item_id for a in stored] == [rr.id] and rr.data["attachment_ids"] == [stored[0].id]


def race(app, catalog, attempts):  # type: ignore[no-untyped-def]
    """Run each attempt (a callable taking a session) at once in its own thread; return outcomes."""
    barrier = threading.Barrier(len(attempts))
    outcomes = [""] * len(attempts)

    def worker(i: int, name: str, call) -> None:  # type: ignore[no-untyped-def]
        with app.app_context():
            session = db.session()
            barrier.wait()
            try:
                call(session)
                outcomes[i] = "won:" + name
            except DomainError as exc:
                outcomes[i] = f"lost:{type(exc).__name__}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, *a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_approve_racing_a_second_request_one_wins(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    rr = ask(session, catalog, world, case)
    d, san = world.actor("dispatcher"), world.actor("san_handler")
    rr_id, case_id = rr.id, case.id
    attempts = []
    for i in range(10):
        attempts.append(("approve", lambda s: svc.approve(s, catalog, rr_id, d, department_id=world.roads.id)))
        attempts.append(("request", lambda s, i=i: svc.request_return(s, catalog, case_id, san, "再次申请",
                                                                      f"新依据 {i}")))
    outcomes = race(app, catalog, attempts)
    winners = [o for o in outcomes if o.startswith("won")]
    assert winners == ["won:approve"], outcomes
    session.expire_all()
    assert session.get(Case, case_id).department_id == world.roads.id
    assert session.execute(select(ReturnRequest.state).where(ReturnRequest.case_id == case_id)).scalars().all() \
        == ["approved"]
    chain = entries(session, "case", case_id)
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert [e.trigger for e in chain].count("return_approved") == 1


def test_instruction_transfer_and_not_ours_count_in_the_report(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    start = utcnow() - timedelta(minutes=1)
    liaison = world.actor("liaison")
    item, _ = instructions.receive(session, catalog, actor=Actor.client_of("linkage_110"), number="110-R1",
                                   category="garbage", address="人民路 1 号", description="垃圾堆放")
    instructions.sign(session, catalog, item.id, actor=liaison)
    instructions.dispatch(session, catalog, item.id, actor=liaison)
    instructions.transfer(session, catalog, item.id, actor=liaison, department_id=world.roads.id, reason="属道路")
    case = dispatched_case(session, catalog, world)
    rr = ask(session, catalog, world, case)
    svc.approve(session, catalog, rr.id, world.actor("dispatcher"), department_id=world.roads.id)
    report = svc.return_report(session, start, utcnow() + timedelta(minutes=1))
    assert report == [{
        "category_id": world.cat_garbage.id, "category_code": "garbage", "category": "暴露垃圾",
        "from_department_id": world.sanitation.id, "from_department": "环卫所",
        "to_department_id": world.roads.id, "to_department": "市政养护所",
        "cases": 1, "instructions": 1, "count": 2,
        "responsible_department_id": world.sanitation.id, "responsible_department": "环卫所",
        "reassign_suggested": True,
    }]
    # A unit that finds on site that it is not the bureau's: a return with no receiving department.
    other, _ = instructions.receive(session, catalog, actor=Actor.client_of("linkage_110"), number="110-R2",
                                    category="road", address="人民路 2 号", description="井盖缺失")
    instructions.sign(session, catalog, other.id, actor=liaison)
    instructions.dispatch(session, catalog, other.id, actor=liaison)
    instructions.arrive(session, catalog, other.id, actor=world.actor("road_handler"), situation="非市政设施")
    instructions.report_not_ours(session, catalog, other.id, actor=world.actor("road_handler"),
                                 explanation="属通信井盖，非本局事项")
    report = svc.return_report(session, start, utcnow() + timedelta(minutes=1))
    assert {(r["category_code"], r["from_department_id"], r["to_department_id"], r["instructions"]) for r in report} \
        == {("garbage", world.sanitation.id, world.roads.id, 1), ("road", world.roads.id, None, 1)}
    assert session.get(Instruction, other.id).state == "not_ours"


def test_one_click_reassign_is_ledgered(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        svc.reassign_category(session, world.cat_garbage.id, world.roads.id, world.actor("dispatcher"))
    assert session.execute(select(AccessDenial.action)).scalars().all() == ["reassign_category"]
    with pytest.raises(ValidationFailed) as exc:
        svc.reassign_category(session, world.cat_garbage.id, world.sanitation.id, world.actor("admin"))
    assert exc.value.field == "department_id"
    svc.reassign_category(session, world.cat_garbage.id, world.roads.id, world.actor("admin"))
    session.expire_all()
    assert session.get(Category, world.cat_garbage.id).responsible_department_id == world.roads.id
    entry = entries(session, "category", world.cat_garbage.id)[-1]
    assert entry.trigger == "reassign_department" and entry.actor_id == world.people["admin"].id
    assert entry.payload["from_department_id"] == world.sanitation.id
    assert entry.payload["to_department_id"] == world.roads.id


def test_indicators_per_department(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    start = utcnow() - timedelta(minutes=1)
    one = dispatched_case(session, catalog, world)
    two = dispatched_case(session, catalog, world)
    svc.approve(session, catalog, ask(session, catalog, world, one).id, world.actor("dispatcher"),
                department_id=world.roads.id)
    svc.reject(session, catalog, ask(session, catalog, world, two).id, world.actor("dispatcher"), "属本所")
    found = {r["department_id"]: r for r in svc.return_indicators(session, start, utcnow() + timedelta(minutes=1))}
    san, road = found[world.sanitation.id], found[world.roads.id]
    assert (san["received"], san["requests"], san["approved"], san["rejected"]) == (2, 2, 1, 1)
    assert san["return_rate"] == 1.0 and san["approval_rate"] == 0.5 and san["mean_review_s"] >= 0
    assert (road["received"], road["requests"], road["return_rate"], road["approval_rate"]) == (1, 0, 0.0, None)


def test_a_case_not_being_handled_cannot_be_returned(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="垃圾",
                            category_code="garbage", address="和平路", grid_id=world.grid_main.id)
    case.department_id = world.sanitation.id  # even with a holder, a case under review is not returnable
    session.commit()
    with pytest.raises(InvalidTransition):
        ask(session, catalog, world, case)


def _tier_case(session, catalog, world, tier):  # type: ignore[no-untyped-def]
    """A case of ``tier`` held by sanitation in the state its department handles it in."""
    cat = Category(code=f"cat-{tier}", name=f"{tier} 类", field="city", responsible_department=world.sanitation,
                   default_tier=tier)
    session.add(cat)
    session.commit()
    who = world.actor("san_handler" if tier == "simple" else "dispatcher")
    case, _ = intake.report(session, catalog, channel="patrol" if tier == "simple" else "hotline", actor=who,
                            title="事项", category_code=cat.code, address="和平路 9 号", grid_id=world.grid_main.id)
    d = world.actor("dispatcher")
    if tier in ("general", "complex"):
        review.register(session, catalog, case.id, actor=d)
        handling.dispatch(session, catalog, case.id, actor=d, department_id=world.sanitation.id)
    elif tier == "difficult":
        review.register(session, catalog, case.id, actor=d)
        handling.escalate_to_district(session, catalog, case.id, actor=d, reason="跨部门")
        handling.start_joint_handling(session, catalog, case.id, actor=d, department_id=world.sanitation.id)
    return session.get(Case, case.id)


@pytest.mark.parametrize("tier, state, key", [("simple", "reported", "handle"), ("complex", "dispatched", "sign"),
                                              ("difficult", "joint_handling", "handle")])
def test_every_tier_can_return(session, catalog, world, tier, state, key) -> None:  # type: ignore[no-untyped-def]
    case = _tier_case(session, catalog, world, tier)
    assert case.department_id == world.sanitation.id and case.state == state
    rr = ask(session, catalog, world, case)
    assert [r.status for r in rows(session, "case", case.id, key)] == ["paused"]
    svc.approve(session, catalog, rr.id, world.actor("dispatcher"), department_id=world.roads.id)
    session.expire_all()
    case = session.get(Case, case.id)
    assert case.department_id == world.roads.id and case.state == state
    assert [r.status for r in rows(session, "case", case.id, key)] == ["cancelled", "pending"]
    if tier != "simple":
        parts = {p.department_id: (p.role, p.state) for p in handling.participants(session, case.id)}
        assert parts[world.roads.id] == ("lead", "assigned") and parts[world.sanitation.id][1] == "withdrawn"
