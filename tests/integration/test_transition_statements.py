"""What one transition sends to the database: the item written once, no needless reads.

The replay benchmark (bench/replay_day.py) is bound by the work per transition; these tests
keep the statement shape of common case steps from growing back unnoticed.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from caseflow.errors import NotFound
from caseflow.extensions import db
from caseflow.models import Case, Deadline, LedgerEntry
from caseflow.security.actor import Actor
from caseflow.services.cases import handling, intake, review


@contextmanager
def statements() -> Iterator[list[str]]:
    """The SQL statements run inside the block, first word upper-cased, whitespace collapsed."""
    seen: list[str] = []

    def record(_conn, _cursor, sql, _params, _context, _many):  # type: ignore[no-untyped-def]
        seen.append(" ".join(sql.split()))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


CACHED_SETTINGS = ("time_limit", "category", "department", "calendar_override")


def kind(sql: str) -> str | None:
    """``SELECT "case"``, ``UPDATE deadline``, ``INSERT INTO ledger_entry``...; None for BEGIN and
    for reads of the settings cached per process (they run only on a cache miss)."""
    words = sql.split()
    if words[0] == "SELECT":
        table = sql.split(" FROM ", 1)[1].split()[0]
        return None if table in CACHED_SETTINGS else f"SELECT {table}"
    if words[0] == "UPDATE":
        return f"UPDATE {words[1]}"
    if words[0] == "INSERT":
        return f"INSERT INTO {words[2]}"
    return None


def count(seen: list[str], prefix: str) -> int:
    return sum(1 for sql in seen if sql.startswith(prefix))


@pytest.fixture
def dispatched(session, catalog, world):  # type: ignore[no-untyped-def]
    """A general case dispatched to sanitation (not yet signed); a fresh session state."""
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                            category_code="garbage", external_ref="st-1", lat=31.2305, lon=121.4705)
    review.register(session, catalog, case.id, actor=disp)
    session.expunge_all()  # as a new request would start
    with statements() as seen:
        handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    session.expunge_all()
    return case.id, seen


def test_dispatch_writes_the_case_once(dispatched) -> None:  # type: ignore[no-untyped-def]
    _case_id, seen = dispatched
    # The department check and the state change used to flush the case in an UPDATE of its
    # own before the transition's flush wrote it again.
    assert count(seen, 'UPDATE "case"') == 1, seen
    assert count(seen, "INSERT INTO ledger_entry") == 1
    assert count(seen, "INSERT INTO deadline") == 1  # the sign limit, armed in the same flush


def test_holding_departments_handler_signs_without_reading_the_scope(session, catalog, world,
                                                                     dispatched) -> None:  # type: ignore[no-untyped-def]
    case_id, _ = dispatched
    with statements() as seen:
        handling.sign(session, catalog, case_id, actor=world.actor("san_handler"))
    # Lock; the participants, for the lead part; cancel the sign limit; then the one flush.
    # (BEGIN and the per-process cached settings reads are left out: they depend on the cache.)
    assert [kind(sql) for sql in seen if kind(sql) is not None] == [
        'SELECT "case"', "SELECT case_participant", "UPDATE deadline",
        'UPDATE "case"', "INSERT INTO deadline", "INSERT INTO ledger_entry",
    ], seen
    assert count(seen, "SELECT case_participant.department_id") == 0, seen  # scope: the holder
    session.expire_all()
    case = session.get(Case, case_id)
    assert case.state == "handling"
    assert case.data.get("signed_at")
    # The version counts the row's writes: intake's INSERT and the UPDATE with its ledger head,
    # then one per step (registered, dispatched, signed).
    assert case.version == 5
    statuses = dict(session.execute(select(Deadline.key, Deadline.status).where(Deadline.item_id == case_id)
                                    .where(Deadline.key.in_(("sign", "handle")))).all())
    assert statuses == {"sign": "cancelled", "handle": "pending"}
    last = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id)
                           .order_by(LedgerEntry.seq.desc()).limit(1)).scalar_one()
    assert last.trigger == "sign" and (last.seq, last.hash) == (case.ledger_seq, case.ledger_head)
    # The sign limit was cancelled at the transition's own time (an aware UTC time on both backends).
    sign_row = session.execute(select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case_id,
                                                      Deadline.key == "sign")).scalar_one()
    assert sign_row.cancelled_at == last.at and sign_row.cancelled_at.utcoffset() == timedelta(0)


def test_other_departments_handler_is_still_refused(session, catalog, world, dispatched) -> None:  # type: ignore[no-untyped-def]
    case_id, _ = dispatched
    with statements() as seen, pytest.raises(NotFound):
        handling.sign(session, catalog, case_id, actor=world.actor("road_handler"))
    # Not the holder: the scope is read (participants) and does not include roads.
    assert count(seen, "SELECT case_participant.department_id") == 1, seen
    session.expire_all()
    assert session.get(Case, case_id).state == "dispatched"
