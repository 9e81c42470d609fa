"""The case and instruction lists: a constant number of SQL statements per page (no N+1), and
the instruction list's on_time filter applied before paging (full pages, a true total)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from caseflow.extensions import db
from caseflow.models import Category, Deadline, Instruction, utcnow
from caseflow.security.tokens import issue_token
from caseflow.services import instructions as svc
from caseflow.services.cases import intake


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def counting(app) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """Every SQL statement the app's engine sends while the block runs."""
    engine = app.extensions["caseflow.engine"]
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def statements_for(app, client, url: str, token: str) -> tuple[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    # The test client's request shares this thread's session; start it empty, as a request's
    # is (rows already in its identity map would hide lazy loads).
    db.session.close()
    with counting(app) as statements:
        r = client.get(url, headers=bearer(token))
    assert r.status_code == 200, r.json
    return len(statements), r.json


@pytest.fixture
def tokens(session, world):  # type: ignore[no-untyped-def]
    return {
        "dispatcher": issue_token(session, "d", person=world.people["dispatcher"]),
        "liaison": issue_token(session, "l", person=world.people["liaison"]),
        "san": issue_token(session, "s", person=world.people["san_handler"]),
        "road": issue_token(session, "r", person=world.people["road_handler"]),
    }


def _categories(session, world, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """``n`` categories of sanitation: a lazily loaded category would cost one query per row."""
    rows = [Category(code=f"c{i:02d}", name=f"类别{i}", field="city", responsible_department=world.sanitation,
                     default_tier="general") for i in range(n)]
    session.add_all(rows)
    session.commit()
    return [c.code for c in rows]


def test_case_list_statements_do_not_grow_with_the_page(app, client, session, catalog, world, tokens) -> None:  # type: ignore[no-untyped-def]
    actor = world.actor("dispatcher")
    codes = _categories(session, world, 22)
    cases = []
    for i in range(22):
        case, _ = intake.report(session, catalog, channel="hotline", actor=actor, title=f"问题{i}",
                                category_code=codes[i] if i % 4 else None,
                                grid_id=(world.grid_main.id, world.grid_other.id, None)[i % 3])
        cases.append(case)
    # One case past a limit of its current state: the list computes "overdue" in its query.
    late = cases[-2]
    session.add(Deadline(item_type="case", item_id=late.id, key="register", state=late.state,
                         state_seq=late.state_seq, due_at=utcnow() - timedelta(minutes=5), status="pending"))
    session.commit()
    client.get("/api/cases", headers=bearer(tokens["dispatcher"]))  # warm up (token last_used_at)

    small, page5 = statements_for(app, client, "/api/cases?per_page=5", tokens["dispatcher"])
    large, page20 = statements_for(app, client, "/api/cases?per_page=20", tokens["dispatcher"])
    assert len(page5["items"]) == 5 and len(page20["items"]) == 20 and page20["total"] == 22
    assert large == small, f"{small} statements for 5 cases, {large} for 20"
    # The view is the same as before: relationships and overdue are right for every row.
    by_id = {c["id"]: c for c in page20["items"]}
    assert {c["category"] for c in page20["items"]} == {None} | {c for i, c in enumerate(codes) if i % 4 and i >= 2}
    assert {c["grid"] for c in page20["items"]} == {"G01", "G02", None}
    assert [i for i, c in by_id.items() if c["overdue"]] == [late.id]
    detail = client.get(f"/api/cases/{late.id}", headers=bearer(tokens["dispatcher"])).json
    assert detail["overdue"] is True and by_id[late.id]["available_actions"] == detail["available_actions"]
    # The overdue filter agrees with the flag.
    overdue = client.get("/api/cases?overdue=true", headers=bearer(tokens["dispatcher"])).json
    assert [c["id"] for c in overdue["items"]] == [late.id]


def _instruction(session, catalog, world, number: str, *, walk: bool, category: str = "garbage",  # type: ignore[no-untyped-def]
                 grid: str | None = "G01") -> Instruction:
    item, _ = svc.receive(session, catalog, actor=world.actor("liaison"), number=number, category=category,
                          grid=grid)
    if walk:
        svc.sign(session, catalog, item.id, actor=world.actor("liaison"))
        svc.dispatch(session, catalog, item.id, actor=world.actor("liaison"))
    return item


def _arrive(session, catalog, world, item: Instruction, *, late: bool) -> None:  # type: ignore[no-untyped-def]
    """Arrive now; a late one's arrival deadline is moved to before the arrival."""
    svc.arrive(session, catalog, item.id, actor=world.actor("san_handler"), situation="到场")
    session.refresh(item)
    if late:
        session.execute(update(Deadline).where(Deadline.item_type == "instruction", Deadline.item_id == item.id,
                                               Deadline.key == "arrival")
                        .values(due_at=item.arrived_at - timedelta(minutes=3)))
        session.commit()


def test_instruction_list_statements_do_not_grow_with_the_page(app, client, session, catalog, world, tokens) -> None:  # type: ignore[no-untyped-def]
    codes = _categories(session, world, 21)
    for i in range(21):
        item = _instruction(session, catalog, world, f"110-N{i:02d}", walk=i % 2 == 0, category=codes[i],
                            grid=("G01", "G02", None)[i % 3])
        if i % 4 == 0:
            _arrive(session, catalog, world, item, late=i % 8 == 0)
    client.get("/api/instructions", headers=bearer(tokens["liaison"]))  # warm up

    small, page5 = statements_for(app, client, "/api/instructions?per_page=5", tokens["liaison"])
    large, page20 = statements_for(app, client, "/api/instructions?per_page=20", tokens["liaison"])
    assert len(page5["items"]) == 5 and len(page20["items"]) == 20 and page20["total"] == 21
    assert large == small, f"{small} statements for 5 instructions, {large} for 20"
    assert sorted(i["category"] for i in page20["items"]) == codes[1:]
    assert {i["grid"] for i in page20["items"]} == {"G01", "G02", None}
    # on_time read with the row is what the service's own rule says (the detail view uses it).
    flags = {i["number"]: i["on_time"] for i in page20["items"]}
    assert [n for n, f in sorted(flags.items()) if f is not None] == [f"110-N{i:02d}" for i in range(4, 21, 4)]
    assert [n for n, f in sorted(flags.items()) if f is False] == ["110-N08", "110-N16"]


def _pages(client, token: str, on_time: bool, per_page: int) -> tuple[list[list[int]], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    pages, headers = [], []
    page = 1
    while True:
        r = client.get(f"/api/instructions?on_time={str(on_time).lower()}&per_page={per_page}&page={page}",
                       headers=bearer(token))
        assert r.status_code == 200, r.json
        meta = json.loads(r.headers["X-Pagination"])
        headers.append(meta)
        assert r.json["total"] == meta["total"]
        assert all(i["on_time"] is on_time for i in r.json["items"]), r.json["items"]
        pages.append([i["id"] for i in r.json["items"]])
        if "next_page" not in meta:
            return pages, headers
        page = meta["next_page"]


def test_on_time_filter_pages_are_full_and_total_is_right(client, session, catalog, world, tokens) -> None:  # type: ignore[no-untyped-def]
    on_time, late = [], []
    for i in range(14):
        item = _instruction(session, catalog, world, f"110-T{i:02d}", walk=i < 12)
        if i < 12:
            # Interleaved, so the matching rows of each kind are spread over the unfiltered pages.
            _arrive(session, catalog, world, item, late=i % 3 == 0)
            (late if i % 3 == 0 else on_time).append(item.id)
    # A transfer re-arms the arrival deadline: the latest one counts. This one was late against
    # its first deadline and on time against the re-armed one.
    moved = session.get(Instruction, on_time[0])
    first = session.execute(select(Deadline).where(Deadline.item_type == "instruction",
                                                   Deadline.item_id == moved.id)).scalars().all()
    arrival = [d for d in first if d.key == "arrival"][0]
    arrival.due_at = moved.arrived_at - timedelta(minutes=1)
    session.add(Deadline(item_type="instruction", item_id=moved.id, key="arrival", state=arrival.state,
                         state_seq=arrival.state_seq, due_at=moved.arrived_at + timedelta(minutes=20),
                         status="cancelled"))
    session.commit()
    assert (len(on_time), len(late)) == (8, 4)

    pages, headers = _pages(client, tokens["liaison"], True, per_page=3)
    assert [len(p) for p in pages] == [3, 3, 2]
    assert sorted(i for p in pages for i in p) == sorted(on_time)
    assert headers[0]["total"] == 8 and headers[0]["total_pages"] == 3

    pages, headers = _pages(client, tokens["liaison"], False, per_page=3)
    assert [len(p) for p in pages] == [3, 1]
    assert sorted(i for p in pages for i in p) == sorted(late)
    assert headers[-1]["total"] == 4 and headers[-1]["total_pages"] == 2

    # The detail view (the service's own rule) agrees with the list for the re-armed one.
    assert client.get(f"/api/instructions/{moved.id}", headers=bearer(tokens["liaison"])).json["on_time"] is True
    # No filter: every instruction, arrived or not.
    assert client.get("/api/instructions?per_page=3", headers=bearer(tokens["liaison"])).json["total"] == 14
    # A handler's unit scope still applies with the filter: sanitation's handler sees them all
    # (garbage goes to sanitation), the roads handler none.
    assert client.get("/api/instructions?on_time=false", headers=bearer(tokens["san"])).json["total"] == 4
    assert client.get("/api/instructions?on_time=false", headers=bearer(tokens["road"])).json["total"] == 0
