"""``on_time`` in the instruction list follows the ledger's 按时到场 rule: an instruction not yet on
site whose arrival deadline has passed is late, in the filter (SQL, before paging), in the row's
``on_time`` and in the ledger exports alike. Also the area, severity and state filters."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import update

from caseflow.models import Deadline, Instruction, utcnow
from caseflow.security.tokens import issue_token
from caseflow.services import instructions as svc


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(session, world):  # type: ignore[no-untyped-def]
    return {"liaison": issue_token(session, "l", person=world.people["liaison"]),
            "san": issue_token(session, "s", person=world.people["san_handler"]),
            "road": issue_token(session, "r", person=world.people["road_handler"])}


def _move_arrival(session, item: Instruction, delta: timedelta) -> None:  # type: ignore[no-untyped-def]
    """Put the arrival deadline ``delta`` from now (negative: already passed)."""
    session.execute(update(Deadline).where(Deadline.item_type == "instruction", Deadline.item_id == item.id,
                                           Deadline.key == "arrival").values(due_at=utcnow() + delta))
    session.commit()


@pytest.fixture
def mix(session, catalog, world):  # type: ignore[no-untyped-def]
    """Received one minute apart, oldest first; the newest ones do not match on_time=false, so a
    filter applied after paging would leave the first pages empty."""
    liaison, san = world.actor("liaison"), world.actor("san_handler")
    base = utcnow() - timedelta(hours=3)
    made: dict[str, Instruction] = {}
    specs = [  # number, grid, severity, what happens
        ("110-OVERDUE", "G01", "larger", "overdue"),     # dispatched, not on site, deadline passed: late
        ("110-LATE", "G02", "ordinary", "arrived_late"),  # on site after the deadline: late
        ("110-ONTIME", "G01", "ordinary", "arrived"),     # on site in time
        ("110-RUNNING", "G01", "major", "running"),       # dispatched, deadline still running: neither
        ("110-NEW", "G02", "ordinary", "received"),       # not dispatched, no deadline: neither
    ]
    for n, (number, grid, severity, what) in enumerate(specs):
        item, _ = svc.receive(session, catalog, actor=liaison, number=number, category="garbage", grid=grid,
                              severity=severity, received_at=base + timedelta(minutes=n))
        made[number] = item
        if what == "received":
            continue
        svc.sign(session, catalog, item.id, actor=liaison)
        svc.dispatch(session, catalog, item.id, actor=liaison)
        if what == "overdue":
            _move_arrival(session, item, -timedelta(minutes=2))
        elif what == "arrived_late":
            _move_arrival(session, item, -timedelta(minutes=2))
            svc.arrive(session, catalog, item.id, actor=san, situation="到场")
        elif what == "arrived":
            svc.arrive(session, catalog, item.id, actor=san, situation="到场")
    return made


def _numbers(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.json
    return [i["number"] for i in r.json["items"]]


def test_not_arrived_past_the_deadline_is_late_in_the_list(client, session, tokens, mix) -> None:  # type: ignore[no-untyped-def]
    h = bearer(tokens["liaison"])
    r = client.get("/api/instructions?on_time=false", headers=h)
    assert _numbers(r) == ["110-LATE", "110-OVERDUE"] and r.json["total"] == 2
    assert all(i["on_time"] is False for i in r.json["items"])
    assert _numbers(client.get("/api/instructions?on_time=true", headers=h)) == ["110-ONTIME"]
    # Every row shows the same rule: late, on time, or not decided yet.
    flags = {i["number"]: i["on_time"] for i in client.get("/api/instructions", headers=h).json["items"]}
    assert flags == {"110-OVERDUE": False, "110-LATE": False, "110-ONTIME": True, "110-RUNNING": None,
                     "110-NEW": None}
    # The detail view agrees.
    detail = client.get(f"/api/instructions/{mix['110-OVERDUE'].id}", headers=h).json
    assert detail["on_time"] is False and detail["arrived_at"] is None


def test_the_filter_is_applied_before_paging(client, tokens, mix) -> None:  # type: ignore[no-untyped-def]
    h = bearer(tokens["liaison"])
    seen = []
    for page in (1, 2):
        r = client.get(f"/api/instructions?on_time=false&per_page=1&page={page}", headers=h)
        meta = json.loads(r.headers["X-Pagination"])
        assert meta["total"] == 2 and meta["total_pages"] == 2
        seen += _numbers(r)
    assert seen == ["110-LATE", "110-OVERDUE"]  # both pages full, newest first


def test_the_list_and_the_ledger_exports_agree(client, tokens, mix) -> None:  # type: ignore[no-untyped-def]
    h = bearer(tokens["liaison"])
    for on_time, expected in (("false", ["110-OVERDUE", "110-LATE"]), ("true", ["110-ONTIME"])):
        r = client.get(f"/api/instructions/ledger.csv?on_time={on_time}", headers=h)
        lines = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
        col = lines[0].index("按时到场")
        assert [ln[0] for ln in lines[1:]] == expected  # the ledger is oldest first
        assert {ln[col] for ln in lines[1:]} == {"否" if on_time == "false" else "是"}
        listed = _numbers(client.get(f"/api/instructions?on_time={on_time}", headers=h))
        assert sorted(listed) == sorted(expected)
    # A handler's unit scope applies with the filter.
    assert client.get("/api/instructions?on_time=false", headers=bearer(tokens["san"])).json["total"] == 2
    assert client.get("/api/instructions?on_time=false", headers=bearer(tokens["road"])).json["total"] == 0


def test_area_severity_and_state_filters(client, tokens, mix) -> None:  # type: ignore[no-untyped-def]
    h = bearer(tokens["liaison"])
    assert sorted(_numbers(client.get("/api/instructions?area_kind=other", headers=h))) == ["110-LATE", "110-NEW"]
    assert _numbers(client.get("/api/instructions?severity=major", headers=h)) == ["110-RUNNING"]
    assert _numbers(client.get("/api/instructions?state=received", headers=h)) == ["110-NEW"]
    assert _numbers(client.get("/api/instructions?area_kind=main_urban&on_time=false", headers=h)) == ["110-OVERDUE"]
    r = client.get("/api/instructions/ledger.csv?area_kind=main_urban&severity=larger", headers=h)
    assert [ln[0] for ln in csv.reader(io.StringIO(r.data.decode("utf-8-sig")))][1:] == ["110-OVERDUE"]
    r = client.get("/api/instructions/ledger.csv?state=on_site", headers=h)
    assert sorted([ln[0] for ln in csv.reader(io.StringIO(r.data.decode("utf-8-sig")))][1:]) == ["110-LATE", "110-ONTIME"]
    for bad in ("area_kind=suburb", "severity=huge"):
        r = client.get(f"/api/instructions?{bad}", headers=h)
        assert r.status_code == 422 and bad.split("=")[0] in r.json["errors"]["query"], r.json
