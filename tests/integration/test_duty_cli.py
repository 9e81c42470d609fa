"""``caseflow duty now|rota import|rota show|handover status``: the duty watch from the command line."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from caseflow.models import DutyAssignment, DutyShift, LedgerEntry, utcnow
from caseflow.services import transition
from caseflow.services.duty import handover as hs
from caseflow.services.duty.common import local, shift_bounds

from .duty_support import lead_actor, ordinary, plan, shift, today


def _run(app, *args: str, **kw):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["duty", *args], **kw)


def _covering_now(shifts: list[DutyShift]) -> DutyShift:
    now = utcnow()
    return next(s for s in shifts if s.starts_at <= now < s.ends_at)


def _count(session) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(func.count()).select_from(DutyShift)).scalar_one()


def test_now_shows_each_post_in_local_time(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    r = _run(app, "now")
    assert r.exit_code == 0 and "no shift on duty" in r.output
    shifts = plan(session, catalog, world, days=3)  # yesterday, today, tomorrow
    current = _covering_now(shifts)
    r = _run(app, "now", "--center", "S01")
    assert r.exit_code == 0, r.output
    assert f"shift #{current.id}" in r.output and "planned (待上岗)" in r.output  # not started yet
    transition.fire(session, catalog, "duty_shift", current.id, "start", actor=lead_actor(world, current))
    r = _run(app, "now", "--center", "S01")
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert lines[0] == "S01 示范街道城运中心"
    # 08:30 to 08:30 in Asia/Shanghai (00:30 UTC).
    assert f"shift #{current.id} {local(current.starts_at)} – {local(current.ends_at)} on_duty (值班中)" in lines[1]
    assert local(current.starts_at).endswith(" 08:30")
    lead = next(p for p in world.people.values() if p.id == current.lead_id)
    assert lines[2] == f"  值班长 lead: {lead.full_name} ({lead.username})"
    assert lines[3] == "  值班员 officers: duty_officer (duty_officer)"
    r = _run(app, "now", "--center", "NOPE")
    assert r.exit_code == 2 and "--center" in r.output


def test_rota_show_lists_the_days_asked(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=4)
    first = today() - timedelta(days=1)
    r = _run(app, "rota", "show", "--from", first.isoformat(), "--to", (first + timedelta(days=1)).isoformat())
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"S01 {local(shifts[0].starts_at)} – {local(shifts[0].ends_at)}  planned")
    assert "lead: duty_lead (duty_lead)" in lines[0] and "lead: duty_lead2 (duty_lead2)" in lines[1]
    assert all("officers: duty_officer (duty_officer)" in ln for ln in lines)
    r = _run(app, "rota", "show", "--from", "2099-01-01", "--to", "2099-01-02")
    assert r.exit_code == 0 and "no shifts from 2099-01-01 to 2099-01-02" in r.output
    r = _run(app, "rota", "show", "--from", "yesterday")
    assert r.exit_code == 2 and "--from" in r.output
    r = _run(app, "rota", "show", "--from", "2099-01-02", "--to", "2099-01-01")
    assert r.exit_code == 2 and "--to" in r.output


def _csv(*lines: str) -> str:
    return "\n".join(("日期,中心代码,值班长,值班员,带班领导,特殊时段", *lines)) + "\n"


def test_rota_import_creates_and_replaces_planned_shifts(app, session, catalog, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    d1, d2 = today() + timedelta(days=5), today() + timedelta(days=6)
    ordinary(session, world, d1, 2)  # d2 is made a holiday by the file itself
    path = tmp_path / "rota.csv"
    path.write_text(_csv(f"{d1},S01,duty_lead,duty_officer,,",
                         f"{d2},S01,duty_lead2,\"duty_officer、duty_lead\",deputy,节假日"), encoding="utf-8-sig")
    r = _run(app, "rota", "import", str(path), "--dry-run")
    assert r.exit_code == 0 and "nothing saved (dry run)" in r.output
    assert _count(session) == 0
    r = _run(app, "rota", "import", str(path))
    assert r.exit_code == 0, r.output
    assert "imported 2 shift(s): 2 new, 0 replaced" in r.output
    s1, s2 = session.execute(select(DutyShift).order_by(DutyShift.starts_at)).scalars().all()
    assert (s1.starts_at, s1.state, s1.lead_id) == (shift_bounds(d1)[0], "planned", world.people["duty_lead"].id)
    assert s2.leader_on_shift_id == world.people["deputy"].id and s2.data["special"] == "holiday"
    roles = dict(session.execute(select(DutyAssignment.person_id, DutyAssignment.role)
                                 .where(DutyAssignment.shift_id == s2.id)).all())
    p = world.people
    assert roles == {p["duty_lead2"].id: "duty_lead", p["duty_officer"].id: "duty_officer",
                     p["duty_lead"].id: "duty_officer", p["deputy"].id: "leader_on_shift"}
    created = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "duty_shift",
                                                        LedgerEntry.item_id == s1.id)).scalar_one()
    assert (created.trigger, created.client, created.payload) == ("plan", "cli", {"source": "import", "line": 2})

    # A second file changes the first day's people: the planned shift is re-staffed, not duplicated.
    path.write_text(_csv(f"{d1},,duty_lead2,duty_officer,,"), encoding="utf-8")
    r = _run(app, "rota", "import", str(path), "--center", "S01", "--as", "admin")
    assert r.exit_code == 0 and "0 new, 1 replaced" in r.output, r.output
    assert _count(session) == 2
    assert shift(session, s1.id).lead_id == p["duty_lead2"].id
    note = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "duty_shift", LedgerEntry.item_id == s1.id)
                           .order_by(LedgerEntry.seq.desc()).limit(1)).scalar_one()
    assert (note.trigger, note.actor_id, note.payload["line"]) == ("import_rota", p["admin"].id, 2)

    r = _run(app, "rota", "show", "--from", d1.isoformat(), "--to", d2.isoformat())
    assert "lead: duty_lead2 (duty_lead2)" in r.output.splitlines()[0]
    assert "leader on shift: deputy (deputy)  [节假日: min 3, leader on shift required]" in r.output.splitlines()[1]


def test_rota_import_names_every_bad_line_and_saves_nothing(app, session, catalog, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    before = _count(session)
    d = today() + timedelta(days=5)
    ordinary(session, world, d, 5)
    path = tmp_path / "rota.csv"
    path.write_text(_csv(
        f"{d},S01,duty_lead,duty_officer,,",          # line 2: fine
        f"{d + timedelta(days=1)},S01,zhang,,,",       # line 3: nobody called zhang
        f"{d + timedelta(days=2)},S01,duty_lead,san_handler,,",  # line 4: a handler is no duty officer
        f"{d},S01,duty_lead2,,,",                      # line 5: the same day as line 2
        f"2026-02-30,S01,duty_lead,,,",                # line 6: no such date
        f"{d + timedelta(days=3)},S99,duty_lead,,,",   # line 7: unknown center
        f"{d + timedelta(days=4)},S01,duty_lead,,,party",  # line 8: unknown special period
        f"{today() - timedelta(days=1)},S01,duty_lead,,,",  # line 9: that shift has started (or is over)
    ), encoding="utf-8")
    r = _run(app, "rota", "import", str(path))
    assert r.exit_code == 1
    out = r.output
    assert "FILE: rota not imported, nothing saved" in out
    for expected in ("line 3: lead: no active person 'zhang'", "line 4: officers: san_handler cannot serve as duty_officer",
                     "line 5: date:", "repeats line 2", "line 6: date: '2026-02-30' is not a date",
                     "line 7: center: no center with code 'S99'", "line 8: special: must be one of", "line 9: date:"):
        assert expected in out, out
    assert "line 2:" not in out
    assert _count(session) == before

    path.write_text("day,lead\n2030-01-01,duty_lead\n", encoding="utf-8")
    r = _run(app, "rota", "import", str(path), "--center", "S01")
    assert r.exit_code == 1 and "line 1: header: unknown column day" in r.output and "missing column date" in r.output
    path.write_bytes("日期,值班长\n".encode("gbk") + b"2030-01-01,\xd5\xc5\n")
    r = _run(app, "rota", "import", str(path), "--center", "S01")
    assert r.exit_code == 1 and "UTF-8" in r.output
    path.write_text(_csv(f"{d},S01,duty_lead,,,"), encoding="utf-8")
    r = _run(app, "rota", "import", str(path), "--as", "duty_officer")
    assert r.exit_code == 1 and "rota import needs one of the roles" in r.output
    assert _count(session) == before


def test_handover_status_follows_the_morning_handover(app, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    r = _run(app, "handover", "status", "--center", "S01")
    assert r.exit_code == 0, r.output
    assert "state: not opened" in r.output and "outgoing: no shift on the rota" in r.output
    shifts = plan(session, catalog, world, days=2)  # the shift going off this morning and the one coming on
    out_shift, in_shift = shifts
    out_lead, in_lead = lead_actor(world, out_shift), lead_actor(world, in_shift)
    transition.fire(session, catalog, "duty_shift", out_shift.id, "start", actor=out_lead)
    h = hs.open_handover(session, catalog, out_shift.id, actor=out_lead)
    hs.submit(session, catalog, h.id, actor=out_lead)
    due = out_shift.ends_at + timedelta(minutes=30)
    r = _run(app, "handover", "status", "--center", "S01")
    lines = r.output.splitlines()
    assert lines[0] == f"S01 示范街道城运中心: handover of {local(out_shift.ends_at)} (due {local(due)})"
    assert local(out_shift.ends_at) == f"{today()} 08:30"
    assert lines[1].startswith(f"  state: #{h.id} reviewing (接班核对)")
    assert ("LATE" in lines[1]) == (utcnow() > due)
    assert lines[2] == f"  outgoing: shift #{out_shift.id} handing_over (交接中) lead duty_lead (duty_lead)"
    assert lines[3] == f"  incoming: shift #{in_shift.id} planned (待上岗) lead duty_lead2 (duty_lead2)"
    n = len(hs.items(session, h.id))
    assert lines[4] == f"  items: {n} ({n} pending, 0 accepted, 0 disputed)"
    for item in hs.items(session, h.id):
        hs.accept_item(session, catalog, h.id, item.id, actor=in_lead)
    hs.complete(session, catalog, h.id, actor=in_lead)
    r = _run(app, "handover", "status", "--center", "S01", "--date", today().isoformat())
    lines = r.output.splitlines()
    assert lines[1] == f"  state: #{h.id} completed (已交接)"
    assert lines[2].startswith(f"  outgoing: shift #{out_shift.id} closed")
    assert lines[3].startswith(f"  incoming: shift #{in_shift.id} on_duty")
    # Tomorrow's handover is not opened yet, and the shift coming on then is not planned.
    r = _run(app, "handover", "status", "--center", "S01", "--date", (today() + timedelta(days=1)).isoformat())
    assert "state: not opened" in r.output and "incoming: no shift on the rota" in r.output
    r = _run(app, "handover", "status", "--date", "tomorrow")
    assert r.exit_code == 2 and "--date" in r.output


def test_rules_and_special_periods_from_the_command_line(app, session, catalog, world, tmp_path) -> None:  # type: ignore[no-untyped-def]
    r = _run(app, "rules", "show", "--center", "S01")
    assert r.exit_code == 0, r.output
    assert "  min_staff_holiday: 3 (default)" in r.output and "  holiday_needs_leader: yes (default)" in r.output
    r = _run(app, "rules", "set", "S01", "min_staff_holiday=4", "special_needs_leader=no", "--as", "admin")
    assert r.exit_code == 0, r.output
    r = _run(app, "rules", "show", "--center", "S01")
    assert "  min_staff_holiday: 4\n" in r.output and "  special_needs_leader: no\n" in r.output
    assert "  min_staff: 2 (default)" in r.output
    r = _run(app, "rules", "set", "S01", "min_staff_holiday=default", "special_needs_leader=default")
    assert r.exit_code == 0 and "min_staff_holiday=default, special_needs_leader=default" in r.output
    assert "  min_staff_holiday: 3 (default)" in _run(app, "rules", "show", "--center", "S01").output
    r = _run(app, "rules", "set", "S01", "min_staff=0")
    assert r.exit_code == 1 and "min_staff: min_staff must be a whole number" in r.output
    r = _run(app, "rules", "set", "S01", "holiday_needs_leader=maybe")
    assert r.exit_code == 2 and "yes, no or default" in r.output
    r = _run(app, "rules", "set", "S01", "min_staff_holiday=4", "--as", "principal")
    assert r.exit_code == 1 and "only administrators" in r.output

    d = today() + timedelta(days=5)
    ordinary(session, world, d, 2)
    r = _run(app, "period", "add", "--center", "D01", "--kind", "major_event", "--name", "马拉松",
             "--from", d.isoformat(), "--to", d.isoformat(), "--min-staff", "3")
    assert r.exit_code == 0 and f"major_event 马拉松: {d} to {d}" in r.output, r.output
    period_id = int(r.output.split("#")[1].split()[0])
    r = _run(app, "period", "add", "--center", "S01", "--kind", "sensitive", "--name", "x",
             "--from", d.isoformat(), "--to", (d - timedelta(days=1)).isoformat())
    assert r.exit_code == 1 and "--to: last_day must not be before first_day" in r.output
    r = _run(app, "period", "list", "--center", "S01")
    assert r.exit_code == 0 and f"#{period_id} D01 {d} – {d}  major_event 马拉松  min 3" in r.output

    # The street's import: the marathon day needs a leader on shift, and the file names none.
    path = tmp_path / "rota.csv"
    path.write_text(_csv(f"{d},S01,duty_lead,duty_officer,,", f"{d + timedelta(days=1)},S01,duty_lead2,,,"),
                    encoding="utf-8")
    r = _run(app, "rota", "import", str(path))
    assert r.exit_code == 1
    assert f"line 2: leader: the shift of {d} [马拉松 (重大活动)] needs a leader on shift (带班领导)" in r.output
    path.write_text(_csv(f"{d},S01,duty_lead,duty_officer,deputy,", f"{d + timedelta(days=1)},S01,duty_lead2,,,"),
                    encoding="utf-8")
    r = _run(app, "rota", "import", str(path))
    assert r.exit_code == 0, r.output
    assert f"warning: line 3: officers: 1 on the shift of {d + timedelta(days=1)}, its minimum is 2" in r.output
    r = _run(app, "rota", "show", "--from", d.isoformat(), "--to", d.isoformat())
    assert "leader on shift: deputy (deputy)  [马拉松 (重大活动): min 3, leader on shift required]" in r.output

    r = _run(app, "period", "cancel", str(period_id), "--reason", "赛事取消", "--as", "admin")
    assert r.exit_code == 0 and f"special period #{period_id} cancelled" in r.output
    assert "no special periods" in _run(app, "period", "list", "--center", "S01").output
    assert "cancelled: 赛事取消" in _run(app, "period", "list", "--center", "S01", "--all").output
    r = _run(app, "period", "cancel", str(period_id), "--reason", "again")
    assert r.exit_code == 1 and "already cancelled" in r.output
