"""``caseflow duty now|rota import|rota show|handover status``: the duty watch from the command line.

Times are shown in the center's time zone (``TIMEZONE``, Asia/Shanghai by default).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import Center, Person

from .actor import as_option, cli_actor, fail

POST_LABELS = {"duty_lead": "值班长 lead", "leader_on_shift": "带班领导 leader on shift",
               "duty_officer": "值班员 officers"}
ITEM_STATUS_ORDER = ("pending", "accepted", "disputed")


@click.group("duty")
def duty_group() -> None:
    """The duty watch (值班值守): who is on duty, the rota, the 08:30 handover."""


@duty_group.group("rota")
def rota_group() -> None:
    """The rota (排班): import shifts from CSV, show the shifts of some days."""


@duty_group.group("handover")
def handover_group() -> None:
    """The 08:30 handover (交接班)."""


def _centers(code: str | None) -> list[Center]:
    """The center named by ``--center``, else every center."""
    query = select(Center).order_by(Center.code)
    if code:
        query = query.where(Center.code == code)
    centers = list(db.session().execute(query).scalars())
    if code and not centers:
        raise click.BadParameter(f"no center with code {code!r}", param_hint="--center")
    return centers


def _today() -> date:
    from caseflow.models import utcnow
    from caseflow.services.duty.common import tz

    return utcnow().astimezone(tz()).date()


def _day(value: str | None, param: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2026-03-10", param_hint=param) from None


def _names(people: list[Person]) -> str:
    return ", ".join(f"{p.full_name} ({p.username})" for p in people) or "-"


def _hours(starts_at: datetime, ends_at: datetime) -> str:
    from caseflow.services.duty.common import local

    return f"{local(starts_at)} – {local(ends_at)}"


def _state(item: object) -> str:
    """``on_duty (值班中)``: the state and its label from the item's workflow."""
    from caseflow.workflow.engine import get_catalog

    state = getattr(item, "state")
    d = get_catalog().definition(getattr(item, "workflow"), getattr(item, "workflow_version"))
    return f"{state} ({d.label(state)})"


@duty_group.command("now")
@click.option("--center", "center_code", help="Center code (default: every center).")
@with_appcontext
def now_command(center_code: str | None) -> None:
    """Who is on duty now, post by post, with the shift's hours."""
    from caseflow.services.duty.overview import POSTS, on_duty_now

    for center in _centers(center_code):
        view = on_duty_now(db.session(), center.id)
        click.echo(f"{center.code} {center.name}")
        if view is None:
            click.echo("  no shift on duty (无在岗班次): check the rota")
            continue
        s = view.shift
        special = f", {view.special}" if view.special else ""
        click.echo(f"  shift #{s.id} {_hours(s.starts_at, s.ends_at)} {_state(s)}{special}")
        for post in POSTS:
            if view.posts.get(post) or post != "leader_on_shift":
                click.echo(f"  {POST_LABELS[post]}: {_names(view.posts.get(post, []))}")


@rota_group.command("import")
@click.argument("file", type=click.File("rb"))
@click.option("--center", "center_code", help="Center code of lines that name none.")
@click.option("--dry-run", is_flag=True, help="Check every line, save nothing.")
@as_option
@with_appcontext
def rota_import_command(file: click.utils.LazyFile, center_code: str | None, dry_run: bool,
                        username: str | None) -> None:
    """Import shifts from CSV FILE (columns 日期/date, 中心代码/center, 值班长/lead, 值班员/officers,
    带班领导/leader, 特殊时段/special). Every line is checked first; on any error nothing is saved
    and each bad line is named."""
    from caseflow.services.duty.rota_import import import_rota
    from caseflow.workflow.engine import get_catalog

    actor = cli_actor(username)
    try:
        result = import_rota(db.session(), get_catalog(), file.read(), actor=actor, default_center=center_code,
                             dry_run=dry_run)
    except DomainError as exc:
        fail(exc, {"file": "FILE"})
    if dry_run:
        click.echo(f"checked {len(result.lines)} line(s): all valid; nothing saved (dry run)")
        return
    click.echo(f"imported {len(result.lines)} shift(s): {len(result.created)} new, "
               f"{len(result.updated)} replaced")


@rota_group.command("show")
@click.option("--from", "first", help="First day (default: the day the shift on duty started), e.g. 2026-03-10.")
@click.option("--to", "last", help="Last day (default: six days after the first).")
@click.option("--center", "center_code", help="Center code (default: every center).")
@with_appcontext
def rota_show_command(first: str | None, last: str | None, center_code: str | None) -> None:
    """The shifts starting from --from to --to (local days, inclusive), with everyone on them."""
    from caseflow.services.duty.overview import duty_day, rota_between

    first_day = _day(first, "--from") or duty_day()
    last_day = _day(last, "--to") or first_day + timedelta(days=6)
    if last_day < first_day:
        raise click.BadParameter("must not be before --from", param_hint="--to")
    if (last_day - first_day).days > 366:
        raise click.BadParameter("at most 366 days at once", param_hint="--to")
    center_id = _centers(center_code)[0].id if center_code else None
    views = rota_between(db.session(), center_id, first_day, last_day)
    if not views:
        click.echo(f"no shifts from {first_day} to {last_day}")
        return
    codes = dict(db.session().execute(select(Center.id, Center.code)).all())
    for v in views:
        s = v.shift
        leader = v.posts.get("leader_on_shift")
        line = (f"{codes.get(s.center_id, s.center_id)} {_hours(s.starts_at, s.ends_at)}  {s.state:12} "
                f"lead: {_names(v.posts['duty_lead'])}  officers: {_names(v.posts['duty_officer'])}")
        if leader or v.special:
            line += f"  leader on shift: {_names(leader or [])}"
        if v.special:
            line += f"  [{v.special}]"
        click.echo(line)


@handover_group.command("status")
@click.option("--center", "center_code", help="Center code (default: every center).")
@click.option("--date", "day", help="The handover of this day's 08:30 (default: today).")
@with_appcontext
def handover_status_command(center_code: str | None, day: str | None) -> None:
    """Today's 08:30 handover: its state, the outgoing and incoming shifts and leads, the items."""
    from caseflow.services.duty.common import local
    from caseflow.services.duty.overview import handover_status

    the_day = _day(day, "--date") or _today()
    for center in _centers(center_code):
        st = handover_status(db.session(), center.id, the_day)
        click.echo(f"{center.code} {center.name}: handover of {local(st.at)} (due {local(st.due_at)})")
        if st.handover is None:
            state = "not opened (未开始)"
        else:
            state = f"#{st.handover.id} {_state(st.handover)}"
        if st.late():
            state += "  LATE (超时)"
        click.echo(f"  state: {state}")
        for label, view in (("outgoing", st.outgoing), ("incoming", st.incoming)):
            if view is None:
                click.echo(f"  {label}: no shift on the rota")
                continue
            click.echo(f"  {label}: shift #{view.shift.id} {_state(view.shift)} "
                       f"lead {_names(view.posts['duty_lead'])}")
        if st.handover is not None:
            counts = ", ".join(f"{st.item_counts.get(k, 0)} {k}" for k in ITEM_STATUS_ORDER)
            click.echo(f"  items: {sum(st.item_counts.values())} ({counts})")
