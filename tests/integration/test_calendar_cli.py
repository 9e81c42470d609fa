"""``caseflow calendar``: overrides set, listed and removed; working time follows them at once."""
from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from caseflow.deadlines.clock import calendar_for
from caseflow.models import Center, LedgerEntry


def run(app, *args: str):  # type: ignore[no-untyped-def]
    result = app.test_cli_runner().invoke(args=["calendar", *args])
    return result.exit_code, result.output


def test_set_list_and_unset_a_day(app_ctx, session, world) -> None:  # type: ignore[no-untyped-def]
    saturday = date(2026, 12, 5)  # an ordinary Saturday: off by the statutory calendar
    assert calendar_for(session).is_workday(saturday) is False
    code, out = run(app_ctx, "set", "2026-12-05", "workday", "--note", "创城迎检", "--as", "admin")
    assert code == 0, out
    assert calendar_for(session).is_workday(saturday) is True  # seen at once in this process
    code, out = run(app_ctx, "list", "--year", "2026")
    assert code == 0 and "2026-12-05  workday  *" in out and "创城迎检" in out
    trail = session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.item_type == "calendar")).scalar_one()
    assert trail == 1
    code, out = run(app_ctx, "unset", "2026-12-05")
    assert code == 0, out
    assert calendar_for(session).is_workday(saturday) is False


def test_a_centers_own_override_beats_the_global_one(app_ctx, session, world) -> None:  # type: ignore[no-untyped-def]
    monday = date(2026, 12, 7)
    assert run(app_ctx, "set", "2026-12-07", "off")[0] == 0
    assert run(app_ctx, "set", "2026-12-07", "workday", "--center", "S01")[0] == 0
    street = session.execute(select(Center).where(Center.code == "S01")).scalar_one()
    district = session.execute(select(Center).where(Center.code == "D01")).scalar_one()
    assert calendar_for(session, street.id).is_workday(monday) is True
    assert calendar_for(session, district.id).is_workday(monday) is False
    code, out = run(app_ctx, "list", "--center", "S01")
    assert "2026-12-07  day off  *" in out and "2026-12-07  workday  S01" in out


def test_bad_input_names_the_argument_and_saves_nothing(app_ctx, session, world) -> None:  # type: ignore[no-untyped-def]
    code, out = run(app_ctx, "set", "2026-13-01", "off")
    assert code != 0 and "DATE" in out and "not a date" in out
    code, out = run(app_ctx, "set", "2026-12-05", "off", "--center", "NOPE")
    assert code != 0 and "--center: no center with code 'NOPE'" in out
    code, out = run(app_ctx, "set", "2026-12-05", "off", "--as", "dispatcher")
    assert code != 0 and "only administrators" in out
    code, out = run(app_ctx, "unset", "2026-12-09")
    assert code != 0 and "no calendar override for 2026-12-09" in out
    code, out = run(app_ctx, "list")
    assert "no overrides" in out
