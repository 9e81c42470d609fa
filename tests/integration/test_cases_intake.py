"""Case intake: numbering, tiers, idempotency, validation naming fields, duplicates, urgent."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseflow.errors import ValidationFailed
from caseflow.models import Case, CaseReporter, Deadline, LedgerEntry, Notification
from caseflow.security.actor import Actor
from caseflow.services.cases import duplicates, intake

LAT, LON = 31.2305, 121.4705


def _report(session, catalog, **kw):
    args = dict(channel="hotline", actor=Actor.client_of("hotline"), title="暴露垃圾", category_code="garbage",
                lat=LAT, lon=LON, address="和平路 1 号")
    args.update(kw)
    return intake.report(session, catalog, **args)


def test_report_creates_a_case_on_its_tier_workflow(session, catalog, world):
    case, created = _report(session, catalog, external_ref="12345-0001",
                            reporter={"name": "王先生", "phone": "13800000000"})
    assert created is True
    assert case.number.startswith("C") and len(case.number) == 1 + 8 + 5
    assert (case.tier, case.workflow, case.state) == ("general", "case_general", "reported")
    assert case.data["started_on"] == {"workflow": "case_general", "version": 1, "tier": "general"}
    reporter = session.execute(select(CaseReporter).where(CaseReporter.case_id == case.id)).scalar_one()
    assert (reporter.name, reporter.phone, reporter.external_ref) == ("王先生", "13800000000", "12345-0001")
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.item_id == case.id)).scalar_one()
    assert entry.trigger == "report" and entry.actor_role == "hotline"
    second, _ = _report(session, catalog, external_ref="12345-0002", lat=LAT + 0.01)
    assert int(second.number[-5:]) == int(case.number[-5:]) + 1


def test_same_sensor_event_twice_makes_one_case(session, catalog, world):
    sensor = Actor.client_of("sensor")
    first, created1 = _report(session, catalog, channel="sensor", actor=sensor, external_ref="evt-77",
                              reporter={"device_id": "WL-0042"})
    again, created2 = _report(session, catalog, channel="sensor", actor=sensor, external_ref="evt-77",
                              reporter={"device_id": "WL-0042"})
    assert (created1, created2) == (True, False)
    assert again.id == first.id
    assert session.execute(select(func.count()).select_from(Case)).scalar() == 1
    # The same ref on another channel is another report.
    other, created3 = _report(session, catalog, channel="hotline", external_ref="evt-77", lat=LAT + 0.02)
    assert created3 and other.id != first.id


@pytest.mark.parametrize("kw, field", [
    ({"category_code": "nope"}, "category_code"),
    ({"category_id": 999999, "category_code": None}, "category_id"),
    ({"channel": "pigeon"}, "channel"),
    ({"lat": 91.0}, "lat"),
    ({"lon": -181.0}, "lon"),
    ({"lat": None}, "lat"),
    ({"title": "  "}, "title"),
    ({"grid_id": 424242}, "grid_id"),
])
def test_bad_input_names_the_field(session, catalog, world, kw, field):
    with pytest.raises(ValidationFailed) as info:
        _report(session, catalog, **kw)
    assert info.value.field == field
    assert session.execute(select(func.count()).select_from(Case)).scalar() == 0


def test_time_limits_drive_the_deadlines(session, catalog, world):
    case, _ = _report(session, catalog, external_ref="t-1")
    row = session.execute(select(Deadline).where(Deadline.item_id == case.id)).scalar_one()
    assert row.key == "review" and row.clock == "working"


def test_duplicate_candidates_are_flagged(session, catalog, world):
    first, _ = _report(session, catalog, external_ref="d-1")
    near, _ = _report(session, catalog, external_ref="d-2", lat=LAT + 0.0002)  # ~22 m north
    far, _ = _report(session, catalog, external_ref="d-3", lat=LAT + 0.002)  # ~220 m
    other_cat, _ = _report(session, catalog, external_ref="d-4", category_code="road")
    assert [c["id"] for c in near.data["duplicate_candidates"]] == [first.id]
    assert 15 < near.data["duplicate_candidates"][0]["distance_m"] < 30
    assert "duplicate_candidates" not in far.data
    assert "duplicate_candidates" not in other_cat.data
    assert duplicates.find_candidates(session, far, radius_m=300)[0]["id"] in {first.id, near.id}


def test_urgent_case_notifies_at_once(session, catalog, world):
    world.people["dispatcher"].channels = ["sms"]
    world.people["dispatcher"].phone = "13900000001"
    session.commit()
    case, _ = _report(session, catalog, external_ref="u-1", urgent=True)
    rows = session.execute(select(Notification).where(Notification.item_id == case.id)).scalars().all()
    assert case.urgent is True
    assert any(r.address == "13900000001" and r.subject.startswith("【紧急】") for r in rows)
