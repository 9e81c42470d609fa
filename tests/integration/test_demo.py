"""The demo street: every role, all four case workflows and instructions, real ledgers; only into an empty database."""
from __future__ import annotations


import pytest
from sqlalchemy import func, select

from caseflow.demo import DEMO_PASSWORD, load_demo
from caseflow.models import ROLES, Case, Category, Deadline, Grid, Instruction, LeaderPosition, LedgerEntry, Person
from caseflow.services.people import authenticate


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    return int(session.execute(select(func.count()).select_from(model)).scalar() or 0)


def test_demo_populates_a_street(session, catalog) -> None:  # type: ignore[no-untyped-def]
    summary = load_demo(session, catalog, cases=24, instructions=10)
    assert "demo data loaded" in summary and DEMO_PASSWORD in summary
    # Every planned step was accepted: the demo's paths match the shipped workflow definitions.
    assert "stopped early" not in summary, summary

    people = list(session.execute(select(Person)).scalars())
    assert {r for p in people for r in p.roles} == set(ROLES)
    for username in ("admin", "liaison", "dispatcher", "san_handler", "duty_lead", "duty_officer", "principal"):
        assert username in summary
    assert authenticate(session, "liaison", DEMO_PASSWORD) is not None
    assert all(p.department_id for p in people if "handler" in p.roles)

    cases = list(session.execute(select(Case)).scalars())
    assert len(cases) == 24
    assert {c.workflow for c in cases} == {"case_simple", "case_general", "case_complex", "case_difficult"}
    assert len({c.state for c in cases}) >= 4  # driven into various states
    instructions = list(session.execute(select(Instruction)).scalars())
    assert len(instructions) == 10 and len({i.state for i in instructions}) >= 3

    entries = session.execute(
        select(LedgerEntry.item_type, LedgerEntry.item_id, func.count()).group_by(LedgerEntry.item_type, LedgerEntry.item_id)
    ).all()
    per_item = {(t, i): n for t, i, n in entries}
    for c in cases:
        assert per_item[("case", c.id)] >= 1
        # Every transition is in the ledger: moved items have more than the start entry.
        if c.state not in ("reported",):
            assert per_item[("case", c.id)] >= 2, (c.workflow, c.state)
    for ins in instructions:
        assert per_item[("instruction", ins.id)] >= 1
    assert count(session, Deadline) > 0
    assert session.execute(select(func.count()).select_from(Deadline).where(Deadline.status == "pending")).scalar()

    assert {c.in_scope for c in session.execute(select(Category)).scalars()} == {True, False}
    grids = list(session.execute(select(Grid)).scalars())
    assert grids and all(g.leader_id and g.shape["type"] == "Polygon" for g in grids)
    assert {g.area.kind for g in grids} == {"main_urban", "other"}
    kinds = {lp.kind for lp in session.execute(select(LeaderPosition)).scalars()}
    assert kinds == {"deputy_in_charge", "principal"}


def test_second_call_leaves_data_alone(session, catalog) -> None:  # type: ignore[no-untyped-def]
    load_demo(session, catalog, cases=6, instructions=3)
    before = (count(session, Person), count(session, Case), count(session, Instruction), count(session, LedgerEntry))
    message = load_demo(session, catalog, cases=6, instructions=3)
    assert "left alone" in message
    after = (count(session, Person), count(session, Case), count(session, Instruction), count(session, LedgerEntry))
    assert after == before


def test_demo_is_deterministic(app, session, catalog) -> None:  # type: ignore[no-untyped-def]
    load_demo(session, catalog, cases=12, instructions=5, seed=7)
    states = [(c.number[-5:], c.workflow, c.state) for c in session.execute(select(Case).order_by(Case.id)).scalars()]
    from tests.conftest import _empty_tables

    session.close()  # end our transaction: SQLite would lock the emptying out
    _empty_tables(app)
    load_demo(session, catalog, cases=12, instructions=5, seed=7)
    again = [(c.number[-5:], c.workflow, c.state) for c in session.execute(select(Case).order_by(Case.id)).scalars()]
    assert again == states


@pytest.mark.slow
def test_full_demo_loads(session, catalog) -> None:  # type: ignore[no-untyped-def]
    load_demo(session, catalog)
    assert count(session, Case) == 300 and count(session, Instruction) == 80
