"""On-time indicators and returns (退单): the rule of caseflow.services.returns, in the SQL aggregates.

Worked by hand on ``build_returns`` (May 2025, local times):

* R1: roads' limit (due 10:30) fell before its approved return (11:00) -> on time for sanitation.
* R2: returned to sanitation at 10:50, sanitation's limit fired at 13:00 -> late for sanitation.
* R3: roads' own case, late, its return rejected -> late for roads.
* R4: roads -> sanitation -> roads again (approved 13:30); both limits fell before 13:30 -> on time
  for roads.
* R5: roads' limit (09:50) fell before its request escalated the case (10:00, the return limit);
  sanitation led the joint handling in time -> on time for sanitation.

So: closed 5, closed on time 3 (R1, R4, R5); sanitation 3 closed / 2 on time (R1, R5), roads 2 / 1
(R4). Counting by the holder without the rule would give 0 on time (every case has a fired limit).
Assessment: late replies sanitation 1 (R2), roads 1 (R3); closed on time sanitation 2, roads 1.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from caseflow.analysis import assessment, case_facts
from caseflow.analysis import indicators as ind
from caseflow.analysis.periods import parse_period, period_at
from caseflow.deadlines.firing import fire_deadline
from caseflow.errors import NotFound
from caseflow.models import Case, Deadline, utcnow
from caseflow.services import returns as svc
from caseflow.services.cases import closing, handling, intake, review

from .analysis_support import build_returns, local

MAY = ("month", "2025-05")


@pytest.fixture
def may(session, world):  # type: ignore[no-untyped-def]
    return build_returns(session, world)


def _dept(result, dept_id):  # type: ignore[no-untyped-def]
    return {r["key"]: r for r in result["by"]["department"]}[str(dept_id)]


def test_on_time_closure_follows_the_return_rules(session, world, may) -> None:
    cases = ind.indicators(session, parse_period(*MAY))["cases"]
    t = cases["total"]
    assert (t["reported"], t["closed"], t["closed_on_time"], t["on_time_closure_rate"]) == (5, 5, 3, 0.6)
    assert (t["return_requests"], t["returns_approved"], t["returns_rejected"]) == (6, 4, 1)
    san, roads = _dept(cases, world.sanitation.id), _dept(cases, world.roads.id)
    # R1 and R5 (roads' lateness before the return / escalation) count on time for sanitation;
    # R2 is sanitation's own lateness.
    assert (san["reported"], san["closed"], san["closed_on_time"], san["on_time_closure_rate"]) == (3, 3, 2, 0.6667)
    # R4 is roads' again and on time since the last return; R3 (rejected return) stays late.
    assert (roads["reported"], roads["closed"], roads["closed_on_time"]) == (2, 2, 1)
    # One department only: the filter sees the same.
    only_san = ind.indicators(session, parse_period(*MAY), filters=ind.Filters(department_id=world.sanitation.id),
                              with_trend=False)["cases"]["total"]
    assert (only_san["closed"], only_san["closed_on_time"]) == (3, 2)


def test_assessment_charges_the_right_department(session, world, may) -> None:
    counts = assessment.event_counts(session, parse_period(*MAY))
    san, roads = world.sanitation.id, world.roads.id
    # Not roads for R1/R4's first spell (returns approved); not sanitation for R1 or R4's second spell.
    assert counts["late_reply"] == {san: 1, roads: 1}
    assert counts["closed_on_time"] == {san: 2, roads: 1}
    assert counts["rejected_return"] == {roads: 1}


def test_python_helpers_agree_with_the_sql(session, world, may) -> None:
    """The helpers run the same clauses: per case, the timeline's ``closed_on_time`` is exactly
    "closed and no fired handling limit counts late", and ``limit_counts_late`` is exactly
    "due after the clock restarted"."""
    r1, r2, r3, r4, r5 = (may[k] for k in ("r1", "r2", "r3", "r4", "r5"))
    everything = (r1, r2, r3, r4, r5)
    san, roads = world.sanitation.id, world.roads.id
    assert svc.returned_pairs(session, [c.id for c in everything]) == {(r1.id, roads), (r2.id, roads), (r4.id, san),
                                                                      (r5.id, roads)}
    for c in everything:
        for d in (san, roads):
            assert svc.counts_against_on_time(session, c.id, d) == ((c.id, d) not in svc.returned_pairs(session)), \
                (c.number, d)
    clocks = {c.number: svc.on_time_clock_from(session, c.id) for c in everything}
    assert clocks == {r1.number: local("2025-05-06 11:00"), r2.number: local("2025-05-06 10:50"), r3.number: None,
                      r4.number: local("2025-05-07 13:30"), r5.number: local("2025-05-08 10:00")}

    ctx = ind.make_context(session, parse_period(*MAY))
    t = ind.case_timeline(ctx)
    sql_on_time = {cid: bool(v) for cid, v in session.execute(select(t.c.case_id, t.c.closed_on_time))}
    counted = {}
    for c in everything:
        fired = session.execute(select(Deadline.due_at).where(
            Deadline.item_type == "case", Deadline.item_id == c.id, Deadline.status == "fired",
            Deadline.key.in_(case_facts.HANDLING_DEADLINES))).scalars().all()
        late = [svc.limit_counts_late(session, c.id, due) for due in fired]
        clock = clocks[c.number]
        assert late == [clock is None or due > clock for due in fired], c.number
        counted[c.number] = any(late)
        assert sql_on_time[c.id] == (not any(late)), c.number
    assert counted == {r1.number: False, r2.number: True, r3.number: True, r4.number: False, r5.number: False}


def test_as_of_before_the_approval(session, world, may) -> None:
    r1 = may["r1"]
    before = local("2025-05-06 10:45")  # roads had asked, the dispatcher had not decided yet
    assert svc.on_time_clock_from(session, r1.id, as_of=before) is None
    assert svc.limit_counts_late(session, r1.id, local("2025-05-06 10:30"), as_of=before)
    assert not svc.limit_counts_late(session, r1.id, local("2025-05-06 10:30"))
    with pytest.raises(NotFound):
        svc.limit_counts_late(session, 999999, local("2025-05-06 10:30"))
    with pytest.raises(NotFound):
        svc.on_time_clock_from(session, 999999)


def test_through_the_services(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    """The real flow: sanitation's sign limit fires, its return is approved to roads, roads closes
    the case in time -> on time for roads, and nobody's late reply."""
    d = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=d, title="道路破损",
                            category_code="garbage", address="和平路 3 号", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=d)
    handling.dispatch(session, catalog, case.id, actor=d, department_id=world.sanitation.id)
    sign = session.execute(select(Deadline).where(Deadline.item_type == "case", Deadline.item_id == case.id,
                                                  Deadline.key == "sign")).scalar_one()
    session.execute(update(Deadline).where(Deadline.id == sign.id).values(due_at=utcnow() - timedelta(minutes=1)))
    session.commit()
    assert fire_deadline(session, catalog, sign.id).result == "fired"
    rr = svc.request_return(session, catalog, case.id, world.actor("san_handler"), "属道路养护职责", "职责清单",
                            suggested_department_id=world.roads.id)
    svc.approve(session, catalog, rr.id, d)
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    handling.report_result(session, catalog, case.id, actor=world.actor("road_handler"), result="已修复")
    closing.check_pass(session, catalog, case.id, actor=d)
    session.expire_all()
    assert session.get(Case, case.id).department_id == world.roads.id
    assert session.get(Deadline, sign.id).status == "fired"
    assert not svc.limit_counts_late(session, case.id, session.get(Deadline, sign.id).due_at)

    period = period_at("month", utcnow())
    cases = ind.indicators(session, period, with_trend=False)["cases"]
    roads = _dept(cases, world.roads.id)
    assert (roads["closed"], roads["closed_on_time"]) == (1, 1)
    assert str(world.sanitation.id) not in {r["key"] for r in cases["by"]["department"]}
    counts = assessment.event_counts(session, period)
    assert counts["late_reply"] == {} and counts["closed_on_time"] == {world.roads.id: 1}
