"""Twenty people acting on one item at once: exactly one wins each step."""
from __future__ import annotations

import threading

from sqlalchemy import select

from caseflow.errors import Conflict, DomainError
from caseflow.extensions import db
from caseflow.models import Case, LedgerEntry
from caseflow.services import transition

THREADS = 20


def race(app, catalog, case_id, attempts):  # type: ignore[no-untyped-def]
    """Run ``attempts`` (list of (trigger, actor, data)) at once; return outcomes."""
    barrier = threading.Barrier(len(attempts))
    outcomes: list[str] = [""] * len(attempts)

    def worker(i: int, trigger: str, actor, data) -> None:  # type: ignore[no-untyped-def]
        with app.app_context():
            session = db.session()
            barrier.wait()
            try:
                transition.fire(session, catalog, "case", case_id, trigger, actor=actor, data=data)
                outcomes[i] = "won:" + trigger
            except (Conflict, DomainError) as exc:
                outcomes[i] = f"lost:{type(exc).__name__}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, *a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_conflicting_triggers_one_winner_per_step(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = Case(number="C-RACE", channel="hotline", tier="general", title="噪声扰民")
    transition.start(session, catalog, case, workflow="case_general", actor=world.actor("dispatcher"), role="dispatcher")
    session.commit()
    d = world.actor("dispatcher")
    steps = [
        # Register or void at once (neither leads to the other): only one of the twenty may win.
        [("register", d, {}), ("void", d, {"reason": "duplicate"})],
        [("dispatch", d, {"department_id": world.sanitation.id}), ("dispatch", d, {"department_id": world.roads.id})],
    ]
    for options in steps:
        attempts = [options[i % len(options)] for i in range(THREADS)]
        outcomes = race(app, catalog, case.id, attempts)
        winners = [o for o in outcomes if o.startswith("won")]
        assert len(winners) == 1, outcomes
        assert all(o.startswith("lost:") for o in outcomes if not o.startswith("won")), outcomes
        session.expire_all()
        if winners[0] != "won:register":
            break
    entries = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == case.id)
                              .order_by(LedgerEntry.seq)).scalars().all()
    seqs = [e.seq for e in entries]
    assert seqs == list(range(1, len(seqs) + 1))  # no gap, no duplicate
    for prev, cur in zip(entries, entries[1:]):
        assert cur.prev_hash == prev.hash and cur.from_state == prev.to_state
    assert session.get(Case, case.id).state == entries[-1].to_state
