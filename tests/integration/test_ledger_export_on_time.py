"""应急处置台账, column 按时到场: 是 / 否 / blank, and 否 as soon as the arrival time passed unmet."""
from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from caseflow.models import Deadline, Instruction, utcnow
from caseflow.services import ledger_export, transition


def _dispatched(session, catalog, world, number: str) -> Instruction:  # type: ignore[no-untyped-def]
    liaison = world.actor("liaison")
    ins = Instruction(number=number, received_at=utcnow(), category_id=world.cat_garbage.id,
                      grid_id=world.grid_main.id, area_kind="main_urban", address="一号路口")
    transition.start(session, catalog, ins, workflow="instruction", actor=liaison, role="liaison")
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=liaison)
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=liaison,
                    data={"department_id": world.sanitation.id})
    return ins


def _arrival(session, ins: Instruction) -> Deadline:  # type: ignore[no-untyped-def]
    return session.execute(select(Deadline).where(Deadline.item_type == "instruction", Deadline.item_id == ins.id,
                                                  Deadline.key == "arrival")).scalar_one()


def _on_time_cells(rows) -> dict[str, str]:  # type: ignore[no-untyped-def]
    lines = list(csv.reader(io.StringIO(ledger_export.to_csv(rows))))
    col = lines[0].index("按时到场")
    return {line[0]: line[col] for line in lines[1:]}


def test_not_arrived_past_the_due_time_reads_no(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    running = _dispatched(session, catalog, world, "110-RUN")
    overdue = _dispatched(session, catalog, world, "110-OVER")
    _arrival(session, overdue).due_at = utcnow() - timedelta(minutes=1)
    arrived = _dispatched(session, catalog, world, "110-IN")
    transition.fire(session, catalog, "instruction", arrived.id, "arrive", actor=world.actor("san_handler"),
                    data={"situation": "到场"})
    session.commit()
    rows = ledger_export.ledger_rows(session)
    assert _on_time_cells(rows) == {"110-RUN": "", "110-OVER": "否", "110-IN": "是"}
    assert {r["number"]: r["on_time"] for r in rows} == {"110-RUN": None, "110-OVER": False, "110-IN": True}
    # The filter agrees with the column.
    late = ledger_export.ledger_rows(session, ledger_export.LedgerFilter(on_time=False))
    assert [r["number"] for r in late] == ["110-OVER"]
    # Later on, the still-running one is past its time too.
    later = utcnow() + timedelta(hours=2)
    assert _on_time_cells(ledger_export.ledger_rows(session, now=later))["110-RUN"] == "否"
    assert running.arrived_at is None


def test_arrival_after_the_due_time_reads_no(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = _dispatched(session, catalog, world, "110-LATE")
    _arrival(session, ins).due_at = utcnow() - timedelta(minutes=5)
    session.commit()
    transition.fire(session, catalog, "instruction", ins.id, "arrive", actor=world.actor("san_handler"),
                    data={"situation": "到场"})
    assert _on_time_cells(ledger_export.ledger_rows(session)) == {"110-LATE": "否"}
