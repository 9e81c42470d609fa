"""``/api/calendar``: a year's statutory holidays and make-up workdays with the overrides on top, a
warning for a year chinesecalendar does not cover, and setting and removing overrides (ledgered,
used by deadlines armed afterwards); administrators only, refusals audited; 422 naming the field."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select

from caseflow.deadlines.clock import calendar_for
from caseflow.models import AccessDenial, LedgerEntry
from caseflow.security.tokens import issue_token


@pytest.fixture
def admin(session, world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, 'admin', person=world.people['admin'])}"}


def test_a_year_shows_statutory_days(client, admin, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/calendar?year=2025", headers=admin)
    assert r.status_code == 200 and r.json["covered"] is True and r.json["warning"] is None
    days = {d["day"]: d for d in r.json["statutory"]}
    assert days["2025-01-29"] == {"day": "2025-01-29", "kind": "holiday", "name": "Spring Festival", "name_zh": "春节"}
    assert days["2025-01-26"]["kind"] == "makeup_workday"  # a Sunday worked for the Spring Festival
    assert days["2025-10-01"]["name_zh"] == "国庆节"
    assert [d["day"] for d in r.json["statutory"]] == sorted(days)  # by date
    assert r.json["overrides"] == []


def test_a_year_without_statutory_data_warns(client, admin, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/calendar?year=2099", headers=admin)
    assert r.status_code == 200 and r.json["covered"] is False and r.json["statutory"] == []
    assert "2099" in r.json["warning"]["en"] and "Monday to Friday" in r.json["warning"]["en"]
    assert "2099" in r.json["warning"]["zh"]


def test_set_list_and_remove_overrides(client, session, admin, world) -> None:  # type: ignore[no-untyped-def]
    r = client.put("/api/calendar/days", headers=admin,
                   json={"day": "2025-10-08", "is_workday": False, "center": "S01", "note": "创城迎检"})
    assert r.status_code == 200, r.json
    assert r.json == {"day": "2025-10-08", "is_workday": False, "center": "S01", "note": "创城迎检",
                      "statutory_workday": False, "holiday": "National Day", "changes_something": False}
    r = client.put("/api/calendar/days", headers=admin, json={"day": "2025-03-03", "is_workday": False})
    assert r.status_code == 200 and r.json["center"] is None and r.json["changes_something"] is True
    # A Monday off everywhere: the working calendar of a center follows it at once.
    session.expire_all()
    assert calendar_for(session, world.street.id).is_workday(date(2025, 3, 3)) is False
    listed = client.get("/api/calendar/days?year=2025", headers=admin)
    assert [(d["day"], d["center"]) for d in listed.json] == [("2025-03-03", None), ("2025-10-08", "S01")]
    assert json.loads(listed.headers["X-Pagination"])["total"] == 2
    paged = client.get("/api/calendar/days?year=2025&per_page=1&page=2", headers=admin).json
    assert [d["day"] for d in paged] == ["2025-10-08"]
    year = client.get("/api/calendar?year=2025&center=S01", headers=admin).json
    assert [o["day"] for o in year["overrides"]] == ["2025-03-03", "2025-10-08"]
    r = client.delete("/api/calendar/days?day=2025-03-03", headers=admin)
    assert r.status_code == 204
    assert client.delete("/api/calendar/days?day=2025-03-03", headers=admin).status_code == 404
    assert client.delete("/api/calendar/days?day=2025-10-08", headers=admin).status_code == 404  # S01's, not global
    assert client.delete("/api/calendar/days?day=2025-10-08&center=S01", headers=admin).status_code == 204
    assert client.get("/api/calendar/days", headers=admin).json == []
    triggers = list(session.execute(select(LedgerEntry.trigger).where(LedgerEntry.item_type == "calendar")
                                    .order_by(LedgerEntry.seq)).scalars())
    assert triggers == ["set_calendar_day", "set_calendar_day", "remove_calendar_day", "remove_calendar_day"]


@pytest.mark.parametrize("method, url, body, field", [
    ("put", "/api/calendar/days", {"day": "2025-13-01", "is_workday": True}, "day"),
    ("put", "/api/calendar/days", {"day": "2025-05-06"}, "is_workday"),
    ("put", "/api/calendar/days", {"day": "2025-05-06", "is_workday": True, "center": "NOPE"}, "center"),
    ("put", "/api/calendar/days", {"day": "2025-05-06", "is_workday": True, "note": "x" * 201}, "note"),
    ("put", "/api/calendar/days", {"day": "1800-05-06", "is_workday": True}, "day"),
    ("get", "/api/calendar?year=1999", None, "year"),
    ("get", "/api/calendar?year=2025&center=NOPE", None, "center"),
    ("delete", "/api/calendar/days", None, "day"),
])
def test_bad_input_is_a_422_naming_the_field(client, admin, world, method, url, body, field) -> None:  # type: ignore[no-untyped-def]
    r = client.open(url, method=method.upper(), json=body, headers=admin)
    assert r.status_code == 422 and field in json.dumps(r.json["errors"]), r.json


def test_the_calendar_is_for_administrators(client, session, world) -> None:  # type: ignore[no-untyped-def]
    hdr = {"Authorization": f"Bearer {issue_token(session, 'disp', person=world.people['dispatcher'])}"}
    assert client.get("/api/calendar?year=2025", headers=hdr).status_code == 403
    assert client.get("/api/calendar/days", headers=hdr).status_code == 403
    r = client.put("/api/calendar/days", headers=hdr, json={"day": "2025-05-06", "is_workday": False})
    assert r.status_code == 403
    assert client.delete("/api/calendar/days?day=2025-05-06", headers=hdr).status_code == 403
    session.expire_all()
    denials = list(session.execute(select(AccessDenial).where(
        AccessDenial.person_id == world.people["dispatcher"].id)).scalars())
    assert len(denials) == 4 and "working calendar" in denials[0].reason
    assert client.get("/api/calendar").status_code == 401
