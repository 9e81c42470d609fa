"""Case numbers come from a counter row per day: consecutive, seeded from existing numbers, and
race-free under concurrent intake (PostgreSQL: 8 threads posting at once all succeed)."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow.models import Case, CaseNumberCounter, utcnow
from caseflow.security.tokens import issue_token
from caseflow.services import transition
from caseflow.services.cases import intake


def _report(session, catalog, world, title: str = "垃圾满溢", **kw):  # type: ignore[no-untyped-def]
    case, created = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"),
                                  title=title, category_code="garbage", **kw)
    assert created
    return case


def _old_style_case(session, catalog, world, number: str) -> Case:  # type: ignore[no-untyped-def]
    """A case numbered without the counter (before the upgrade, or by a process on the old code)."""
    case = Case(number=number, channel="hotline", tier="general", title="旧编号", reported_at=utcnow())
    transition.start(session, catalog, case, workflow="case_general", actor=world.actor("dispatcher"),
                     role="dispatcher")
    return case


def test_numbers_of_a_day_are_consecutive(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    cases = [_report(session, catalog, world, title=f"第{i}件") for i in range(1, 4)]
    prefix = intake._prefix(cases[0].reported_at)
    assert prefix.startswith("C") and len(prefix) == 9
    assert [c.number for c in cases] == [f"{prefix}{i:05d}" for i in (1, 2, 3)]
    counter = session.get(CaseNumberCounter, prefix)
    assert counter is not None and counter.last_seq == 3


def test_first_number_of_a_day_continues_after_existing_cases(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    prefix = intake._prefix(utcnow())
    _old_style_case(session, catalog, world, f"{prefix}00041")
    assert session.get(CaseNumberCounter, prefix) is None  # as on a database just upgraded
    case = _report(session, catalog, world)
    assert case.number == f"{prefix}00042"
    assert _report(session, catalog, world).number == f"{prefix}00043"


def test_counter_behind_a_number_made_without_it_catches_up(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    prefix = intake._prefix(utcnow())
    session.add(CaseNumberCounter(prefix=prefix, last_seq=6))
    session.commit()
    _old_style_case(session, catalog, world, f"{prefix}00007")
    # The counter draws 7, the unique number refuses it, the retry lifts the counter past 7.
    assert _report(session, catalog, world).number == f"{prefix}00008"
    session.expire_all()
    assert session.get(CaseNumberCounter, prefix).last_seq == 8


def test_each_day_has_its_own_counter(session, world) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    today, tomorrow = intake.next_number(session, now), intake.next_number(session, now + timedelta(days=1))
    session.rollback()  # a rolled-back intake gives its numbers back
    assert today.endswith("00001") and tomorrow.endswith("00001") and today[:9] != tomorrow[:9]
    assert session.execute(select(CaseNumberCounter)).first() is None
    assert intake.next_number(session, now) == today


THREADS = 8
PER_THREAD = 3


def _race(app, token: str, bodies: list[list[dict]]) -> list[list[tuple[int, dict]]]:  # type: ignore[no-untyped-def]
    """Each thread posts its bodies to /api/cases; all threads start at once."""
    barrier = threading.Barrier(len(bodies))
    results: list[list[tuple[int, dict]]] = [[] for _ in bodies]

    def worker(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        for body in bodies[i]:
            r = client.post("/api/cases", json=body, headers={"Authorization": f"Bearer {token}"})
            results[i].append((r.status_code, r.get_json(silent=True) or {}))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    return results


@pytest.mark.postgres_only
def test_concurrent_intakes_all_succeed_with_consecutive_numbers(app, session, world) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(session, "12345", client_kind="hotline")
    body = {"title": "噪声扰民", "category": "garbage", "address": "和平路 1 号", "grid": "G01"}
    results = _race(app, token, [[{**body, "external_ref": f"t{i}-{j}"} for j in range(PER_THREAD)]
                                 for i in range(THREADS)])
    flat = [r for rs in results for r in rs]
    assert [status for status, _ in flat] == [201] * THREADS * PER_THREAD, flat
    numbers = sorted(b["number"] for _, b in flat)
    prefix = numbers[0][:9]
    assert numbers == [f"{prefix}{i:05d}" for i in range(1, THREADS * PER_THREAD + 1)]

    # The same outside reference from every thread at once: one case; the losers' numbers are
    # given back with their rollback, so the day's numbering stays gapless.
    results = _race(app, token, [[{**body, "external_ref": "same-ticket"}] for _ in range(THREADS)])
    flat = [r for rs in results for r in rs]
    assert sorted(status for status, _ in flat) == [200] * (THREADS - 1) + [201], flat
    assert {b["id"] for _, b in flat} == {flat[0][1]["id"]}
    assert flat[0][1]["number"] == f"{prefix}{THREADS * PER_THREAD + 1:05d}"
    assert session.execute(select(Case.number).order_by(Case.number.desc())).scalars().first() == flat[0][1]["number"]
