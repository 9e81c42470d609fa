"""`caseflow ledger verify` finds an edited, a deleted and a reordered row, and names it."""
from __future__ import annotations

from sqlalchemy import select, text

from caseflow.models import Instruction, LedgerEntry, utcnow
from caseflow.services import transition


def make_history(session, catalog, world, number):  # type: ignore[no-untyped-def]
    ins = Instruction(number=number, received_at=utcnow(), category_id=world.cat_garbage.id)
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    liaison = world.actor("liaison")
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=liaison)
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=liaison,
                    data={"department_id": world.sanitation.id})
    transition.fire(session, catalog, "instruction", ins.id, "arrive", actor=liaison, data={"situation": "到场"})
    return ins


def entries(session, ins):  # type: ignore[no-untyped-def]
    return session.execute(select(LedgerEntry).where(LedgerEntry.item_id == ins.id,
                                                     LedgerEntry.item_type == "instruction")
                           .order_by(LedgerEntry.seq)).scalars().all()


def verify(app):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["ledger", "verify"])
    return result.exit_code, result.output


def test_intact_chain_passes(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    make_history(session, catalog, world, "110-V1")
    code, out = verify(app_ctx)
    assert code == 0 and "4 entries, chain intact" in out


def test_edited_row_is_named(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = make_history(session, catalog, world, "110-V2")
    target = entries(session, ins)[2]
    session.execute(text("UPDATE ledger_entry SET comment = 'changed later' WHERE id = :i"), {"i": target.id})
    session.commit()
    code, out = verify(app_ctx)
    assert code == 1
    assert f"instruction {ins.id}: entry id={target.id} seq=3: content does not match its hash (edited)" in out


def test_deleted_row_is_named(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = make_history(session, catalog, world, "110-V3")
    rows = entries(session, ins)
    session.execute(text("DELETE FROM ledger_entry WHERE id = :i"), {"i": rows[1].id})
    session.commit()
    code, out = verify(app_ctx)
    assert code == 1
    assert f"entry id={rows[2].id} seq=3: sequence jumps from 1 to 3" in out


def test_deleted_final_row_is_caught(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = make_history(session, catalog, world, "110-V4")
    rows = entries(session, ins)
    session.execute(text("DELETE FROM ledger_entry WHERE id = :i"), {"i": rows[-1].id})
    session.commit()
    code, out = verify(app_ctx)
    assert code == 1
    assert f"instruction {ins.id}: item: is 'on_site' but its last ledger entry leaves it 'dispatched'" in out


def test_reordered_rows_are_named(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = make_history(session, catalog, world, "110-V5")
    rows = entries(session, ins)
    a, b = rows[1], rows[2]
    # Swap the two rows' sequence numbers (through a free value: seq is unique per item).
    session.execute(text("UPDATE ledger_entry SET seq = -1 WHERE id = :i"), {"i": a.id})
    session.execute(text("UPDATE ledger_entry SET seq = 2 WHERE id = :i"), {"i": b.id})
    session.execute(text("UPDATE ledger_entry SET seq = 3 WHERE id = :i"), {"i": a.id})
    session.commit()
    code, out = verify(app_ctx)
    assert code == 1
    assert f"entry id={b.id} seq=2: does not follow the previous entry" in out


def test_deleted_final_entry_is_caught_by_the_item_chain_head(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    # The head kept on the item also catches a deleted final entry that changed no state
    # (a deadline's expiry, an escalation step), where the state check alone cannot.
    ins = make_history(session, catalog, world, "110-V6")
    rows = entries(session, ins)
    session.execute(text("DELETE FROM ledger_entry WHERE id = :i"), {"i": rows[-1].id})
    session.commit()
    code, out = verify(app_ctx)
    assert code == 1
    assert (f"instruction {ins.id}: item: its chain head is entry 4 but the ledger ends at entry 3"
            in out)


def test_item_head_follows_every_append(app_ctx, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = make_history(session, catalog, world, "110-V7")
    rows = entries(session, ins)
    session.refresh(ins)
    assert (ins.ledger_seq, ins.ledger_head) == (rows[-1].seq, rows[-1].hash) == (4, rows[-1].hash)
