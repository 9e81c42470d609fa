"""``transaction`` (commit, then effects; on any error roll back and drop them) and
``unit_of_work`` built on it (lost races become ``Conflict``, denials are audited)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from caseflow.effects import Effects
from caseflow.errors import Conflict, PermissionDenied
from caseflow.models import AccessDenial, Center
from caseflow.security.actor import Actor
from caseflow.services.access import deny
from caseflow.services.unit_of_work import transaction, unit_of_work


def committed_codes(app) -> set[str]:  # type: ignore[no-untyped-def]
    """Center codes another connection sees: what has really been committed."""
    with app.extensions["caseflow.engine"].connect() as conn:
        return set(conn.execute(select(Center.code)).scalars())


def denials(session) -> list[AccessDenial]:  # type: ignore[no-untyped-def]
    session.rollback()
    return list(session.execute(select(AccessDenial).order_by(AccessDenial.id)).scalars())


def add_center(session, code: str) -> None:  # type: ignore[no-untyped-def]
    session.add(Center(code=code, name=f"center {code}", level="street"))


# --- transaction -------------------------------------------------------------------------------

def test_effects_run_only_after_commit(app, session) -> None:  # type: ignore[no-untyped-def]
    seen: list[set[str]] = []
    with transaction(session) as effects:
        add_center(session, "T1")
        session.flush()
        effects.add("probe", lambda: seen.append(committed_codes(app)))
        assert seen == []  # recorded, not run
        assert "T1" not in committed_codes(app)
    # Ran once, and the row was already committed when it ran.
    assert seen == [{"T1"}]
    assert effects.labels == []  # dispatched


def test_given_effects_are_yielded_and_dispatched(app, session) -> None:  # type: ignore[no-untyped-def]
    mine = Effects()
    ran: list[str] = []
    with transaction(session, mine) as effects:
        assert effects is mine
        add_center(session, "T2")
        effects.add("a", ran.append, "a")
        effects.add("b", ran.append, "b")
    assert ran == ["a", "b"]
    assert "T2" in committed_codes(app)


def test_error_in_block_rolls_back_and_drops_effects(app, session) -> None:  # type: ignore[no-untyped-def]
    ran: list[str] = []
    effects = Effects()
    with pytest.raises(RuntimeError, match="boom"):
        with transaction(session, effects):
            add_center(session, "T3")
            session.flush()
            effects.add("never", ran.append, "never")
            raise RuntimeError("boom")
    assert ran == []
    assert effects.labels == []  # discarded
    assert "T3" not in committed_codes(app)
    assert not session.in_transaction()  # rolled back; the session is usable again
    assert session.execute(select(func.count()).select_from(Center)).scalar_one() == 0


def test_error_in_commit_rolls_back_and_drops_effects(app, session) -> None:  # type: ignore[no-untyped-def]
    add_center(session, "DUP")
    session.commit()
    ran: list[str] = []
    effects = Effects()
    # No race mapping here: the database's error itself propagates.
    with pytest.raises(IntegrityError):
        with transaction(session, effects):
            add_center(session, "T4")
            add_center(session, "DUP")  # unique code: fails at the commit's flush
            effects.add("never", ran.append, "never")
    assert ran == []
    assert effects.labels == []
    assert committed_codes(app) == {"DUP"}


def test_base_exception_also_rolls_back(app, session) -> None:  # type: ignore[no-untyped-def]
    ran: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        with transaction(session) as effects:
            add_center(session, "T5")
            effects.add("never", ran.append, "never")
            raise KeyboardInterrupt
    assert ran == []
    assert "T5" not in committed_codes(app)


def test_return_after_own_rollback_commits_nothing(app, session) -> None:  # type: ignore[no-untyped-def]
    """The shape the converted services keep: an early return after their own rollback."""
    def service() -> str:
        with transaction(session):
            add_center(session, "T6")
            session.flush()
            session.rollback()
            return "nothing to do"
        return "unreachable"  # pragma: no cover

    assert service() == "nothing to do"
    assert "T6" not in committed_codes(app)
    assert not session.in_transaction()


# --- unit_of_work on top of it -------------------------------------------------------------------

def test_unit_of_work_commits_then_dispatches(app, session) -> None:  # type: ignore[no-untyped-def]
    seen: list[set[str]] = []
    with unit_of_work(session) as effects:
        add_center(session, "U1")
        effects.add("probe", lambda: seen.append(committed_codes(app)))
    assert seen == [{"U1"}]


def test_unit_of_work_maps_integrity_error_to_conflict(app, session) -> None:  # type: ignore[no-untyped-def]
    add_center(session, "DUP")
    session.commit()
    ran: list[str] = []
    with pytest.raises(Conflict, match="the center was changed by someone else") as info:
        with unit_of_work(session, what="center") as effects:
            add_center(session, "U2")
            add_center(session, "DUP")
            effects.add("never", ran.append, "never")
    assert isinstance(info.value.__cause__, IntegrityError)
    assert ran == []
    assert committed_codes(app) == {"DUP"}
    assert denials(session) == []


def test_unit_of_work_uses_the_given_conflict(app, session) -> None:  # type: ignore[no-untyped-def]
    add_center(session, "DUP")
    session.commit()
    with pytest.raises(Conflict, match="code taken") as info:
        with unit_of_work(session, conflict=lambda: Conflict("code taken", details={"code": "DUP"})):
            add_center(session, "DUP")
    assert info.value.details == {"code": "DUP"}
    assert isinstance(info.value.__cause__, IntegrityError)


def test_unit_of_work_lock_conflict_becomes_conflict(app, session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict) as info:
        with unit_of_work(session):
            add_center(session, "U3")
            raise OperationalError("UPDATE ...", {}, Exception("database is locked"))
    assert isinstance(info.value.__cause__, OperationalError)
    assert "U3" not in committed_codes(app)


def test_unit_of_work_other_operational_error_propagates_unaudited(app, session) -> None:  # type: ignore[no-untyped-def]
    err = OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
    # Even an audit mark is not recorded on this path (as before transaction existed).
    err.audit = {"person_id": None, "client": "test", "action": "probe", "target": "x",  # type: ignore[attr-defined]
                 "reason": "should not be kept"}
    ran: list[str] = []
    with pytest.raises(OperationalError) as info:
        with unit_of_work(session) as effects:
            add_center(session, "U4")
            effects.add("never", ran.append, "never")
            raise err
    assert info.value is err
    assert ran == []
    assert "U4" not in committed_codes(app)
    assert denials(session) == []


def test_unit_of_work_audits_a_permission_denied(app, session) -> None:  # type: ignore[no-untyped-def]
    actor = Actor.system("tester")
    ran: list[str] = []
    with pytest.raises(PermissionDenied, match="not for you"):
        with unit_of_work(session) as effects:
            add_center(session, "U5")
            effects.add("never", ran.append, "never")
            raise deny(actor, "probe", "center U5", "not for you")
    assert ran == []
    assert "U5" not in committed_codes(app)  # the block's work rolled back...
    [row] = denials(session)  # ...and the denial kept in its own commit
    assert (row.client, row.action, row.target, row.reason) == ("tester", "probe", "center U5", "not for you")


def test_unit_of_work_plain_error_propagates_unaudited(app, session) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        with unit_of_work(session):
            add_center(session, "U6")
            raise ValueError("bad")
    assert "U6" not in committed_codes(app)
    assert denials(session) == []
