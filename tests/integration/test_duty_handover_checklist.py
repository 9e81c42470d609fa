"""The handover checklist: found in a fixed number of queries however many items are open, grouped
by kind, and accepted all at once except the disputed items."""
from __future__ import annotations

from contextlib import contextmanager
from itertools import count

import pytest
from sqlalchemy import event, select

from caseflow.errors import InvalidTransition, PermissionDenied, TransitionRejected, ValidationFailed
from caseflow.models import Department, HandoverItem, Instruction, LedgerEntry, utcnow
from caseflow.services import transition
from caseflow.services.cases import intake
from caseflow.services.duty import handover as hs
from caseflow.services.duty import log as duty_log

from .duty_support import lead_actor, plan, running_instruction

_numbers = count(1)


@contextmanager
def counting(session):  # type: ignore[no-untyped-def]
    """The queries (SELECTs; not BEGIN and the like) run inside the block."""
    seen: list[str] = []
    engine = session.get_bind()

    def before(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _open_items(session, catalog, world, n: int, elsewhere: Department) -> list[int]:  # type: ignore[no-untyped-def]
    """n running instructions of this street, n cases awaiting review, n urgent documents, and one
    instruction of another center; returns the other center's instruction id."""
    for _ in range(n):
        running_instruction(session, catalog, world)
        intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="井盖缺失",
                      category_code="road", address="和平路", grid_id=world.grid_main.id)
        duty_log.record(session, catalog, world.street.id, "urgent_document", actor=world.actor("duty_officer"),
                        summary="区委紧急通知")
    liaison = world.actor("liaison")
    other = Instruction(number=f"110-X{next(_numbers)}", received_at=utcnow(), category_id=world.cat_garbage.id,
                        area_kind="other", address="外区")
    transition.start(session, catalog, other, workflow="instruction", actor=liaison, role="liaison")
    transition.fire(session, catalog, "instruction", other.id, "sign", actor=liaison)
    transition.fire(session, catalog, "instruction", other.id, "dispatch", actor=liaison,
                    data={"department_id": elsewhere.id})
    return [other.id]


def test_open_items_take_the_same_queries_for_more_items(session, catalog, world):  # type: ignore[no-untyped-def]
    first = plan(session, catalog, world, days=2)[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    elsewhere = Department(code="XD", name="区属单位", kind="unit", center=world.district)
    session.add(elsewhere)
    session.commit()

    outside = _open_items(session, catalog, world, 2, elsewhere)
    with counting(session) as few:
        small = hs.find_open_items(session, catalog, first)
    outside += _open_items(session, catalog, world, 8, elsewhere)
    session.expire_all()
    assert first.starts_at  # reloaded outside the count, like the first time
    with counting(session) as many:
        large = hs.find_open_items(session, catalog, first)
    assert len(large) > len(small) + 20  # 8 more of each kind, and their deadlines
    assert len(many) == len(few) == 6  # one query per kind, not one per row
    kinds = [f.kind for f in large]
    assert kinds.count("instruction") == 10 and kinds.count("urgent_document") == 10
    assert kinds.count("case_review") == 10
    # The other center's instruction and its deadlines stay off this street's checklist.
    assert not any(f.ref_type == "instruction" and f.ref_id in outside for f in large)
    assert not any(f.kind == "deadline" and f" {i} " in f" {f.summary} " for f in large for i in outside
                   if f.summary.startswith("instruction "))
    assert any(f.kind == "deadline" and f.summary.startswith("instruction ") for f in large)
    # Collected in kind order: the checklist groups them.
    order = ["instruction", "deadline", "case_review", "urgent_document"]
    assert [k for k in dict.fromkeys(kinds) if k in order] == order


def test_accept_all_keeps_the_disputed_items(session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    first = shifts[0]
    transition.fire(session, catalog, "duty_shift", first.id, "start", actor=lead_actor(world, first))
    running_instruction(session, catalog, world)
    doc = duty_log.record(session, catalog, world.street.id, "urgent_document", actor=world.actor("duty_officer"),
                          summary="紧急公文")
    out_lead, in_lead = lead_actor(world, first), lead_actor(world, shifts[1])
    h = hs.open_handover(session, catalog, first.id, actor=out_lead)
    with pytest.raises(InvalidTransition):  # not while it is being prepared
        hs.accept_all(session, catalog, h.id, actor=in_lead)
    hs.submit(session, catalog, h.id, actor=out_lead)
    rows = hs.items(session, h.id)
    groups = hs.grouped_items(rows)
    assert [kind for kind, _ in groups] == ["instruction", "deadline", "urgent_document"]
    assert sum(len(g) for _, g in groups) == len(rows)
    disputed = next(r for r in rows if r.ref_type == "duty_log_entry" and r.ref_id == doc.id)
    hs.dispute_item(session, catalog, h.id, disputed.id, "领导批示未写明", actor=in_lead)
    with pytest.raises(TransitionRejected, match="actor_is_incoming_lead"):  # nor by the outgoing lead
        hs.accept_all(session, catalog, h.id, actor=out_lead)
    with pytest.raises(ValidationFailed) as exc:
        hs.accept_all(session, catalog, h.id, actor=in_lead, kind="nonsense")
    assert exc.value.field == "kind"
    # One kind at a time, then the rest.
    only = hs.accept_all(session, catalog, h.id, actor=in_lead, kind="instruction")
    assert [r.kind for r in only] == ["instruction"]
    rest = hs.accept_all(session, catalog, h.id, actor=in_lead, note="已了解")
    assert {r.kind for r in rest} == {"deadline"}
    session.expire_all()
    statuses = {r.id: r.status for r in hs.items(session, h.id)}
    assert statuses.pop(disputed.id) == "disputed"
    assert set(statuses.values()) == {"accepted"}
    assert session.get(HandoverItem, rest[0].id).review_note == "已了解"
    # Each item is ledgered as when accepted alone.
    accepted = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "handover", LedgerEntry.item_id == h.id,
        LedgerEntry.trigger == "accept_item")).scalars().all()
    assert len(accepted) == len(rows) - 1 and all(e.payload.get("all") for e in accepted)
    # Nothing pending is left: accepting all again does nothing, and the disputed item still
    # blocks the completion until it is answered and accepted on its own.
    assert hs.accept_all(session, catalog, h.id, actor=in_lead) == []
    with pytest.raises(PermissionDenied):
        hs.accept_all(session, catalog, h.id, actor=out_lead)
    with pytest.raises(TransitionRejected, match="all_handover_items_accepted"):
        hs.complete(session, catalog, h.id, actor=in_lead)
    hs.add_note(session, catalog, h.id, "按区委要求今日转发", actor=out_lead, item_id=disputed.id)
    assert [r.id for r in hs.accept_all(session, catalog, h.id, actor=in_lead)] == [disputed.id]
    assert hs.complete(session, catalog, h.id, actor=in_lead).state == "completed"
