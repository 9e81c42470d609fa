"""Real lock races on one return request (issue #6), on PostgreSQL only.

Two threads, each with its own app context, session and connection, start together at a
barrier and decide the same request: a dispatcher approving while the handler withdraws, and
two dispatchers approving at once. The first thread to lock the case holds its row lock until
the other is seen *waiting* for a lock in ``pg_stat_activity``, so every run really contends
for the same rows (not one thread finishing before the other starts). Exactly one wins; the
other gets a domain error (``InvalidTransition`` or ``Conflict``); the ledgers have no gap and
no duplicate seq; the case is re-dispatched at most once.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, DomainError, InvalidTransition
from caseflow.extensions import db
from caseflow.models import Case, Deadline, LedgerEntry, ReturnRequest
from caseflow.services import returns as svc

from .test_returns import ask, dispatched_case

pytestmark = pytest.mark.postgres_only

WAIT_S = 15.0


def _waiting_for_lock(engine: Any) -> int:
    """Backends of this database blocked on a row lock by a ``SELECT ... FOR UPDATE``."""
    with engine.connect() as conn:
        return int(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock' AND query ILIKE '%FOR UPDATE%'")).scalar() or 0)


def _hold_first_lock(monkeypatch: pytest.MonkeyPatch, engine: Any) -> list[bool]:
    """Make the first thread that locks the case and request keep its locks until another
    backend is blocked on them (or ``WAIT_S`` passes). Returns a list that gets True once a
    blocked rival was seen."""
    original = svc._lock_pair
    guard = threading.Lock()
    holders: list[int] = []
    seen: list[bool] = []

    def held(session: Session, request_id: int) -> tuple[ReturnRequest, Case]:
        pair = original(session, request_id)
        with guard:
            first = not holders
            holders.append(threading.get_ident())
        if first:
            deadline = time.monotonic() + WAIT_S
            while time.monotonic() < deadline:
                if _waiting_for_lock(engine):
                    seen.append(True)
                    break
                time.sleep(0.02)
        return pair

    monkeypatch.setattr(svc, "_lock_pair", held)
    return seen


def _race(app: Any, attempts: list[tuple[str, Callable[[Session], Any]]]) -> list[str]:
    """Run each ``(name, call)`` in its own thread, all released by one barrier; the outcomes."""
    barrier = threading.Barrier(len(attempts))
    outcomes = [""] * len(attempts)

    def worker(i: int, name: str, call: Callable[[Session], Any]) -> None:
        with app.app_context():
            session = db.session()
            try:
                barrier.wait(WAIT_S)
                call(session)
                outcomes[i] = "won:" + name
            except (InvalidTransition, Conflict) as exc:
                outcomes[i] = f"lost:{name}:{type(exc).__name__}"
            except DomainError as exc:  # any other refusal is a failure of the test, shown by name
                outcomes[i] = f"refused:{name}:{type(exc).__name__}:{exc.message}"
            except BaseException as exc:  # noqa: BLE001 - reported through the outcomes
                outcomes[i] = f"crashed:{name}:{exc!r}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, *a)) for i, a in enumerate(attempts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), outcomes
    return outcomes


def _chain(session: Session, item_type: str, item_id: int) -> list[LedgerEntry]:
    """The item's ledger, checked: seqs 1..n with no gap or duplicate, each entry linked to the last."""
    entries = list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == item_type, LedgerEntry.item_id == item_id).order_by(LedgerEntry.seq, LedgerEntry.id)
    ).scalars())
    seqs = [e.seq for e in entries]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    for prev, cur in zip(entries, entries[1:]):
        assert cur.prev_hash == prev.hash and cur.from_state == prev.to_state, (prev.trigger, cur.trigger)
    return entries


def _waiting_request(session: Session, catalog: Any, world: Any) -> tuple[int, int]:
    case = dispatched_case(session, catalog, world)
    rr = ask(session, catalog, world, case, suggested_department_id=world.roads.id)
    assert rr.state == "requested"
    return rr.id, case.id


def _pending_signs(session: Session, case_id: int) -> list[Deadline]:
    return list(session.execute(select(Deadline).where(
        Deadline.item_type == "case", Deadline.item_id == case_id, Deadline.key == "sign",
        Deadline.status == "pending")).scalars())


def test_approve_racing_the_handlers_withdrawal_one_wins(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rr_id, case_id = _waiting_request(session, catalog, world)
    session.commit()
    seen = _hold_first_lock(monkeypatch, app.extensions["caseflow.engine"])
    d, san = world.actor("dispatcher"), world.actor("san_handler")
    outcomes = _race(app, [
        ("approve", lambda s: svc.approve(s, catalog, rr_id, d)),
        ("withdraw", lambda s: svc.withdraw(s, catalog, rr_id, san)),
    ])
    assert seen == [True], f"the second thread never waited for the first one's lock: {outcomes}"
    winners = [o for o in outcomes if o.startswith("won:")]
    assert len(winners) == 1, outcomes
    loser = next(o for o in outcomes if not o.startswith("won:"))
    assert loser.startswith("lost:") and loser.endswith(":InvalidTransition"), outcomes

    session.expire_all()
    rr, case = session.get(ReturnRequest, rr_id), session.get(Case, case_id)
    case_triggers = [e.trigger for e in _chain(session, "case", case_id)]
    request_triggers = [e.trigger for e in _chain(session, "return_request", rr_id)]
    if winners == ["won:approve"]:
        assert rr.state == "approved" and rr.to_department_id == world.roads.id
        assert case.department_id == world.roads.id and case.state == "dispatched"
        assert case_triggers.count("return_approved") == 1 and "return_withdrawn" not in case_triggers
        assert request_triggers.count("withdraw") == 0
    else:
        assert rr.state == "withdrawn" and rr.to_department_id is None
        assert case.department_id == world.sanitation.id
        assert "return_approved" not in case_triggers and case_triggers.count("return_withdrawn") == 1
        assert request_triggers.count("approve_return") == 0
    # Either way exactly one sign limit runs: the new department's, or the resumed one.
    assert len(_pending_signs(session, case_id)) == 1


def test_two_dispatchers_approving_at_once_one_wins(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    rr_id, case_id = _waiting_request(session, catalog, world)
    session.commit()
    seen = _hold_first_lock(monkeypatch, app.extensions["caseflow.engine"])
    d = world.actor("dispatcher")
    outcomes = _race(app, [
        ("approve", lambda s: svc.approve(s, catalog, rr_id, d, department_id=world.roads.id)),
        ("approve", lambda s: svc.approve(s, catalog, rr_id, d, department_id=world.roads.id)),
    ])
    assert seen == [True], f"the second thread never waited for the first one's lock: {outcomes}"
    assert sorted(o.split(":")[0] for o in outcomes) == ["lost", "won"], outcomes
    assert next(o for o in outcomes if o.startswith("lost:")).endswith((":InvalidTransition", ":Conflict")), outcomes

    session.expire_all()
    rr, case = session.get(ReturnRequest, rr_id), session.get(Case, case_id)
    assert rr.state == "approved" and case.department_id == world.roads.id and case.state == "dispatched"
    case_chain = _chain(session, "case", case_id)
    assert [e.trigger for e in case_chain].count("return_approved") == 1  # dispatched exactly once
    assert [e.trigger for e in _chain(session, "return_request", rr_id)].count("approve_return") == 1
    assert len(case.data["returned_by"]) == 1
    assert len(_pending_signs(session, case_id)) == 1
