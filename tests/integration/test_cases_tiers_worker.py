"""One case per tier from intake to archive with a real RQ worker running (``caseflow worker``,
a subprocess with the scheduler, on the test Redis and database).

Each tier's time-limit table gets a 3-second wall-clock limit for one stage, so that deadline
is armed by the transition, scheduled in Redis, moved by the worker's scheduler, fired by the
worker, and its escalation round tells the right person: the test waits for the
``deadline:<stage>`` and ``escalate:<chain>`` ledger entries and the outbox rows. Then the case
goes on: a supervision, an extension, a failed check and rework, a pass, the archive.
"""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from caseflow.models import (
    Case,
    Category,
    Deadline,
    EscalationNotice,
    EscalationRun,
    LedgerEntry,
    Notification,
    Supervision,
)
from caseflow.security.actor import Actor
from caseflow.services import attachments
from caseflow.services.cases import closing, extension, handling, intake, review, supervision, time_limits
from tests.factories import make_person
from tests.integration.test_cases_lifecycle import PNG

pytestmark = pytest.mark.slow

SHORT = "3s"  # the stage limit the worker must fire
WAIT_S = 25.0


@pytest.fixture
def worker(app, world, tmp_path) -> Iterator[subprocess.Popen[bytes]]:  # type: ignore[no-untyped-def]
    """``caseflow worker`` on the deadlines queue (with the scheduler, without the sweeper: the
    deadline must come through the scheduled job), stopped with SIGTERM after the test.

    Its output goes to ``worker.log`` (``proc.log``), shown when a wait fails.
    """
    cfg = app.config
    env = {**os.environ, "CASEFLOW_DATABASE_URL": cfg["DATABASE_URL"], "CASEFLOW_REDIS_URL": cfg["REDIS_URL"],
           "CASEFLOW_DEADLINE_QUEUE": cfg["DEADLINE_QUEUE"], "CASEFLOW_DEFAULT_QUEUE": cfg["DEFAULT_QUEUE"],
           "CASEFLOW_NOTIFY_QUEUE": cfg["NOTIFY_QUEUE"]}
    exe = os.path.join(os.path.dirname(sys.executable), "caseflow")
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([exe, "worker", "--queues", "deadlines", "--no-sweeper"], env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    proc.log = log_path  # type: ignore[attr-defined]
    try:
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)  # warm shutdown: the scheduler lock is released
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(session, what: str, check: Callable[[], Any], proc: subprocess.Popen[bytes]) -> Any:  # type: ignore[no-untyped-def]
    """Poll ``check`` (on fresh reads) until it returns something truthy; fail with the worker's log."""
    end = time.monotonic() + WAIT_S
    while time.monotonic() < end:
        session.rollback()  # end our read: see what the worker committed
        found = check()
        if found:
            return found
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    out = proc.log.read_text(errors="replace")  # type: ignore[attr-defined]
    pytest.fail(f"{what} did not happen within {WAIT_S:.0f} s (worker exit code {proc.poll()}); "
                f"worker log:\n{out[-3000:]}")


def short_limit(session, tier: str, stage: str) -> None:  # type: ignore[no-untyped-def]
    time_limits.set_limit(session, tier=tier, stage=stage, duration=SHORT, clock="wall")
    session.commit()


def fired_through_worker(session, case_id: int, stage: str, chain: str, proc, person_id: int) -> Deadline:  # type: ignore[no-untyped-def]
    """Wait for the stage's deadline to fire and its chain's first round to tell ``person_id``."""
    row = session.execute(select(Deadline).where(
        Deadline.item_type == "case", Deadline.item_id == case_id, Deadline.key == stage,
        Deadline.status == "pending")).scalar_one()
    assert row.clock == "wall" and (row.due_at - row.armed_at).total_seconds() == 3
    row_id = row.id
    wait_for(session, f"the {stage} deadline firing", lambda: session.execute(select(Deadline.status).where(
        Deadline.id == row_id)).scalar_one() == "fired", proc)
    run = session.execute(select(EscalationRun).where(EscalationRun.deadline_id == row_id)).scalar_one()
    assert run.chain == chain
    notices = wait_for(session, f"the {chain} round", lambda: session.execute(
        select(EscalationNotice.person_id).where(EscalationNotice.run_id == run.id)).scalars().all(), proc)
    assert person_id in notices
    outbox = session.execute(select(Notification).where(
        Notification.person_id == person_id, Notification.item_type == "case",
        Notification.item_id == case_id)).scalars().all()
    assert any(n.payload.get("kind") == "escalation" and n.payload.get("run_id") == run.id for n in outbox)
    triggers = [e.trigger for e in session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id).order_by(LedgerEntry.seq)).scalars()]
    assert f"deadline:{stage}" in triggers and f"escalate:{chain}" in triggers
    return session.get(Deadline, row_id)


def category(session, world, code: str, tier: str, dept) -> Category:  # type: ignore[no-untyped-def]
    cat = Category(code=code, name=code, field="city", responsible_department=dept, default_tier=tier)
    session.add(cat)
    session.commit()
    return cat


def photo(session, case_id: int, actor: Actor) -> str:  # type: ignore[no-untyped-def]
    row = attachments.store(session, item_type="case", item_id=case_id, actor=actor, filename="现场.png",
                            stream=io.BytesIO(PNG))
    return f"attachment:{row.id}"


def extend(session, catalog, world, case_id: int, handler: str) -> None:  # type: ignore[no-untyped-def]
    extension.request_extension(session, catalog, case_id, actor=world.actor(handler), duration="4h", reason="需协调")
    case = extension.approve_extension(session, catalog, case_id, actor=world.actor("dispatcher"), reason="同意",
                                       duration="2h")
    assert case.data["requests"][-1]["granted"] == "2h"


def rework_close_archive(session, catalog, world, case_id: int, report: Callable[[], Any]) -> Case:  # type: ignore[no-untyped-def]
    report()
    case = closing.check_fail(session, catalog, case_id, actor=world.actor("dispatcher"), reason="仍有残留")
    assert case.data["rework_count"] == 1
    report()
    case = closing.check_pass(session, catalog, case_id, actor=world.actor("dispatcher"), opinion="核查通过")
    assert case.state == "closed"
    case = closing.archive(session, catalog, case_id, actor=world.actor("dispatcher"))
    assert case.state == "archived" and case.read_only
    assert session.execute(select(Supervision).where(Supervision.case_id == case_id)).first() is not None
    return case


def test_simple_tier_with_a_worker(session, catalog, world, worker) -> None:  # type: ignore[no-untyped-def]
    category(session, world, "fly_posting", "simple", world.sanitation)
    short_limit(session, "simple", "handle")
    patrol = world.actor("san_handler")
    case, _ = intake.report(session, catalog, channel="patrol", actor=patrol, title="小广告",
                            category_code="fly_posting", grid_id=world.grid_main.id)
    # handle is overdue: the street center's dispatcher is told (case_simple's overdue chain).
    fired_through_worker(session, case.id, "handle", "overdue", worker, world.people["dispatcher"].id)
    supervision.supervise(session, catalog, case.id, actor=world.actor("deputy"), method="on_site",
                          requirement="立即清除")
    extend(session, catalog, world, case.id, "san_handler")
    rework_close_archive(session, catalog, world, case.id, lambda: handling.report_result(
        session, catalog, case.id, actor=patrol, result="已清除", evidence_refs=[photo(session, case.id, patrol)]))


def test_general_tier_with_a_worker(session, catalog, world, worker) -> None:  # type: ignore[no-untyped-def]
    short_limit(session, "general", "sign")
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="垃圾",
                            category_code="garbage", external_ref="12345-w1", grid_id=world.grid_main.id)
    review.verify_report(session, catalog, case.id, actor=disp, question="请补充门牌号")
    review.register(session, catalog, case.id, actor=disp, address="和平路 12 号")
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    # Not signed in time: the unit head hears of it (overdue_handling, first step).
    fired_through_worker(session, case.id, "sign", "overdue_handling", worker, world.people["san_head"].id)
    handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    supervision.supervise(session, catalog, case.id, actor=disp, method="phone", requirement="今日内反馈")
    extend(session, catalog, world, case.id, "san_handler")
    rework_close_archive(session, catalog, world, case.id, lambda: handling.report_result(
        session, catalog, case.id, actor=world.actor("san_handler"), result="已清理"))


def test_complex_tier_with_a_worker(session, catalog, world, worker) -> None:  # type: ignore[no-untyped-def]
    category(session, world, "illegal_building", "complex", world.roads)
    short_limit(session, "complex", "sign")
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="app", actor=Actor.client_of("app"), title="违建",
                            category_code="illegal_building", external_ref="app-w1", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id,
                      cooperating_department_ids=[world.sanitation.id])
    fired_through_worker(session, case.id, "sign", "overdue_handling", worker, world.people["road_head"].id)
    handling.sign_part(session, catalog, case.id, actor=world.actor("san_handler"))
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    supervision.supervise(session, catalog, case.id, actor=world.actor("deputy"), method="written",
                          requirement="三日内拆除")
    handling.report_part(session, catalog, case.id, actor=world.actor("san_handler"), result="已清运")
    extend(session, catalog, world, case.id, "road_handler")
    rework_close_archive(session, catalog, world, case.id, lambda: handling.report_result(
        session, catalog, case.id, actor=world.actor("road_handler"), result="已拆除"))
    parts = {p.department_id: p.state for p in handling.participants(session, case.id)}
    assert parts == {world.roads.id: "reported", world.sanitation.id: "reported"}


def test_difficult_tier_with_a_worker(session, catalog, world, worker) -> None:  # type: ignore[no-untyped-def]
    category(session, world, "river", "difficult", world.roads)
    short_limit(session, "difficult", "handle")
    d_disp = make_person(session, "d_dispatcher", ["dispatcher"], center=world.district)
    d_leader = make_person(session, "d_leader", ["leader"], center=world.district)
    session.commit()
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="referral", actor=disp, title="跨区域河道污染",
                            category_code="river", grid_id=world.grid_main.id)
    review.register(session, catalog, case.id, actor=disp)
    case = handling.escalate_to_district(session, catalog, case.id, actor=disp, reason="需区级部门协调")
    assert case.center_id == world.district.id
    told = {n.person_id for n in session.execute(select(Notification).where(
        Notification.item_id == case.id, Notification.item_type == "case")).scalars()}
    assert told == {d_disp.id, d_leader.id}
    handling.start_joint_handling(session, catalog, case.id, actor=Actor.from_person(d_leader),
                                  department_id=world.roads.id)
    # Joint handling overdue: the district center (which now holds the case) is told.
    fired_through_worker(session, case.id, "handle", "overdue", worker, d_disp.id)
    supervision.supervise(session, catalog, case.id, actor=Actor.from_person(d_leader), method="on_site",
                          requirement="现场协调")
    handling.apply_joint_handling(session, catalog, case.id, actor=world.actor("road_handler"), reason="涉及环卫",
                                  department_ids=[world.sanitation.id])
    handling.approve_joint_handling(session, catalog, case.id, actor=Actor.from_person(d_disp),
                                    department_ids=[world.sanitation.id])
    handling.sign_part(session, catalog, case.id, actor=world.actor("san_handler"))
    handling.report_part(session, catalog, case.id, actor=world.actor("san_handler"), result="已清理岸线")
    extend(session, catalog, world, case.id, "road_handler")
    rework_close_archive(session, catalog, world, case.id, lambda: handling.report_result(
        session, catalog, case.id, actor=world.actor("road_handler"), result="已治理"))
