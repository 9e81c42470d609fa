"""Intake's duplicate search reads one category's thin latitude band through
``ix_case_duplicate_search``, not the whole day's cases: with a day of cases inside its time
window it used to read the whole table on every intake (bench/replay_day.py, 17 ms at 38,000
cases, while holding the case-number counter's lock)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from caseflow.models import Case
from caseflow.security.actor import Actor
from caseflow.services.cases import duplicates, intake

LAT, LON = 31.2305, 121.4705


@pytest.mark.postgres_only
def test_the_duplicate_search_uses_its_index_on_a_busy_day(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="hotline", actor=Actor.client_of("hotline"), title="暴露垃圾",
                            category_code="garbage", lat=LAT, lon=LON, address="和平路 1 号")
    # A busy day: 5,000 more cases of the same category in the same hour, spread over the city.
    copied = [c.name for c in Case.__table__.columns if c.name not in ("id", "number", "lat", "lon")]
    columns = ", ".join(f'"{c}"' for c in copied)
    session.execute(text(
        f'INSERT INTO "case" (number, lat, lon, {columns}) '
        f"SELECT number || '-' || g, lat + (g % 100) * 0.004 - 0.198, lon + (g / 100) * 0.008 - 0.2, {columns} "
        'FROM "case", generate_series(1, 5000) g WHERE id = :id'), {"id": case.id})
    session.commit()
    session.execute(text('ANALYZE "case"'))
    lat0, lat1, lon0, lon1 = duplicates.bounding_box(LAT, LON, 50.0)
    stmt = duplicates._CANDIDATES.params(
        d_id=case.id, d_category_id=case.category_id, d_lat0=lat0, d_lat1=lat1, d_lon0=lon0, d_lon1=lon1,
        d_from=case.reported_at - timedelta(hours=24), d_to=case.reported_at + timedelta(hours=24))
    expanded = stmt.compile(session.get_bind()).construct_expanded_state()
    connection = session.connection()
    # Both the plan for these values and the generic plan a prepared statement may settle on.
    for mode in ("force_custom_plan", "force_generic_plan"):
        connection.exec_driver_sql(f"SET LOCAL plan_cache_mode = {mode}")
        plan = "\n".join(r[0] for r in connection.exec_driver_sql("EXPLAIN " + expanded.statement,
                                                                             expanded.parameters))
        assert "ix_case_duplicate_search" in plan and "Seq Scan" not in plan, (mode, plan)
    session.rollback()
    # And the search itself still finds only what is within the radius.
    assert duplicates.find_candidates(session, case) == []
