"""A hand-built month of cases, ledger entries and instructions with known indicator values.

Rows are inserted directly with explicit times (the analysis tests check aggregation, not
the workflows). Times are given in local time (Asia/Shanghai, UTC+8) and stored in UTC.
The expected values are worked out by hand in ``test_indicators.py``.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from caseflow.models import Case, Deadline, Instruction, LedgerEntry, ReturnRequest, Supervision

SH = ZoneInfo("Asia/Shanghai")


def local(text: str) -> datetime:
    """``2025-03-10 09:00`` in Shanghai time, as aware UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=SH).astimezone(timezone.utc)


class Builder:
    """Adds cases with their ledger entries, numbering each item's entries."""

    def __init__(self, session: Session, world: Any) -> None:
        self.session = session
        self.world = world
        self.n = 0
        self._seq: dict[tuple[str, int], int] = {}

    def case(self, *, reported: str, tier: str = "general", category: Any = None, grid: Any = None,
             channel: str = "hotline", department: Any = None, state: str = "reported") -> Case:
        self.n += 1
        c = Case(number=f"T{self.n:05d}", channel=channel, tier=tier, title=f"case {self.n}",
                 workflow=f"case_{tier}", workflow_version=1, state=state,
                 category_id=category.id if category else None, grid_id=grid.id if grid else None,
                 department_id=department.id if department else None, reported_at=local(reported),
                 created_at=local(reported), data={})
        self.session.add(c)
        self.session.flush()
        self.entry(c, "report", reported, to_state="reported")
        return c

    def entry(self, item: Any, trigger: str, at: str, *, item_type: str = "case", to_state: str | None = None,
              payload: dict[str, Any] | None = None, workflow: str | None = None) -> LedgerEntry:
        key = (item_type, item.id)
        seq = self._seq.get(key, 0) + 1
        self._seq[key] = seq
        e = LedgerEntry(item_type=item_type, item_id=item.id, seq=seq, at=local(at), trigger=trigger,
                        to_state=to_state, workflow=workflow or getattr(item, "workflow", ""), workflow_version=1,
                        payload=payload or {})
        self.session.add(e)
        if hasattr(item, "ledger_seq"):
            item.ledger_seq = seq  # the head column, as ledger.append keeps it
        return e

    def steps(self, item: Any, *steps: tuple[str, str] | tuple[str, str, dict[str, Any]]) -> None:
        for step in steps:
            trigger, at = step[0], step[1]
            payload = step[2] if len(step) > 2 else None  # type: ignore[misc]
            self.entry(item, trigger, at, payload=payload)

    def fired(self, item: Case, key: str, due: str) -> None:
        self.session.add(Deadline(item_type="case", item_id=item.id, key=key, state="handling", state_seq=3,
                                  armed_at=local(due) - timedelta(hours=1), due_at=local(due), status="fired",
                                  fired_at=local(due)))

    def instruction(self, number: str, *, received: str, department: Any = None, area: str = "main_urban",
                    signed: str | None = None, dispatched: str | None = None, arrived: str | None = None,
                    closed: str | None = None, state: str = "dispatched", grid: Any = None,
                    category: Any = None, severity: str = "ordinary") -> Instruction:
        i = Instruction(number=number, workflow="instruction", workflow_version=1, state=state,
                        received_at=local(received), area_kind=area, severity=severity,
                        department_id=department.id if department else None,
                        grid_id=grid.id if grid else None, category_id=category.id if category else None,
                        signed_at=local(signed) if signed else None,
                        dispatched_at=local(dispatched) if dispatched else None,
                        arrived_at=local(arrived) if arrived else None, closed_at=local(closed) if closed else None,
                        data={})
        self.session.add(i)
        return i


def build_month(session: Session, world: Any) -> dict[str, Any]:
    """The data set of ``test_indicators``: March 2025, six cases in the cohort, five instructions."""
    w, b = world, Builder(session, world)
    san, roads = w.sanitation, w.roads
    g1, g2 = w.grid_main, w.grid_other
    garbage, road = w.cat_garbage, w.cat_road

    c1 = b.case(reported="2025-03-10 09:00", category=garbage, grid=g1, channel="hotline", department=san,
                state="closed")
    b.steps(c1, ("register", "2025-03-10 09:10"), ("dispatch", "2025-03-10 09:30"), ("sign", "2025-03-10 10:00"),
            ("report_result", "2025-03-10 12:00"), ("check_pass", "2025-03-10 13:00"),
            ("callback", "2025-03-10 15:00", {"grade": 5}))

    c2 = b.case(reported="2025-03-10 10:00", category=garbage, grid=g1, channel="patrol", department=san,
                state="closed")
    b.steps(c2, ("register", "2025-03-10 10:20"), ("dispatch", "2025-03-10 10:30"), ("sign", "2025-03-10 11:30"),
            ("request_extension", "2025-03-10 12:00"), ("approve_extension", "2025-03-10 12:10"),
            ("supervise", "2025-03-10 12:20"),
            ("report_result", "2025-03-10 14:00"), ("check_fail", "2025-03-10 14:30"),
            ("report_result", "2025-03-10 16:00"), ("check_pass", "2025-03-10 17:00"),
            ("callback", "2025-03-10 18:00", {"grade": 2}))
    b.fired(c2, "handle", "2025-03-10 13:30")
    session.add(Supervision(case_id=c2.id, department_id=san.id, method="phone", at=local("2025-03-10 12:20"),
                            requirement="加快处置"))

    c3 = b.case(reported="2025-03-10 10:30", category=road, grid=g2, channel="app", department=roads,
                state="handling")
    b.steps(c3, ("register", "2025-03-10 11:00"), ("dispatch", "2025-03-10 11:10"), ("sign", "2025-03-10 12:10"),
            ("request_deferral", "2025-03-10 13:00"), ("approve_deferral", "2025-03-10 13:30"),
            ("supervise", "2025-03-11 09:00"), ("supervise", "2025-03-12 09:00"))
    for day in ("2025-03-11 09:00", "2025-03-12 09:00"):
        session.add(Supervision(case_id=c3.id, department_id=roads.id, method="written", at=local(day),
                                requirement="说明进度"))
    rr = ReturnRequest(case_id=c3.id, department_id=roads.id, requested_by_id=w.people["road_handler"].id,
                       reason="非本单位职责", basis="职责清单", workflow="return_request", workflow_version=1,
                       state="rejected", created_at=local("2025-03-10 12:30"))
    session.add(rr)
    session.flush()
    b.entry(rr, "request", "2025-03-10 12:30", item_type="return_request")
    b.entry(rr, "reject_return", "2025-03-10 12:50", item_type="return_request")

    c4 = b.case(reported="2025-03-10 21:00", category=garbage, grid=g2, channel="hotline", state="voided")
    b.steps(c4, ("void", "2025-03-10 21:30", {"reason": "duplicate"}))

    c5 = b.case(reported="2025-03-10 08:00", tier="simple", category=garbage, grid=g1, channel="patrol",
                department=san, state="closed")
    b.steps(c5, ("report_result", "2025-03-10 08:40"), ("check_pass", "2025-03-10 09:00"))

    # The zone boundary: 23:30 on 28 Feb local is February; 00:10 on 1 March local is March
    # (although both are 28 February in UTC).
    b.case(reported="2025-02-28 23:30", category=road, grid=g2, channel="hotline", department=roads)
    c7 = b.case(reported="2025-03-01 00:10", category=road, grid=g2, channel="hotline")

    b.instruction("I1", received="2025-03-11 09:00", department=san, signed="2025-03-11 09:02",
                  dispatched="2025-03-11 09:05", arrived="2025-03-11 09:30", closed="2025-03-11 10:30",
                  state="closed", grid=g1, category=garbage)
    b.instruction("I2", received="2025-03-11 10:00", department=roads, area="other", signed="2025-03-11 10:01",
                  dispatched="2025-03-11 10:03", arrived="2025-03-11 10:58", state="on_site", grid=g2,
                  category=road, severity="larger")
    b.instruction("I3", received="2025-03-11 11:00", department=roads, signed="2025-03-11 11:05",
                  dispatched="2025-03-11 11:10", arrived="2025-03-11 11:50", state="on_site", grid=g1,
                  category=road)
    b.instruction("I4", received="2025-03-11 12:00", department=san, signed="2025-03-11 12:01",
                  dispatched="2025-03-11 12:02", state="late", grid=g1, category=garbage)
    b.instruction("I5", received="2025-03-11 13:00", signed="2025-03-11 13:01", state="declined")
    session.commit()
    return {"c1": c1, "c2": c2, "c3": c3, "c4": c4, "c5": c5, "c7": c7, "return_request": rr}


def _return_request(b: Builder, case: Case, department: Any, *, asked: str, state: str, decided: str | None = None,
                    to: Any = None) -> ReturnRequest:
    """A return request of ``case`` by ``department`` with its own ledger (request, then the decision)."""
    w = b.world
    asker = w.people["san_handler" if department.id == w.sanitation.id else "road_handler"]
    rr = ReturnRequest(case_id=case.id, department_id=department.id, requested_by_id=asker.id,
                       reason="非本单位职责", basis="职责清单", workflow="return_request", workflow_version=1,
                       state=state, created_at=local(asked), decided_at=local(decided) if decided else None,
                       to_department_id=to.id if to else None)
    b.session.add(rr)
    b.session.flush()
    b.entry(rr, "request", asked, item_type="return_request")
    if decided:
        b.entry(rr, "approve_return" if state == "approved" else "reject_return", decided, item_type="return_request")
    return rr


def build_returns(session: Session, world: Any) -> dict[str, Any]:
    """The data set of ``test_indicators_returns``: May 2025, five general cases, all closed,
    four of them returned (退单) once or twice or escalated. Every fired limit is a handling limit.

    * R1: dispatched to roads (wrong); roads' handle limit fired (due 10:30) before its return
      was approved at 11:00 and the case re-dispatched to sanitation, which met its limits.
      -> on time for sanitation; nothing for roads.
    * R2: dispatched to roads; returned (approved 10:50) to sanitation, whose handle limit
      fired at 13:00 -> late for sanitation.
    * R3: the road department's own case; its handle limit fired (11:00); its return request was
      rejected -> late for roads (a rejected request changes nothing).
    * R4: roads -> sanitation (approved 11:00; roads' sign limit had fired at 10:40), then
      sanitation's handle limit fired (13:00) and its return back to roads was approved at 13:30;
      roads holds the case again and met the limits it has had since -> on time for roads.
    * R5: roads' handle limit fired (09:50); its next request (10:00) met the return limit and
      escalated the case instead (state ``escalated``, no decision time: the request's time
      counts); joint handling led by sanitation closed it in time -> on time for sanitation.
    """
    w, b = world, Builder(session, world)
    san, roads = w.sanitation, w.roads
    kw: dict[str, Any] = {"category": w.cat_garbage, "grid": w.grid_main, "state": "closed"}

    r1 = b.case(reported="2025-05-06 09:00", department=san, **kw)
    b.steps(r1, ("register", "2025-05-06 09:05"), ("dispatch", "2025-05-06 09:10", {"department_id": roads.id}),
            ("sign", "2025-05-06 09:30"), ("request_return", "2025-05-06 10:40"),
            ("return_approved", "2025-05-06 11:00", {"department_id": san.id}), ("sign", "2025-05-06 11:20"),
            ("report_result", "2025-05-06 13:00"), ("check_pass", "2025-05-06 14:00"))
    b.fired(r1, "handle", "2025-05-06 10:30")
    rr1 = _return_request(b, r1, roads, asked="2025-05-06 10:40", state="approved", decided="2025-05-06 11:00",
                          to=san)

    r2 = b.case(reported="2025-05-06 10:00", department=san, **kw)
    b.steps(r2, ("register", "2025-05-06 10:05"), ("dispatch", "2025-05-06 10:10", {"department_id": roads.id}),
            ("sign", "2025-05-06 10:20"), ("request_return", "2025-05-06 10:30"),
            ("return_approved", "2025-05-06 10:50", {"department_id": san.id}), ("sign", "2025-05-06 11:00"),
            ("report_result", "2025-05-06 14:00"), ("check_pass", "2025-05-06 15:00"))
    b.fired(r2, "handle", "2025-05-06 13:00")
    rr2 = _return_request(b, r2, roads, asked="2025-05-06 10:30", state="approved", decided="2025-05-06 10:50",
                          to=san)

    r3 = b.case(reported="2025-05-07 09:00", department=roads, **{**kw, "category": w.cat_road})
    b.steps(r3, ("register", "2025-05-07 09:05"), ("dispatch", "2025-05-07 09:10", {"department_id": roads.id}),
            ("sign", "2025-05-07 09:20"), ("request_return", "2025-05-07 11:10"),
            ("return_rejected", "2025-05-07 11:30"), ("report_result", "2025-05-07 13:00"),
            ("check_pass", "2025-05-07 14:00"))
    b.fired(r3, "handle", "2025-05-07 11:00")
    rr3 = _return_request(b, r3, roads, asked="2025-05-07 11:10", state="rejected", decided="2025-05-07 11:30")

    r4 = b.case(reported="2025-05-07 10:00", department=roads, **kw)
    b.steps(r4, ("register", "2025-05-07 10:05"), ("dispatch", "2025-05-07 10:10", {"department_id": roads.id}),
            ("request_return", "2025-05-07 10:50"), ("return_approved", "2025-05-07 11:00", {"department_id": san.id}),
            ("sign", "2025-05-07 11:10"), ("request_return", "2025-05-07 13:10"),
            ("return_approved", "2025-05-07 13:30", {"department_id": roads.id}), ("sign", "2025-05-07 13:40"),
            ("report_result", "2025-05-07 15:00"), ("check_pass", "2025-05-07 16:00"))
    b.fired(r4, "sign", "2025-05-07 10:40")
    b.fired(r4, "handle", "2025-05-07 13:00")
    rr4a = _return_request(b, r4, roads, asked="2025-05-07 10:50", state="approved", decided="2025-05-07 11:00",
                           to=san)
    rr4b = _return_request(b, r4, san, asked="2025-05-07 13:10", state="approved", decided="2025-05-07 13:30",
                           to=roads)

    r5 = b.case(reported="2025-05-08 09:00", department=san, **kw)
    b.steps(r5, ("register", "2025-05-08 09:05"), ("dispatch", "2025-05-08 09:10", {"department_id": roads.id}),
            ("sign", "2025-05-08 09:20"), ("change_tier", "2025-05-08 10:00"), ("register", "2025-05-08 10:00"),
            ("escalate_to_district", "2025-05-08 10:00"),
            ("start_joint_handling", "2025-05-08 11:00", {"department_id": san.id}),
            ("report_result", "2025-05-08 14:00"), ("check_pass", "2025-05-08 15:00"))
    b.fired(r5, "handle", "2025-05-08 09:50")
    rr5 = _return_request(b, r5, roads, asked="2025-05-08 10:00", state="escalated")
    b.entry(rr5, "escalate_case", "2025-05-08 10:00", item_type="return_request")
    session.commit()
    return {"r1": r1, "r2": r2, "r3": r3, "r4": r4, "r5": r5, "rr1": rr1, "rr2": rr2, "rr3": rr3, "rr4a": rr4a,
            "rr4b": rr4b, "rr5": rr5}
