"""A difficult case escalated to the district center (区城运中心): the district holds it, its
people are told through the outbox, the ledger says so; the escalated and joint queues."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from caseflow.deadlines.targets import resolve_targets
from caseflow.errors import ValidationFailed
from caseflow.extensions import get_queue
from caseflow.models import Case, Category, Center, LedgerEntry, Notification
from caseflow.notify.outbox import job_id
from caseflow.security.tokens import issue_token
from caseflow.services.cases import district, handling, intake, review
from tests.factories import make_person


def district_staff(session, world):  # type: ignore[no-untyped-def]
    """A dispatcher and a leader at the district center (the world's people are all at the street)."""
    people = {
        "d_dispatcher": make_person(session, "d_dispatcher", ["dispatcher"], center=world.district,
                                    full_name="区派遣员", phone="13900000001", channels=["email", "sms"]),
        "d_leader": make_person(session, "d_leader", ["leader"], center=world.district, full_name="区领导"),
        "d_retired": make_person(session, "d_retired", ["dispatcher"], center=world.district, active=False),
    }
    session.commit()
    return people


def difficult_case(session, catalog, world, title="跨区域河道污染", escalate=True):  # type: ignore[no-untyped-def]
    cat = session.execute(select(Category).where(Category.code == "river")).scalar_one_or_none()
    if cat is None:
        cat = Category(code="river", name="河道污染", field="city", responsible_department=world.roads,
                       default_tier="difficult")
        session.add(cat)
        session.commit()
    disp = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="referral", actor=disp, title=title, category_code="river",
                            grid_id=world.grid_main.id, address="滨江路")
    review.register(session, catalog, case.id, actor=disp)
    if escalate:
        case = handling.escalate_to_district(session, catalog, case.id, actor=disp, reason="需区级部门协调")
    return case


def test_escalation_hands_the_case_to_the_district_and_tells_its_people(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    staff = district_staff(session, world)
    case = difficult_case(session, catalog, world)
    session.expire_all()
    case = session.get(Case, case.id)
    assert case.state == "escalated"
    assert case.center_id == world.district.id
    record = case.data["district"]
    assert (record["center_id"], record["from_center_id"], record["reason"]) == (
        world.district.id, world.street.id, "需区级部门协调")
    assert record["by"] == world.people["dispatcher"].id
    # The outbox holds one message per address of each active district dispatcher and leader.
    rows = session.execute(select(Notification).where(Notification.item_type == "case",
                                                      Notification.item_id == case.id)
                           .order_by(Notification.id)).scalars().all()
    told = {(r.person_id, r.channel) for r in rows}
    assert told == {(staff["d_dispatcher"].id, "email"), (staff["d_dispatcher"].id, "sms"),
                    (staff["d_leader"].id, "email")}
    assert all(r.status == "pending" and r.payload["kind"] == "district_escalation" for r in rows)
    assert all(case.number in r.subject and "区城运中心" in r.subject for r in rows)
    # Nobody at the street center is told by the escalation itself.
    street_ids = {p.id for p in world.people.values()}
    assert not told & {(pid, ch) for pid in street_ids for ch in ("email", "sms")}
    # Delivery was enqueued after commit.
    queued = set(get_queue(app.config["NOTIFY_QUEUE"]).job_ids)
    assert {job_id(r.id, 0) for r in rows} <= queued
    # The ledger entry names the center, where the case came from and who was told.
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case.id,
        LedgerEntry.trigger == "escalate_to_district")).scalar_one()
    assert entry.payload["district_center"] == {"id": world.district.id, "code": "D01", "name": "示范区城运中心"}
    assert entry.payload["from_center_id"] == world.street.id
    assert sorted(entry.payload["notified_person_ids"]) == sorted([staff["d_dispatcher"].id, staff["d_leader"].id])
    assert sorted(entry.payload["notification_ids"]) == sorted(r.id for r in rows)
    # The coordinate limit's overdue chain now reaches the district's people, not the street's.
    assert [p.id for p in resolve_targets(session, case, "dispatcher")] == [staff["d_dispatcher"].id]


def test_a_person_without_a_channel_is_listed_unreachable(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    mute = make_person(session, "d_mute", ["dispatcher"], center=world.district, email="", channels=[])
    session.commit()
    case = difficult_case(session, catalog, world)
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_id == case.id, LedgerEntry.trigger == "escalate_to_district")).scalar_one()
    assert entry.payload["notified_person_ids"] == [mute.id]
    assert entry.payload["unreachable"] == [mute.id] and entry.payload["notification_ids"] == []


def test_without_a_district_center_the_escalation_is_refused(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = difficult_case(session, catalog, world, escalate=False)
    # A street center under no district, and no district center at all.
    session.get(Center, world.street.id).parent_id = None
    session.get(Center, world.district.id).level = "street"
    session.commit()
    with pytest.raises(ValidationFailed) as info:
        handling.escalate_to_district(session, catalog, case.id, actor=world.actor("dispatcher"), reason="r")
    assert info.value.field == "center_id" and "district" in info.value.message
    session.expire_all()
    case = session.get(Case, case.id)
    assert (case.state, case.center_id) == ("registered", world.street.id)
    assert session.execute(select(Notification)).first() is None


def test_a_case_without_a_center_goes_to_the_only_district(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = difficult_case(session, catalog, world, escalate=False)
    session.get(Case, case.id).center_id = None
    session.commit()
    case = handling.escalate_to_district(session, catalog, case.id, actor=world.actor("dispatcher"), reason="r")
    assert case.center_id == world.district.id and case.data["district"]["from_center_id"] is None


def test_the_return_limit_escalation_also_goes_to_the_district(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    from caseflow.services import returns as svc
    from tests.integration.test_returns import ask, dispatched_case

    staff = district_staff(session, world)
    case = dispatched_case(session, catalog, world)
    first = ask(session, catalog, world, case)
    svc.approve(session, catalog, first.id, world.actor("dispatcher"), department_id=world.roads.id)
    second = ask(session, catalog, world, session.get(Case, case.id), who="road_handler", basis="道路养护职责清单")
    svc.approve(session, catalog, second.id, world.actor("dispatcher"), department_id=world.sanitation.id)
    ask(session, catalog, world, session.get(Case, case.id), basis="第三次申请的依据")
    session.expire_all()
    case = session.get(Case, case.id)
    assert (case.state, case.center_id) == ("escalated", world.district.id)
    told = set(session.execute(select(Notification.person_id).where(
        Notification.item_id == case.id, Notification.payload["kind"].as_string() == "district_escalation")).scalars())
    assert told == {staff["d_dispatcher"].id, staff["d_leader"].id}


def test_escalated_and_joint_queues(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    waiting = difficult_case(session, catalog, world, "甲")
    joint = difficult_case(session, catalog, world, "乙")
    registered = difficult_case(session, catalog, world, "丙", escalate=False)
    handling.start_joint_handling(session, catalog, joint.id, actor=world.actor("principal"),
                                  department_id=world.roads.id, cooperating_department_ids=[world.sanitation.id])
    assert [c.id for c in district.queue_cases(session, "escalated")] == [waiting.id]
    assert [c.id for c in district.queue_cases(session, "joint")] == [joint.id]
    assert district.queue_counts(session) == {"escalated": 1, "joint": 1}
    assert district.queue_counts(session, center_id=world.street.id) == {"escalated": 0, "joint": 0}
    assert [c.id for c in district.queue_cases(session, "joint", center_id=world.district.id)] == [joint.id]
    assert registered.id not in {c.id for name in district.QUEUES for c in district.queue_cases(session, name)}
    with pytest.raises(ValidationFailed) as info:
        district.queue_cases(session, "later")
    assert info.value.field == "queue"


def test_queue_filter_on_the_case_list(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    waiting = difficult_case(session, catalog, world, "甲")
    joint = difficult_case(session, catalog, world, "乙")
    handling.start_joint_handling(session, catalog, joint.id, actor=world.actor("principal"),
                                  department_id=world.roads.id)
    hdr = {"Authorization": f"Bearer {issue_token(session, 'd', person=world.people['dispatcher'])}"}
    r = client.get("/api/cases?queue=escalated", headers=hdr)
    assert r.status_code == 200, r.json
    assert [c["id"] for c in r.json["items"]] == [waiting.id] and r.json["total"] == 1
    assert r.json["items"][0]["record"]["district"]["center_id"] == world.district.id
    r = client.get("/api/cases?queue=joint", headers=hdr)
    assert [c["id"] for c in r.json["items"]] == [joint.id]
    assert client.get("/api/cases", headers=hdr).json["total"] == 2
    r = client.get("/api/cases?queue=someday", headers=hdr)
    assert r.status_code == 422 and "queue" in r.json["errors"]["query"]
    # A handler sees only the queue's cases its department takes part in.
    road = {"Authorization": f"Bearer {issue_token(session, 'r', person=world.people['road_handler'])}"}
    assert [c["id"] for c in client.get("/api/cases?queue=joint", headers=road).json["items"]] == [joint.id]
    san = {"Authorization": f"Bearer {issue_token(session, 's', person=world.people['san_handler'])}"}
    assert client.get("/api/cases?queue=joint", headers=san).json["total"] == 0
