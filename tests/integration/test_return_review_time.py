"""Mean review time of return requests (退单平均审核用时) in the analysis indicators, the returns
report, the API and the XLSX export: one definition (request to decision, wall clock).

The data set (April 2025, local times), worked by hand:

====  ======  =========  ==============  ==============  ==========  ===========
case  holds   asked by   asked           decided         state       review (s)
====  ======  =========  ==============  ==============  ==========  ===========
A1    san     san        04-01 10:00     04-01 10:30     rejected    1,800
A2    san     san        04-02 09:00     04-02 11:00     rejected    7,200
A3    san     roads      04-03 09:00     04-03 09:20     approved    1,200
A4    roads   roads      04-03 10:00     —               requested   —
A4    roads   roads      04-03 08:30     —               withdrawn   —
A5    roads   roads      04-04 23:00     04-05 08:00     rejected    32,400
A6    san     san        04-06 10:00     —               escalated   —
====  ======  =========  ==============  ==============  ==========  ===========

A5 was asked at night and decided the next morning: 9 hours on the wall clock (the review
time), although no working time passed. Escalated, withdrawn and waiting requests were never
reviewed and have no review time.

Indicators (a request belongs to the department holding its case now, like the return counts):
san 1,800 + 7,200 + 1,200 = 10,200 s over 3 -> 3,400.0 s; roads 32,400 s over 1; the total
42,600 s over 4 -> 10,650.0 s. As of 04-03 09:10 (A3 not decided yet, A5 not reported):
san (1,800 + 7,200) / 2 = 4,500.0 s, roads none.

The returns report (a request belongs to the department that asked): san (1,800 + 7,200) / 2 =
4,500.0 s; roads (1,200 + 32,400) / 2 = 16,800.0 s.
"""
from __future__ import annotations

import copy
import io
import re
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from caseflow.analysis import indicators as ind
from caseflow.analysis import reports, xlsx
from caseflow.analysis.labels import CASE_COLUMNS, SLICES
from caseflow.analysis.periods import parse_period
from caseflow.analysis.sql import dialect_for
from caseflow.models import ReturnRequest
from caseflow.security.tokens import issue_token
from caseflow.services import returns as svc

from .analysis_support import Builder, local

APRIL = ("month", "2025-04")
DECISIONS = {"approved": "approve_return", "rejected": "reject_return"}


def _request(b: Builder, case: Any, dept: Any, *, asked: str, state: str, decided: str | None = None,
             to: Any = None) -> ReturnRequest:
    w = b.world
    asker = w.people["san_handler" if dept.id == w.sanitation.id else "road_handler"]
    rr = ReturnRequest(case_id=case.id, department_id=dept.id, requested_by_id=asker.id, reason="非本单位职责",
                       basis="职责清单", workflow="return_request", workflow_version=1, state=state,
                       created_at=local(asked), decided_at=local(decided) if decided else None,
                       to_department_id=to.id if to else None, category_id=case.category_id)
    b.session.add(rr)
    b.session.flush()
    b.entry(rr, "request", asked, item_type="return_request")
    if decided:
        b.entry(rr, DECISIONS[state], decided, item_type="return_request")
    return rr


@pytest.fixture
def april(session, world) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    w, b = world, Builder(session, world)
    san, roads = w.sanitation, w.roads
    kw: dict[str, Any] = {"category": w.cat_garbage, "grid": w.grid_main, "state": "handling"}

    def case(reported: str, dispatched: str, holder: Any, first: Any | None = None) -> Any:
        c = b.case(reported=reported, department=holder, **kw)
        b.steps(c, ("register", reported), ("dispatch", dispatched, {"department_id": (first or holder).id}))
        return c

    a1 = case("2025-04-01 09:00", "2025-04-01 09:30", san)
    _request(b, a1, san, asked="2025-04-01 10:00", state="rejected", decided="2025-04-01 10:30")
    a2 = case("2025-04-02 08:00", "2025-04-02 08:30", san)
    _request(b, a2, san, asked="2025-04-02 09:00", state="rejected", decided="2025-04-02 11:00")
    a3 = case("2025-04-03 08:00", "2025-04-03 08:30", san, first=roads)
    _request(b, a3, roads, asked="2025-04-03 09:00", state="approved", decided="2025-04-03 09:20", to=san)
    b.entry(a3, "return_approved", "2025-04-03 09:20", payload={"department_id": san.id})
    a4 = case("2025-04-03 08:00", "2025-04-03 08:10", roads)
    _request(b, a4, roads, asked="2025-04-03 08:30", state="withdrawn")
    _request(b, a4, roads, asked="2025-04-03 10:00", state="requested")
    a5 = case("2025-04-04 22:00", "2025-04-04 22:30", roads)
    _request(b, a5, roads, asked="2025-04-04 23:00", state="rejected", decided="2025-04-05 08:00")
    a6 = case("2025-04-06 09:00", "2025-04-06 09:30", san)
    _request(b, a6, san, asked="2025-04-06 10:00", state="escalated")
    session.commit()
    return {"a1": a1, "a2": a2, "a3": a3, "a4": a4, "a5": a5, "a6": a6}


def _by_dept(result: dict[str, Any], world: Any) -> dict[str, dict[str, Any]]:
    rows = {r["key"]: r for r in result["by"]["department"]}
    return {"san": rows[str(world.sanitation.id)], "roads": rows[str(world.roads.id)]}


def test_indicators_mean_review_time_per_department(session, world, april) -> None:  # type: ignore[no-untyped-def]
    cases = ind.indicators(session, parse_period(*APRIL), with_trend=False)["cases"]
    t = cases["total"]
    assert (t["return_requests"], t["returns_approved"], t["returns_rejected"], t["returns_reviewed"]) == (7, 1, 3, 4)
    assert t["return_review_mean_s"] == 10650.0
    assert t["return_approval_rate"] == 0.25
    d = _by_dept(cases, world)
    assert (d["san"]["returns_reviewed"], d["san"]["return_review_mean_s"]) == (3, 3400.0)
    assert (d["roads"]["returns_reviewed"], d["roads"]["return_review_mean_s"]) == (1, 32400.0)
    # Other slices carry it too (one category here: the same as the total).
    by_cat = ind.indicators(session, parse_period(*APRIL), case_slices=["category"], with_trend=False)
    assert by_cat["cases"]["by"]["category"][0]["return_review_mean_s"] == 10650.0
    # Filtered to one department: the same figure as its slice.
    only_roads = ind.indicators(session, parse_period(*APRIL), filters=ind.Filters(department_id=world.roads.id),
                                with_trend=False)["cases"]["total"]
    assert only_roads["return_review_mean_s"] == 32400.0


def test_as_of_leaves_out_later_decisions(session, world, april) -> None:  # type: ignore[no-untyped-def]
    cases = ind.indicators(session, parse_period(*APRIL), as_of=local("2025-04-03 09:10"), with_trend=False)["cases"]
    d = _by_dept(cases, world)
    assert (d["san"]["return_requests"], d["san"]["returns_reviewed"], d["san"]["return_review_mean_s"]) == \
        (3, 2, 4500.0)
    assert d["roads"]["return_review_mean_s"] is None and d["roads"]["returns_reviewed"] == 0
    assert cases["total"]["return_review_mean_s"] == 4500.0


def test_no_reviewed_request_gives_none(session, world) -> None:  # type: ignore[no-untyped-def]
    b = Builder(session, world)
    c = b.case(reported="2025-04-10 09:00", department=world.roads, category=world.cat_garbage, state="handling")
    _request(b, c, world.roads, asked="2025-04-10 10:00", state="requested")
    session.commit()
    t = ind.indicators(session, parse_period(*APRIL), with_trend=False)["cases"]["total"]
    assert (t["return_requests"], t["returns_reviewed"], t["return_review_mean_s"]) == (1, 0, None)


def test_the_returns_report_uses_the_same_definition(session, world, april) -> None:  # type: ignore[no-untyped-def]
    period = parse_period(*APRIL)
    rows = {r["department_id"]: r for r in svc.return_indicators(session, period.start_at, period.end_at)}
    san, roads = rows[world.sanitation.id], rows[world.roads.id]
    assert (san["requests"], san["rejected"], san["escalated"], san["mean_review_s"]) == (3, 2, 1, 4500.0)
    assert (roads["requests"], roads["approved"], roads["rejected"], roads["pending"], roads["withdrawn"]) == \
        (4, 1, 1, 1, 1)
    assert roads["mean_review_s"] == 16800.0
    # Per request, the SQL definition is the wall clock from request to decision.
    seconds = {rr.id: s for rr, s in session.execute(
        select(ReturnRequest, svc.review_seconds(dialect_for(session, "UTC", 0).seconds)))}
    by_state = {}
    for rr in session.execute(select(ReturnRequest)).scalars():
        expected = (rr.decided_at - rr.created_at).total_seconds() if rr.state in ("approved", "rejected") else None
        got = seconds[rr.id]
        assert (got is None) == (expected is None) and (got is None or abs(got - expected) < 0.01), rr.id
        by_state.setdefault(rr.state, []).append(got)
    assert sorted(by_state["rejected"]) == pytest.approx([1800.0, 7200.0, 32400.0], abs=0.01)
    assert by_state["escalated"] == [None] and by_state["withdrawn"] == [None] and by_state["requested"] == [None]


def test_api_and_xlsx_show_it(client, session, world, april) -> None:  # type: ignore[no-untyped-def]
    headers = {"Authorization": "Bearer " + issue_token(session, "deputy", person=world.people["deputy"])}
    r = client.get("/api/reports/indicators?period=month&start=2025-04&slices=department", headers=headers)
    assert r.status_code == 200
    body = r.get_json()["cases"]
    assert body["total"]["return_review_mean_s"] == 10650.0
    assert {row["key"]: row["return_review_mean_s"] for row in body["by"]["department"]} == \
        {str(world.sanitation.id): 3400.0, str(world.roads.id): 32400.0}
    r = client.get("/api/returns/indicators?start=2025-04-01T00:00:00%2B08:00&end=2025-05-01T00:00:00%2B08:00",
                   headers=headers)
    assert r.status_code == 200
    assert {row["department_id"]: row["mean_review_s"] for row in r.get_json()} == \
        {world.sanitation.id: 4500.0, world.roads.id: 16800.0}

    data = reports.build_report(session, parse_period(*APRIL))
    wb = load_workbook(io.BytesIO(xlsx.to_xlsx(data)))
    name = next(zh for key, zh, _, _ in CASE_COLUMNS if key == "return_review_mean_s")
    summary = {row[0]: row[1] for row in wb[xlsx.SHEET_SUMMARY].iter_rows(values_only=True) if row and row[0]}
    assert summary[name] == 177.5  # 10,650 s in minutes
    dept = list(wb[SLICES["department"][0]].iter_rows(values_only=True))
    by_label = {row[0]: dict(zip(dept[0], row)) for row in dept[1:]}
    assert by_label["环卫所"][name] == 56.67 and by_label["市政养护所"][name] == 540.0  # 3,400 s; 32,400 s
    # san's slice: A1, A2 rejected, A3 approved; roads': A5 rejected.
    assert by_label["环卫所"]["退单同意率"] == 0.3333 and by_label["市政养护所"]["退单同意率"] == 0.0


def test_returns_page_says_wall_clock(client, session, world, april) -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as s:
        s["person_id"] = world.people["admin"].id
    page = client.get("/admin/returns?start=2025-04-01&end=2025-05-01").get_data(as_text=True)
    row = page[page.index(f'data-department="{world.roads.id}"'):]
    row = row[:row.index("</tr>")]
    assert "4.7 h" in row  # 16,800 s
    assert "自然时间" in page


def test_console_report_page_shows_it(client, session, world, april) -> None:  # type: ignore[no-untyped-def]
    row = reports.store_report(session, parse_period(*APRIL))
    with client.session_transaction() as s:
        s["person_id"] = world.people["deputy"].id
    html = client.get(f"/reports/{row.id}").get_data(as_text=True)
    totals = html[html.index('id="totals"'):]
    assert re.search(r'data-key="return_review_mean_s">177\.5<', totals)  # minutes
    table = html[html.index('id="returns-by-department"'):]
    table = table[:table.index("</table>")]
    san = re.search(rf'<tr data-department="{world.sanitation.id}">.*?</tr>', table, re.S).group(0)
    roads = re.search(rf'<tr data-department="{world.roads.id}">.*?</tr>', table, re.S).group(0)
    assert 'data-key="return_review_mean_s">56.7<' in san and 'data-key="return_approval_rate">33.3%<' in san
    assert 'data-key="return_review_mean_s">540.0<' in roads and 'data-key="return_requests">3<' in roads

    # A report stored before the indicator existed still renders, with a dash.
    data = copy.deepcopy(row.data)
    for part in [data["cases"]["total"], *data["cases"]["by"]["department"]]:
        part.pop("return_review_mean_s")
    row.data = data
    session.commit()
    page = client.get(f"/reports/{row.id}")
    assert page.status_code == 200
    assert 'data-key="return_review_mean_s">—<' in page.get_data(as_text=True)
