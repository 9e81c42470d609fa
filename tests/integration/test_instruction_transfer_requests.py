"""A unit's transfer request of an instruction (申请移交, issue #6 item 5): the instruction's
counterpart of a case's return request, through the service layer and into the returns report."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow.errors import InvalidTransition, NotFound, PermissionDenied, TransitionRejected, ValidationFailed
from caseflow.models import Instruction, LedgerEntry, Notification, utcnow
from caseflow.services import instructions as svc
from caseflow.services import regulations
from caseflow.services import returns as returns_svc

from .test_instructions import WORK, answers, ledger, signed_and_dispatched


def _period():  # type: ignore[no-untyped-def]
    now = utcnow()
    return now - timedelta(hours=1), now + timedelta(hours=1)


def _told(session, item_id: int, subject_part: str) -> set[int]:  # type: ignore[no-untyped-def]
    return set(session.execute(select(Notification.person_id).where(
        Notification.item_id == item_id, Notification.subject.contains(subject_part))).scalars())


def test_request_then_transfer_approves_it(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world, now=WORK)
    arrival = svc.arrival_deadline(session, item)
    handler = world.actor("san_handler")
    svc.request_transfer(session, catalog, item.id, actor=handler, reason="路面塌陷，属道路养护",
                         basis="《城市道路管理条例》第三十五条", suggested_department_id=world.roads.id)
    item = session.get(Instruction, item.id)
    # Nothing moves while it waits: the unit keeps the instruction and its arrival deadline runs.
    assert item.state == "dispatched" and item.department_id == world.sanitation.id
    session.refresh(arrival)
    assert arrival.status == "pending"
    req = item.record("transfer_requests")[-1]
    assert (req["state"], req["kind"], req["basis_kind"], req["suggested_department_id"], req["department_id"]) == \
        ("open", "other_unit", "free_text", world.roads.id, world.sanitation.id)
    assert req["requested_by_id"] == world.people["san_handler"].id
    # The liaison is told.
    assert _told(session, item.id, "申请移交") == {world.people["liaison"].id}
    # One request waits at a time.
    with pytest.raises(InvalidTransition):
        svc.request_transfer(session, catalog, item.id, actor=handler, reason="再次申请", basis="同上")

    svc.transfer(session, catalog, item.id, actor=world.actor("liaison"), department_id=world.roads.id,
                 reason="同意移交", now=WORK)
    item = session.get(Instruction, item.id)
    assert item.department_id == world.roads.id and item.state == "dispatched"
    req = item.record("transfer_requests")[-1]
    assert (req["state"], req["outcome"], req["to_department_id"], req["decided_by_id"]) == \
        ("approved", "transferred", world.roads.id, world.people["liaison"].id)
    entry = [e for e in ledger(session, item.id) if e.trigger == "transfer"][0]
    assert (entry.payload["transfer_request_state"], entry.payload["requesting_department_id"]) == \
        ("approved", world.sanitation.id)

    # In the returns report: a transfer from sanitation to roads, and sanitation's request approved.
    start, end = _period()
    rows = returns_svc.return_report(session, start, end)
    assert [(r["from_department_id"], r["to_department_id"], r["instructions"]) for r in rows] == \
        [(world.sanitation.id, world.roads.id, 1)]
    ind = {r["department_id"]: r for r in returns_svc.return_indicators(session, start, end)}
    san = ind[world.sanitation.id]
    assert (san["instruction_requests"], san["instruction_requests_approved"], san["instruction_requests_rejected"],
            san["instruction_returns"]) == (1, 1, 0, 1)


def test_missing_basis_or_reason_is_refused_naming_the_field(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world)
    handler = world.actor("san_handler")
    with pytest.raises(ValidationFailed) as err:
        svc.request_transfer(session, catalog, item.id, actor=handler, reason="不是我们的")
    assert err.value.field == "basis"
    with pytest.raises(ValidationFailed) as err:
        svc.request_transfer(session, catalog, item.id, actor=handler, reason="  ", basis="职责清单")
    assert err.value.field == "reason"
    with pytest.raises(ValidationFailed) as err:
        svc.request_transfer(session, catalog, item.id, actor=handler, reason="x", basis_ref_id=99999)
    assert err.value.field == "basis_ref_id"
    with pytest.raises(ValidationFailed) as err:
        svc.request_transfer(session, catalog, item.id, actor=handler, reason="x", basis="y",
                             suggested_department_id=world.sanitation.id)
    assert err.value.field == "suggested_department_id"
    with pytest.raises(ValidationFailed) as err:
        svc.request_transfer(session, catalog, item.id, actor=handler, reason="x", basis="y", kind="maybe")
    assert err.value.field == "kind"
    session.expire_all()
    assert session.get(Instruction, item.id).record("transfer_requests") is None  # nothing was written
    # A regulation from the maintained list is a basis on its own.
    reg = regulations.add(session, world.actor("admin"), code="DL-1", title="环卫职责清单", kind="duty_list")
    svc.request_transfer(session, catalog, item.id, actor=handler, reason="不属环卫职责", basis_ref_id=reg.id)
    req = session.get(Instruction, item.id).record("transfer_requests")[-1]
    assert (req["basis_kind"], req["basis_ref_id"], req["basis"]) == ("duty_list", reg.id, "")
    body = session.execute(select(Notification.body).where(
        Notification.item_id == item.id, Notification.person_id == world.people["liaison"].id)).scalar_one()
    assert body == "环卫所：不属环卫职责（依据：DL-1 环卫职责清单）"


def test_who_may_ask_and_decide(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world)
    with pytest.raises(NotFound):  # another unit does not learn it exists
        svc.request_transfer(session, catalog, item.id, actor=world.actor("road_handler"), reason="x", basis="y")
    with pytest.raises(PermissionDenied):  # the liaison transfers; the unit asks
        svc.request_transfer(session, catalog, item.id, actor=world.actor("liaison"), reason="x", basis="y")
    with pytest.raises(TransitionRejected):  # nothing to reject yet
        svc.reject_transfer(session, catalog, item.id, actor=world.actor("liaison"), reason="x")
    svc.request_transfer(session, catalog, item.id, actor=world.actor("san_handler"), reason="x", basis="y")
    with pytest.raises(PermissionDenied):
        svc.reject_transfer(session, catalog, item.id, actor=world.actor("san_handler"), reason="自己驳回")
    with pytest.raises(ValidationFailed) as err:
        svc.reject_transfer(session, catalog, item.id, actor=world.actor("liaison"), reason="")
    assert err.value.field == "reason"


def test_rejected_the_unit_keeps_it_and_may_ask_again(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world)
    handler, liaison = world.actor("san_handler"), world.actor("liaison")
    svc.request_transfer(session, catalog, item.id, actor=handler, reason="非本单位职责", basis="职责清单")
    svc.reject_transfer(session, catalog, item.id, actor=liaison, reason="垃圾清运属环卫职责")
    item = session.get(Instruction, item.id)
    assert item.state == "dispatched" and item.department_id == world.sanitation.id
    req = item.record("transfer_requests")[-1]
    assert (req["state"], req["decision_reason"]) == ("rejected", "垃圾清运属环卫职责")
    assert _told(session, item.id, "移交申请未同意") == {world.people["san_handler"].id}
    entry = [e for e in ledger(session, item.id) if e.trigger == "reject_transfer"][0]
    assert entry.payload["requesting_department_id"] == world.sanitation.id and entry.actor_role == "liaison"
    # Asking again (and withdrawing it) is possible; each request is kept.
    svc.arrive(session, catalog, item.id, actor=handler, situation="到场核实")
    svc.request_transfer(session, catalog, item.id, actor=handler, reason="现场为道路塌陷", basis="条例",
                         suggested_department_id=world.roads.id)
    svc.withdraw_transfer_request(session, catalog, item.id, actor=handler)
    item = session.get(Instruction, item.id)
    assert [r["state"] for r in item.record("transfer_requests")] == ["rejected", "withdrawn"]
    assert item.state == "on_site"
    start, end = _period()
    san = {r["department_id"]: r for r in returns_svc.return_indicators(session, start, end)}[world.sanitation.id]
    assert (san["instruction_requests"], san["instruction_requests_approved"],
            san["instruction_requests_rejected"], san["instruction_returns"]) == (2, 0, 1, 0)
    assert returns_svc.return_report(session, start, end) == []  # nothing left the unit


def test_not_the_bureaus_the_liaison_explains_to_110(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world)
    arrival = svc.arrival_deadline(session, item)
    handler, liaison = world.actor("san_handler"), world.actor("liaison")
    with pytest.raises(TransitionRejected):  # before arrival, only with the unit's not-bureau request
        svc.report_not_ours(session, catalog, item.id, actor=liaison, explanation="属交警")
    with pytest.raises(PermissionDenied):  # on site the unit reports itself; before, it asks
        svc.report_not_ours(session, catalog, item.id, actor=handler, explanation="属交警")
    svc.request_transfer(session, catalog, item.id, actor=handler, kind="not_bureau", reason="为交通事故",
                         basis="《道路交通安全法》第七十条")
    assert _told(session, item.id, "非本局事项") == {world.people["liaison"].id}
    svc.report_not_ours(session, catalog, item.id, actor=liaison, explanation="经核实属交警处置，已向110说明")
    item = session.get(Instruction, item.id)
    assert item.state == "not_ours"
    req = item.record("transfer_requests")[-1]
    assert (req["state"], req["outcome"], req["kind"]) == ("approved", "not_ours", "not_bureau")
    assert answers(session, item.id)[-1]["kind"] == "not_ours"
    session.refresh(arrival)
    assert arrival.status == "cancelled"  # nobody is late to an event that is not the bureau's
    start, end = _period()
    rows = returns_svc.return_report(session, start, end)
    assert [(r["from_department_id"], r["to_department_id"], r["instructions"]) for r in rows] == \
        [(world.sanitation.id, None, 1)]


def test_an_open_request_must_be_decided_before_closing(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world)
    handler, liaison = world.actor("san_handler"), world.actor("liaison")
    svc.arrive(session, catalog, item.id, actor=handler, situation="到场")
    svc.request_transfer(session, catalog, item.id, actor=handler, reason="疑似非本单位", basis="职责清单")
    svc.report_result(session, catalog, item.id, actor=handler, result="已先行处置")
    with pytest.raises(TransitionRejected):
        svc.report_to_110(session, catalog, item.id, actor=liaison)
    svc.reject_transfer(session, catalog, item.id, actor=liaison, reason="已处置完毕，无需移交")
    svc.report_to_110(session, catalog, item.id, actor=liaison)
    assert session.get(Instruction, item.id).state == "closed"


def test_the_unit_reporting_not_ours_itself_supersedes_its_request(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world)
    handler = world.actor("san_handler")
    svc.request_transfer(session, catalog, item.id, actor=handler, kind="not_bureau", reason="疑似交通事故",
                         basis="道路交通安全法")
    svc.arrive(session, catalog, item.id, actor=handler, situation="确为交通事故")
    svc.report_not_ours(session, catalog, item.id, actor=handler, explanation="属交警处置")
    item = session.get(Instruction, item.id)
    assert item.record("transfer_requests")[-1]["state"] == "superseded" and item.state == "not_ours"
    kinds = session.execute(select(LedgerEntry.trigger).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == item.id).order_by(LedgerEntry.seq)).scalars()
    assert list(kinds)[-3:] == ["request_transfer", "arrive", "report_not_ours"]
