"""The per-case facts behind the period reports: a cache that never changes a number.

The hand-built month of ``test_indicators`` (analysis_support) is reported with the facts,
without them (every case read from its ledger), and after a case's ledger moved past its
fact row; the answers must be the same, and a refresh must write only what moved.
"""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, select

from caseflow.analysis import case_facts
from caseflow.analysis import indicators as ind
from caseflow.analysis.periods import parse_period
from caseflow.models.analysis import CaseFact

from .analysis_support import Builder, build_month, local

MARCH = parse_period("month", "2025-03")


@pytest.fixture
def month(session, world):  # type: ignore[no-untyped-def]
    return build_month(session, world)


def _cases(session: Any, **kw: Any) -> dict[str, Any]:
    return ind.indicators(session, MARCH, with_trend=False, **kw)["cases"]


def _no_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(case_facts, "refresh", lambda *a, **k: 0)


def test_refresh_writes_the_cohort_once(session, world, month) -> None:
    assert case_facts.refresh(session, MARCH) == 6  # C1-C5 and C7; C6 was reported in February
    assert case_facts.refresh(session, MARCH) == 0  # nothing moved
    row = session.get(CaseFact, month["c2"].id)
    assert (row.ledger_seq, row.checks, row.reworks, row.callbacks, row.grade_sum) == (12, 2, 1, 1, 2)
    assert row.closed_at == local("2025-03-10 17:00") and row.last_result_at == local("2025-03-10 16:00")
    assert row.last_at == local("2025-03-10 18:00")  # the callback after the close
    assert session.get(CaseFact, month["c4"].id).voids == 1


def test_facts_and_ledger_give_the_same_report(session, world, month, monkeypatch) -> None:
    with_facts = _cases(session)
    assert session.scalar(select(func.count()).select_from(CaseFact)) == 6
    _no_refresh(monkeypatch)
    session.execute(delete(CaseFact))
    session.commit()
    from_ledger = _cases(session)
    assert from_ledger == with_facts
    assert from_ledger["total"]["closed"] == 3 and from_ledger["total"]["reworked"] == 1


def test_a_moved_ledger_is_read_from_the_ledger(session, world, month, monkeypatch) -> None:
    before = _cases(session)["total"]
    assert before["closed"] == 3
    # C3 is closed after the facts were folded; nobody refreshes them.
    _no_refresh(monkeypatch)
    b = Builder(session, world)
    c3 = month["c3"]
    b._seq[("case", c3.id)] = c3.ledger_seq
    b.steps(c3, ("report_result", "2025-03-12 10:00"), ("check_pass", "2025-03-12 11:00"))
    session.commit()
    assert session.get(CaseFact, c3.id).ledger_seq != c3.ledger_seq
    after = _cases(session)["total"]
    assert (after["closed"], after["checked"]) == (4, 4)
    assert after["stages"]["total"]["n"] == 4
    monkeypatch.undo()
    assert case_facts.refresh(session, MARCH) == 1
    assert _cases(session)["total"] == after


def test_an_earlier_as_of_ignores_later_entries(session, world, month) -> None:
    case_facts.refresh(session, MARCH)
    early = _cases(session, as_of=local("2025-03-10 12:30"))["total"]
    # C1 closed at 13:00 and C2's callbacks came later: the facts hold them, the report must not.
    assert (early["reported"], early["closed"], early["callbacks"]) == (5, 1, 0)


@pytest.mark.postgres_only
def test_the_other_report_parts_run_on_a_second_connection(session, world, month, monkeypatch) -> None:
    import threading

    from caseflow.analysis import reports

    seen: list[tuple[str, Any]] = []
    other_parts = reports._other_parts

    def recording(s: Any, period: Any, as_of: Any) -> dict[str, Any]:
        seen.append((threading.current_thread().name, s))
        return other_parts(s, period, as_of)

    monkeypatch.setattr(reports, "_other_parts", recording)
    data = reports.build_report(session, MARCH)
    assert len(seen) == 1 and seen[0][0].startswith("report") and seen[0][1] is not session
    # The same numbers as the hand-built month's (test_indicators, test_reports).
    assert data["instructions"]["total"]["received"] == 5 and data["cases"]["total"]["closed"] == 3
    assert data["previous"]["reported"] == 1 and len(data["assessment"]["ranking"]) >= 2
    # The case indicators read every case from its ledger (nothing folded yet); the other
    # connection folded them afterwards, for the next report.
    assert session.scalar(select(func.count()).select_from(CaseFact)) == 6
    assert reports.build_report(session, MARCH)["cases"] == data["cases"]
