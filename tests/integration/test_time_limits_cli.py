"""``caseflow time-limits list|set|unset``: the table from the command line, through the service."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.models import AccessDenial, LedgerEntry, TimeLimit


def _run(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["time-limits", *args])


def _rows(session) -> list[TimeLimit]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(TimeLimit).order_by(TimeLimit.id)).scalars())


def _line(output: str, *words: str) -> str:
    found = [ln for ln in output.splitlines() if ln.split()[:3] == list(words)]
    assert len(found) == 1, output
    return found[0]


def test_list_set_and_unset(app, session, world) -> None:  # type: ignore[no-untyped-def]
    r = _run(app, "list")
    assert r.exit_code == 0, r.output
    assert _line(r.output, "general", "*", "handle").split()[3:] == ["1d", "working", "default"]
    assert _line(r.output, "simple", "garbage", "handle").split()[3:] == ["4h", "working", "default", "(category)"]

    r = _run(app, "set", "general", "handle", "2d")
    assert r.exit_code == 0, r.output
    [row] = _rows(session)
    assert (row.tier, row.stage, row.category_id, row.duration, row.clock) == ("general", "handle", None, "2d", "working")
    assert f"#{row.id}" in r.output
    r = _run(app, "set", "general", "sign", "3h", "--category", "road", "--clock", "wall", "--as", "admin")
    assert r.exit_code == 0, r.output
    road = _rows(session)[1]
    assert (road.category_id, road.duration, road.clock) == (world.cat_road.id, "3h", "wall")

    r = _run(app, "list")
    assert _line(r.output, "general", "*", "handle").split()[3:] == ["2d", "working", "override", f"#{row.id}"]
    assert _line(r.output, "general", "road", "sign").split()[3:] == ["3h", "wall", "override", f"#{road.id}"]
    r = _run(app, "list", "--category", "road")
    assert _line(r.output, "general", "road", "handle").split()[3:5] == ["2d", "working"]  # the tier's override
    assert _line(r.output, "simple", "road", "handle").split()[3:] == ["4h", "working", "default"]

    entries = list(session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "time_limits")
                                   .order_by(LedgerEntry.seq)).scalars())
    # Without --as the command line acts as the system (named "cli"); --as names the person.
    assert [(e.actor_id, e.actor_role, e.client) for e in entries] == [
        (None, "system", "cli"), (world.people["admin"].id, "admin", "")]

    r = _run(app, "unset", "general", "handle")
    assert r.exit_code == 0, r.output
    assert [x.id for x in _rows(session)] == [road.id]
    r = _run(app, "unset", "general", "handle")
    assert r.exit_code == 1 and "no override for general * handle" in r.output


def test_bad_input_names_the_argument(app, session, world) -> None:  # type: ignore[no-untyped-def]
    r = _run(app, "set", "general", "handle", "soon")
    assert r.exit_code == 1 and "DURATION: duration must look like" in r.output
    r = _run(app, "set", "general", "handle", "400d")
    assert r.exit_code == 1 and "DURATION: duration must be at most 366d" in r.output
    r = _run(app, "set", "urgent", "handle", "1h")
    assert r.exit_code == 2 and "TIER" in r.output
    r = _run(app, "set", "general", "arrive", "1h")
    assert r.exit_code == 2 and "STAGE" in r.output
    r = _run(app, "set", "general", "handle", "1h", "--category", "nope")
    assert r.exit_code == 1 and "--category: no category with code 'nope'" in r.output
    r = _run(app, "set", "general", "handle", "1h", "--as", "nobody")
    assert r.exit_code == 2 and "--as" in r.output and "nobody" in r.output
    r = _run(app, "list", "--category", "nope")
    assert r.exit_code == 1 and "--category" in r.output
    assert _rows(session) == []


def test_only_an_admin_may_be_named(app, session, world) -> None:  # type: ignore[no-untyped-def]
    r = _run(app, "set", "general", "handle", "1h", "--as", "dispatcher")
    assert r.exit_code == 1 and "only administrators" in r.output
    assert _rows(session) == []
    denial = session.execute(select(AccessDenial)).scalar_one()
    assert (denial.person_id, denial.action) == (world.people["dispatcher"].id, "set_time_limit")
