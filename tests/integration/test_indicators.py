"""Indicator definitions against a hand-built month with known answers (see analysis_support).

Worked by hand (local times, March 2025; C6 was reported in February and is not counted):

* reported 6 (C1, C2, C3, C4, C5, C7); registered 4 (C1-C3 by ``register``, C5 a simple case);
  voided 1 (C4); dispatched 3 (C1-C3); closed 3 (C1, C2, C5); closed on time 2 (C2's handle
  limit fired) -> closure rate 3/4, on-time closure rate 2/4, void rate 1/6.
* checked 3, reworked 1 (C2) -> 1/3; one return request (C3), rejected -> return rate 1/3;
  extension (C2) and deferral (C3) rates 1/3 each; 3 supervisions of 2 cases; callbacks
  grade 5 and 2 -> mean 3.5, satisfied 1/2.
* stages (s): review 600/1200/1800, dispatch 1200/600/600, sign 1800/3600/3600,
  handle 7200/9000/2400, check 3600/3600/1200, total 14400/25200/3600.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from caseflow.analysis import indicators as ind
from caseflow.analysis.periods import parse_period, period_of
from caseflow.errors import ValidationFailed

from .analysis_support import build_month, local


@pytest.fixture
def month(session, world):  # type: ignore[no-untyped-def]
    cases = build_month(session, world)
    return cases


def _by(result, dim, key):  # type: ignore[no-untyped-def]
    rows = {r["key"]: r for r in result["by"][dim]}
    return rows[key]


def test_case_counts_and_rates(session, world, month) -> None:
    out = ind.indicators(session, parse_period("month", "2025-03"))
    t = out["cases"]["total"]
    assert (t["reported"], t["registered"], t["voided"], t["dispatched"], t["closed"], t["closed_on_time"]) == \
        (6, 4, 1, 3, 3, 2)
    assert t["closure_rate"] == 0.75 and t["on_time_closure_rate"] == 0.5 and t["void_rate"] == 0.1667
    assert t["closure_target_met"] is False
    assert (t["checked"], t["reworked"], t["rework_rate"]) == (3, 1, 0.3333)
    assert (t["return_requests"], t["returns_approved"], t["returns_rejected"]) == (1, 0, 1)
    assert t["return_rate"] == 0.3333 and t["return_approval_rate"] == 0.0
    assert (t["extension_requests"], t["extended"], t["extension_rate"]) == (1, 1, 0.3333)
    assert (t["deferral_requests"], t["deferred"], t["deferral_rate"]) == (1, 1, 0.3333)
    assert (t["supervisions"], t["supervised"]) == (3, 2)
    assert (t["callbacks"], t["satisfied"], t["unsatisfied"]) == (2, 1, 1)
    assert t["satisfaction"] == 3.5 and t["satisfied_rate"] == 0.5


def test_stage_means_and_medians(session, world, month) -> None:
    stages = ind.indicators(session, parse_period("month", "2025-03"))["cases"]["total"]["stages"]
    expected = {"review": (3, 1200, 1200), "dispatch": (3, 800, 600), "sign": (3, 3000, 3600),
                "handle": (3, 6200, 7200), "check": (3, 2800, 3600), "total": (3, 14400, 14400)}
    for stage, (n, mean, median) in expected.items():
        assert (stages[stage]["n"], stages[stage]["mean_s"], stages[stage]["median_s"]) == (n, mean, median), stage


def test_slices(session, world, month) -> None:
    cases = ind.indicators(session, parse_period("month", "2025-03"))["cases"]
    san = _by(cases, "department", str(world.sanitation.id))
    assert (san["reported"], san["registered"], san["closed"], san["closure_rate"]) == (3, 3, 3, 1.0)
    assert san["label"] == "环卫所"
    # An even number of values: the median is the mean of the middle two (600 and 1200).
    assert san["stages"]["review"] == {"n": 2, "mean_s": 900.0, "median_s": 900.0}
    assert _by(cases, "department", str(world.roads.id))["reported"] == 1
    assert _by(cases, "department", None)["reported"] == 2  # C4 and C7 were never dispatched
    assert {r["key"]: r["reported"] for r in cases["by"]["channel"]} == {"hotline": 3, "patrol": 2, "app": 1}
    assert {r["key"]: r["reported"] for r in cases["by"]["tier"]} == {"general": 5, "simple": 1}
    grids = {r["key"]: r["reported"] for r in cases["by"]["grid"]}
    assert grids == {str(world.grid_main.id): 3, str(world.grid_other.id): 3}
    cats = {r["key"]: (r["reported"], r["voided"]) for r in cases["by"]["category"]}
    assert cats == {str(world.cat_garbage.id): (4, 1), str(world.cat_road.id): (2, 0)}
    assert _by(cases, "hour", "10")["stages"]["total"] == {"n": 1, "mean_s": 25200.0, "median_s": None}
    hours = [(r["key"], r["reported"]) for r in cases["by"]["hour"]]
    # Local hours, in order: C7 at 00:10 (16:10 UTC the day before) counts at hour 0.
    assert hours == [("0", 1), ("8", 1), ("9", 1), ("10", 2), ("21", 1)]


def test_filters_and_as_of(session, world, month) -> None:
    period = parse_period("month", "2025-03")
    only = ind.indicators(session, period, filters=ind.Filters(department_id=world.sanitation.id))
    assert only["cases"]["total"]["reported"] == 3
    assert only["instructions"]["total"]["received"] == 2
    # As of 12:30 on 10 March: C4 (21:00) not yet reported, only C5 closed, no callback yet.
    early = ind.indicators(session, period, as_of=local("2025-03-10 12:30"))["cases"]["total"]
    assert (early["reported"], early["closed"], early["dispatched"], early["callbacks"]) == (5, 1, 3, 0)
    assert early["stages"]["review"]["n"] == 3 and early["stages"]["check"]["n"] == 1


def test_zone_boundaries(session, world, month) -> None:
    feb = ind.indicators(session, parse_period("month", "2025-02"))["cases"]["total"]
    assert feb["reported"] == 1  # 23:30 local on 28 Feb
    day = ind.indicators(session, parse_period("day", "2025-03-01"))["cases"]["total"]
    assert day["reported"] == 1  # 00:10 local on 1 March
    week = period_of("week", parse_period("day", "2025-03-12").first_day)
    assert week.first_day.isoformat() == "2025-03-10" and week.end_at - week.start_at == timedelta(days=7)
    assert ind.indicators(session, week)["cases"]["total"]["reported"] == 5


def test_instruction_arrival(session, world, month) -> None:
    ins = ind.indicators(session, parse_period("month", "2025-03"))["instructions"]
    t = ins["total"]
    assert (t["received"], t["declined"], t["dispatched"], t["arrived"], t["arrived_on_time"], t["closed"]) == \
        (5, 1, 4, 3, 2, 1)
    assert t["arrival_on_time_rate"] == 0.5 and t["late_or_missing"] == 2
    assert t["stages"]["sign"] == {"n": 5, "mean_s": 120.0, "median_s": 60.0}
    assert t["stages"]["arrival"] == {"n": 3, "mean_s": 2400.0, "median_s": 2400.0}
    areas = {r["key"]: (r["dispatched"], r["arrived_on_time"]) for r in ins["by"]["area"]}
    assert areas == {"main_urban": (3, 1), "other": (1, 1)}  # 55 min is on time in another area
    roads = _by(ins, "department", str(world.roads.id))
    assert (roads["dispatched"], roads["arrived_on_time"], roads["arrival_on_time_rate"]) == (2, 1, 0.5)
    assert {r["key"]: r["received"] for r in ins["by"]["severity"]} == {"ordinary": 4, "larger": 1}


def test_trend(session, world, month) -> None:
    trend = ind.indicators(session, parse_period("month", "2025-03"))["trend"]
    assert len(trend) == 31 and trend[0]["bucket"] == "2025-03-01"
    by_day = {t["bucket"]: (t["reported"], t["closed"]) for t in trend}
    assert by_day["2025-03-01"] == (1, 0)
    assert by_day["2025-03-10"] == (5, 3)
    assert sum(t["reported"] for t in trend) == 6
    hourly = ind.indicators(session, parse_period("day", "2025-03-10"))["trend"]
    assert len(hourly) == 24
    assert {t["bucket"][-2:]: t["reported"] for t in hourly if t["reported"]} == \
        {"08": 1, "09": 1, "10": 2, "21": 1}
    quarter = ind.indicators(session, parse_period("quarter", "2025-03-10"))["trend"]
    assert quarter[0]["bucket"] == "2024-12-30"  # the Monday of the week holding 1 January
    assert {t["bucket"]: t["reported"] for t in quarter if t["reported"]} == \
        {"2025-02-24": 2, "2025-03-10": 5}
    year = ind.indicators(session, parse_period("year", "2025"))["trend"]
    assert [t["bucket"] for t in year][:3] == ["2025-01", "2025-02", "2025-03"]
    assert {t["bucket"]: t["reported"] for t in year if t["reported"]} == {"2025-02": 1, "2025-03": 6}


def test_bad_input_names_the_field(session, world) -> None:
    with pytest.raises(ValidationFailed) as err:
        ind.indicators(session, parse_period("month", "2025-03"), case_slices=["weather"])
    assert err.value.field == "slices"
    with pytest.raises(ValidationFailed) as err:
        parse_period("decade", "2025")
    assert err.value.field == "period"
    with pytest.raises(ValidationFailed) as err:
        parse_period("month", "March")
    assert err.value.field == "start"


def test_empty_period(session, world) -> None:
    out = ind.indicators(session, parse_period("month", "2030-01"))
    t = out["cases"]["total"]
    assert t["reported"] == 0 and t["closure_rate"] is None and t["stages"]["total"]["median_s"] is None
    assert out["instructions"]["total"]["arrival_on_time_rate"] is None


def test_medians_for_requested_slices(session, world, month) -> None:
    out = ind.indicators(session, parse_period("month", "2025-03"), case_slices=["hour", "channel"],
                         median_slices=["hour"])
    cases = out["cases"]
    assert out["median_slices"] == ["hour"]
    # Hour 10 holds C2 (closed, 25,200 s) and C3 (open): one value, so median = mean.
    assert _by(cases, "hour", "10")["stages"]["total"] == {"n": 1, "mean_s": 25200.0, "median_s": 25200.0}
    patrol = _by(cases, "channel", "patrol")["stages"]["total"]
    assert patrol == {"n": 2, "mean_s": 14400.0, "median_s": None}  # C2 25,200 s and C5 3,600 s
    assert set(cases["by"]) == {"hour", "channel"}
