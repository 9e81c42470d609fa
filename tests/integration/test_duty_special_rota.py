"""Holiday and special-period rotas: what a shift needs (minimum staff, a leader on shift 带班领导),
per center; publication, marking and import refuse a shift without the leader it needs; shifts
that come to need one later are gaps warned to the center's leaders."""
from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from caseflow.errors import Conflict, PermissionDenied, ValidationFailed
from caseflow.models import DutyShift, LedgerEntry, Notification
from caseflow.services import calendar_days
from caseflow.services.duty import emergency, rota, rules, special_periods
from caseflow.services.duty.common import tz
from caseflow.services.duty.rota_import import RotaImportRejected, import_rota

from .duty_support import ordinary, plan, shift, today

SEP30, OCT1, OCT2 = date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 2)


def _count(session) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(func.count()).select_from(DutyShift)).scalar_one()


def _roles(session, shift_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(a.role for a in rota.assignments(session, shift_id))


def _center_ledger(session, center_id: int) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "center", LedgerEntry.item_id == center_id).order_by(LedgerEntry.seq)).scalars())


def test_holidays_come_from_the_statutory_and_the_working_calendar(session, world):  # type: ignore[no-untyped-def]
    found = rules.holidays(session, world.street.id, date(2026, 9, 26), date(2026, 10, 18))
    assert found[date(2026, 9, 26)] == "中秋" and found[OCT1] == "国庆节" and found[date(2026, 10, 7)] == "国庆节"
    assert date(2026, 10, 10) not in found  # a make-up workday (调休上班) is no holiday
    assert date(2026, 10, 11) not in found and date(2026, 10, 17) not in found  # plain weekends are not either
    assert SEP30 not in found
    admin = world.actor("admin")
    # A local day off on a workday is a holiday (named by its note); a center working through a
    # holiday is not on a holiday rota, while the other centers are.
    calendar_days.set_day(session, actor=admin, day=date(2026, 10, 14), is_workday=False, note="区庆日")
    calendar_days.set_day(session, actor=admin, day=OCT2, is_workday=True, center_code="S01", note="照常上班")
    found = rules.holidays(session, world.street.id, date(2026, 9, 26), date(2026, 10, 18))
    assert found[date(2026, 10, 14)] == "区庆日"
    assert OCT2 not in found and OCT1 in found
    assert OCT2 in rules.holidays(session, world.district.id, OCT2, OCT2)


def test_each_center_sets_its_own_minimum_and_leader_rules(app, session, world, monkeypatch):  # type: ignore[no-untyped-def]
    street, district = world.street.id, world.district.id
    day_rules = rules.rules_for_days(session, street, [SEP30, OCT1])
    assert (day_rules[SEP30].minimum, day_rules[SEP30].needs_leader, day_rules[SEP30].label) == (2, False, "")
    assert (day_rules[OCT1].minimum, day_rules[OCT1].needs_leader, day_rules[OCT1].label) == (3, True, "国庆节 (节假日)")

    admin = world.actor("admin")
    now = special_periods.set_center_rules(session, street, {"min_staff_holiday": 4, "holiday_needs_leader": False},
                                           actor=admin)
    assert (now.min_staff_holiday, now.holiday_needs_leader, now.own["min_staff_holiday"]) == (4, False, 4)
    oct1 = rules.rules_for_days(session, street, [OCT1])[OCT1]
    assert (oct1.minimum, oct1.needs_leader) == (4, False)
    other = rules.rules_for_days(session, district, [OCT1])[OCT1]
    assert (other.minimum, other.needs_leader) == (3, True)  # the district keeps the defaults
    entry = _center_ledger(session, street)[-1]
    assert entry.trigger == "set_duty_rules" and entry.actor_id == world.people["admin"].id
    assert entry.payload == {"before": {"min_staff_holiday": None, "holiday_needs_leader": None},
                             "after": {"min_staff_holiday": 4, "holiday_needs_leader": False}}
    # None goes back to the configured default, which the settings (CASEFLOW_DUTY_*) decide.
    special_periods.set_center_rules(session, street, {"min_staff_holiday": None}, actor=admin)
    monkeypatch.setitem(app.config, "DUTY_MIN_STAFF_HOLIDAY", 5)
    monkeypatch.setitem(app.config, "DUTY_HOLIDAY_LEADER", "false")  # as an environment override may read
    assert rules.rules_for_days(session, street, [OCT1])[OCT1].minimum == 5
    assert rules.rules_for_days(session, district, [OCT1])[OCT1].needs_leader is False

    for changes, field in (({"min_staff": 0}, "min_staff"), ({"holiday_needs_leader": "yes"}, "holiday_needs_leader"),
                           ({"bogus": 1}, "bogus"), ({}, "rules")):
        with pytest.raises(ValidationFailed) as exc:
            special_periods.set_center_rules(session, street, changes, actor=admin)
        assert exc.value.field == field
    with pytest.raises(PermissionDenied):
        special_periods.set_center_rules(session, street, {"min_staff": 3}, actor=world.actor("principal"))
    assert rules.center_rules(session, street).min_staff == 2


def test_publishing_a_holiday_rota_needs_a_leader_on_each_holiday_shift(session, catalog, world):  # type: ignore[no-untyped-def]
    p, street = world.people, world.street.id
    kw = dict(leads=[p["duty_lead"].id], officers=[p["duty_officer"].id, p["duty_lead2"].id],
              actor=world.actor("admin"))
    with pytest.raises(rota.LeaderRequired) as exc:
        rota.generate_rota(session, catalog, street, SEP30, 3, **kw)
    assert exc.value.field == "leaders" and exc.value.status == 422
    assert exc.value.message.startswith("2026-10-01 班次 [国庆节 (节假日)] needs a leader on shift (带班领导)")
    assert "2026-10-02 班次 [国庆节 (节假日)]" in exc.value.message
    assert [(s["day"], s["kinds"]) for s in exc.value.details["shifts"]] == [
        ("2026-10-01", ["holiday"]), ("2026-10-02", ["holiday"])]
    assert _count(session) == 0  # nothing saved

    shifts = rota.generate_rota(session, catalog, street, SEP30, 3, leaders=[p["deputy"].id, p["principal"].id], **kw)
    assert [s.leader_on_shift_id for s in shifts] == [None, p["deputy"].id, p["principal"].id]
    # The holiday minimum (3) gets a second officer from the pool; the ordinary day keeps one.
    assert _roles(session, shifts[0].id) == ["duty_lead", "duty_officer"]
    assert _roles(session, shifts[1].id) == ["duty_lead", "duty_officer", "duty_officer", "leader_on_shift"]
    assert rota.find_gaps(session, street, 2, now=datetime(2026, 9, 30, 12, 0, tzinfo=tz())) == []


def test_a_short_holiday_shift_is_a_gap_naming_the_holiday(session, catalog, world):  # type: ignore[no-untyped-def]
    p, street = world.people, world.street.id
    shifts = rota.generate_rota(session, catalog, street, SEP30, 2, leads=[p["duty_lead"].id],
                                officers=[p["duty_officer"].id], leaders=[p["deputy"].id], actor=world.actor("admin"))
    now = datetime(2026, 9, 30, 12, 0, tzinfo=tz())
    gaps = rota.find_gaps(session, street, 1, now=now)
    assert [(g.shift_id, g.reasons, g.staff, g.minimum, g.special, g.needs_leader) for g in gaps] == [
        (shifts[1].id, ["under_minimum"], 2, 3, "国庆节 (节假日)", True)]
    rows = rota.warn_gaps(session, street, 1, now=now)
    assert {r.person_id for r in rows} == {p["deputy"].id, p["principal"].id}
    assert all("国庆节" in r.subject and "最少 3 人" in r.body and "须有带班领导" in r.body for r in rows)


def test_emergency_mode_needs_leaders_on_the_shifts_published_for_the_next_days(session, catalog, world):  # type: ignore[no-untyped-def]
    p, street, day = world.people, world.street.id, today()
    ordinary(session, world, day, 6)
    emergency.declare(session, street, "typhoon", "台风“梅花”", "全街道", actor=world.actor("principal"))
    kw = dict(leads=[p["duty_lead"].id, p["duty_lead2"].id], officers=[p["duty_officer"].id],
              actor=world.actor("admin"))
    with pytest.raises(rota.LeaderRequired) as exc:
        rota.generate_rota(session, catalog, street, day, 6, **kw)
    days = [s["day"] for s in exc.value.details["shifts"]]
    assert days[:3] == [(day + timedelta(days=n)).isoformat() for n in range(3)]
    assert (day + timedelta(days=5)).isoformat() not in days  # beyond DUTY_GAP_DAYS_AHEAD: the gap check's
    assert all(s["kinds"] == ["emergency"] for s in exc.value.details["shifts"])
    assert _count(session) == 0
    shifts = rota.generate_rota(session, catalog, street, day, 6, leaders=[p["deputy"].id, p["principal"].id], **kw)
    assert [s.leader_on_shift_id for s in shifts[:3]] == [p["deputy"].id, p["principal"].id, p["deputy"].id]
    assert shifts[5].leader_on_shift_id is None


def test_marking_a_shift_special_needs_its_leader(session, catalog, world):  # type: ignore[no-untyped-def]
    p, admin = world.people, world.actor("admin")
    shifts = plan(session, catalog, world, days=2, first_day=today() + timedelta(days=5))
    with pytest.raises(rota.LeaderRequired) as exc:
        rota.mark_special(session, shifts[0].id, "major_event", None, actor=admin)
    assert exc.value.field == "leader_id"
    assert exc.value.message.startswith(f"{today() + timedelta(days=5)} 班次 [重大活动]")
    assert "special" not in shift(session, shifts[0].id).data  # nothing saved
    marked = rota.mark_special(session, shifts[0].id, "major_event", p["deputy"].id, actor=admin)
    assert (marked.data["special"], marked.leader_on_shift_id) == ("major_event", p["deputy"].id)
    # A shift that already has its leader on shift may be marked without naming one.
    rota.assign(session, shifts[1].id, p["principal"].id, "leader_on_shift", actor=admin)
    assert rota.mark_special(session, shifts[1].id, "weather", None, actor=admin).data["special"] == "weather"
    assert rota.shift_rule(session, shift(session, shifts[1].id)).label == "灾害天气"


def test_a_district_special_period_covers_its_streets_and_warns_at_once(session, catalog, world):  # type: ignore[no-untyped-def]
    p, street, admin = world.people, world.street.id, world.actor("admin")
    tomorrow = today() + timedelta(days=1)
    shifts = plan(session, catalog, world, days=3)  # yesterday, today, tomorrow
    period = special_periods.declare_period(session, world.district.id, "major_event", "进博会", tomorrow,
                                            tomorrow + timedelta(days=3), actor=admin, min_staff=4, note="安保")
    rule = rules.rules_for_days(session, street, [tomorrow])[tomorrow]
    assert (rule.minimum, rule.needs_leader, rule.label) == (4, True, "进博会 (重大活动)")
    gap = next(g for g in rota.find_gaps(session, street, 3) if g.shift_id == shifts[2].id)
    assert (gap.reasons, gap.minimum) == (["under_minimum", "no_leader_on_shift"], 4)
    warned = [n for n in session.execute(select(Notification).where(
        Notification.item_type == "duty_shift", Notification.item_id == shifts[2].id)).scalars()]
    assert {n.person_id for n in warned} == {p["deputy"].id, p["principal"].id}  # the street's leaders
    assert all("进博会" in n.body for n in warned)
    assert [x.id for x in special_periods.list_periods(session, street)] == [period.id]
    declared = _center_ledger(session, world.district.id)[-1]
    assert declared.trigger == "declare_special_period" and declared.payload["name"] == "进博会"

    with pytest.raises(ValidationFailed) as exc:
        special_periods.cancel_period(session, period.id, " ", actor=admin)
    assert exc.value.field == "reason"
    special_periods.cancel_period(session, period.id, "活动延期", actor=world.actor("principal"))
    rule = rules.rules_for_days(session, street, [tomorrow])[tomorrow]
    assert (rule.minimum, rule.needs_leader, rule.label) == (2, False, "")
    with pytest.raises(Conflict):
        special_periods.cancel_period(session, period.id, "again", actor=admin)
    entries = _center_ledger(session, world.district.id)
    assert entries[-1].trigger == "cancel_special_period" and entries[-1].prev_hash == declared.hash
    assert special_periods.list_periods(session, street) == []
    assert len(special_periods.list_periods(session, street, include_cancelled=True)) == 1

    bad = dict(kind="major_event", name="进博会", first_day=tomorrow, last_day=tomorrow)
    for change, field in (({"kind": "party"}, "kind"), ({"name": " "}, "name"),
                          ({"last_day": today()}, "last_day"), ({"min_staff": 0}, "min_staff")):
        args = {**bad, **change}
        with pytest.raises(ValidationFailed) as exc:
            special_periods.declare_period(session, street, args.pop("kind"), args.pop("name"), args.pop("first_day"),
                                           args.pop("last_day"), actor=admin, **args)
        assert exc.value.field == field
    with pytest.raises(PermissionDenied):
        special_periods.declare_period(session, street, **bad, actor=world.actor("duty_officer"))


def test_import_refuses_special_shifts_without_a_leader_and_warns_of_short_ones(session, catalog, world):  # type: ignore[no-untyped-def]
    p = world.people
    d = today() + timedelta(days=5)
    ordinary(session, world, d, 3)
    special_periods.declare_period(session, world.street.id, "sensitive", "两会", d, d + timedelta(days=1),
                                   actor=world.actor("admin"))
    header = "日期,中心代码,值班长,值班员,带班领导,特殊时段\n"
    bad = header + (f"{d},S01,duty_lead,duty_officer,,\n"                        # line 2: in the period, no leader
                    f"{d + timedelta(days=1)},S01,duty_lead2,duty_officer,deputy,\n"  # line 3: fine
                    f"{d + timedelta(days=2)},S01,duty_lead,duty_officer,,应急\n")    # line 4: marked emergency
    with pytest.raises(RotaImportRejected) as exc:
        import_rota(session, catalog, bad, actor=world.actor("admin"))
    assert exc.value.details["report"] == [
        f"line 2: leader: the shift of {d} [两会 (敏感时期)] needs a leader on shift (带班领导)",
        f"line 4: leader: the shift of {d + timedelta(days=2)} [应急] needs a leader on shift (带班领导)",
    ]
    assert exc.value.details["report_zh"][0] == f"第 2 行: 字段 带班领导: {d} 班次 [两会 (敏感时期)]须有带班领导"
    assert _count(session) == 0

    good = header + (f"{d},S01,duty_lead,duty_officer,principal,\n"
                     f"{d + timedelta(days=1)},S01,duty_lead2,duty_officer,deputy,\n"
                     f"{d + timedelta(days=2)},S01,duty_lead,duty_officer,,\n")
    result = import_rota(session, catalog, good, actor=world.actor("admin"))
    assert len(result.created) == 3
    # Two on a special-period shift whose minimum is 3: imported, with a warning per line.
    assert [w.text("en") for w in result.warnings] == [
        f"line 2: officers: 2 on the shift of {d}, its minimum is 3",
        f"line 3: officers: 2 on the shift of {d + timedelta(days=1)}, its minimum is 3",
    ]
    assert result.created[0].leader_on_shift_id == p["principal"].id
