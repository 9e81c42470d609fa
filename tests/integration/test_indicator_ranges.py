"""Indicators for any period: a custom range of whole local days (``period=range``) gives the
same numbers as the report period it coincides with, buckets its trend by its length, and
refuses bad bounds naming the field. Data: the hand-built March of ``analysis_support``."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from caseflow.analysis import assessment
from caseflow.analysis import indicators as ind
from caseflow.analysis.periods import MAX_RANGE_DAYS, parse_period, parse_range, range_of
from caseflow.errors import ValidationFailed
from caseflow.security.tokens import issue_token

from .analysis_support import build_month


def test_a_range_equals_the_period_it_covers(session, world) -> None:
    build_month(session, world)
    as_of = parse_period("month", "2025-04").end_at  # fixed, so both runs read the same ledger
    month = ind.indicators(session, parse_period("month", "2025-03"), as_of=as_of)
    span = ind.indicators(session, parse_range("2025-03-01", "2025-03-31"), as_of=as_of)
    assert span["cases"] == month["cases"] and span["instructions"] == month["instructions"]
    assert span["trend"] == month["trend"]  # 31 days: daily buckets, as a month's
    assert span["period"]["kind"] == "range" and span["period"]["label"] == "2025-03-01 至 2025-03-31"

    day = ind.indicators(session, parse_period("day", "2025-03-10"), as_of=as_of)
    one = ind.indicators(session, parse_range("2025-03-10", "2025-03-10"), as_of=as_of)
    assert one["cases"]["total"] == day["cases"]["total"] and one["cases"]["total"]["reported"] == 5
    assert len(one["trend"]) == 24 and one["trend"] == day["trend"]  # one day: hourly buckets

    # Across the month boundary in local time: 23:30 on 28 Feb and 00:10 on 1 March.
    edge = ind.indicators(session, parse_range("2025-02-28", "2025-03-01"), as_of=as_of)
    assert edge["cases"]["total"]["reported"] == 2
    assert [t["bucket"] for t in edge["trend"]] == ["2025-02-28", "2025-03-01"]

    rows = {r["code"]: r["score"] for r in assessment.assess(session, parse_range("2025-03-01", "2025-03-31"),
                                                              as_of)["ranking"]}
    assert rows == {r["code"]: r["score"] for r in assessment.assess(session, parse_period("month", "2025-03"),
                                                                       as_of)["ranking"]}
    assert rows["SAN"] == 92.5


def test_range_shape() -> None:
    r = parse_range("2025-03-05", "2025-03-20", "Asia/Shanghai")
    assert (r.first_day, r.last_day, r.days, r.trend_unit) == (date(2025, 3, 5), date(2025, 3, 20), 16, "day")
    assert r.label("en") == "2025-03-05 to 2025-03-20"
    prev = r.previous()
    assert (prev.first_day, prev.last_day) == (date(2025, 2, 17), date(2025, 3, 4))
    assert range_of(date(2025, 1, 1), date(2025, 4, 30), "Asia/Shanghai").trend_unit == "week"
    assert range_of(date(2025, 1, 1), date(2025, 12, 31), "Asia/Shanghai").trend_unit == "month"
    assert r.end_at - r.start_at == timedelta(days=16)


@pytest.mark.parametrize(("start", "end", "field"), [
    ("2025-03-20", "2025-03-05", "end"),            # backwards
    ("2025-01-01", "2026-01-02", "end"),            # longer than MAX_RANGE_DAYS
    ("2025-03-05", None, "end"),
    (None, "2025-03-05", "start"),
    ("March", "2025-03-05", "start"),
    ("2025-03-05", "2025-13-01", "end"),
    ("0001-01-01", "0001-01-02", "start"),          # would overflow the UTC conversion
])
def test_bad_ranges_name_the_field(start, end, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        parse_range(start, end, "Asia/Shanghai")
    assert err.value.field == field


def test_longest_range_and_far_years() -> None:
    assert range_of(date(2024, 1, 1), date(2024, 12, 31), "Asia/Shanghai").days == MAX_RANGE_DAYS
    with pytest.raises(ValidationFailed) as err:
        parse_period("day", "0001-01-01", "Asia/Shanghai")
    assert err.value.field == "start"


def test_api_range(client, session, world) -> None:
    build_month(session, world)
    leader = {"Authorization": "Bearer " + issue_token(session, "deputy", person=world.people["deputy"])}
    r = client.get("/api/reports/indicators?period=range&start=2025-03-10&end=2025-03-10&slices=channel",
                   headers=leader)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["period"]["kind"] == "range" and body["period"]["end"] == "2025-03-10"
    assert body["cases"]["total"]["reported"] == 5
    assert {x["key"]: x["reported"] for x in body["cases"]["by"]["channel"]} == {"hotline": 2, "patrol": 2, "app": 1}
    r = client.get("/api/reports/assessment?period=range&start=2025-03-01&end=2025-03-31", headers=leader)
    assert r.status_code == 200 and {x["code"] for x in r.get_json()["ranking"]} == {"SAN", "ROAD"}
    for query, field in (("period=range&start=2025-03-10", "end"),
                         ("period=range&start=2025-03-10&end=2025-03-01", "end"),
                         ("period=range&end=2025-03-01", "start"),
                         ("period=month&start=2025-03&end=2025-03-31", "end"),
                         ("period=range&start=2024-01-01&end=2025-06-30", "end")):
        bad = client.get(f"/api/reports/indicators?{query}", headers=leader)
        assert bad.status_code == 422 and field in bad.get_json()["errors"], (query, bad.get_json())
