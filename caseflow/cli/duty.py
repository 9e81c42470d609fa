"""``caseflow duty now|rota import|rota show|handover status|rules|period``: the duty watch from the
command line.

Times are shown in the center's time zone (``TIMEZONE``, Asia/Shanghai by default).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import PERIOD_KINDS, Center, Person

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


@duty_group.group("rules")
def rules_group() -> None:
    """A center's staffing rules: minimum staff and leader on shift (带班领导) by kind of day."""


@duty_group.group("period")
def period_group() -> None:
    """Special periods (特殊时期): major events, sensitive periods, disaster weather, local holidays."""


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
    and each bad line is named: a shift that needs a leader on shift (holidays, special periods,
    emergency mode) without one is an error, a shift under its minimum staff a warning."""
    from caseflow.services.duty.rota_import import import_rota
    from caseflow.workflow.engine import get_catalog

    actor = cli_actor(username)
    try:
        result = import_rota(db.session(), get_catalog(), file.read(), actor=actor, default_center=center_code,
                             dry_run=dry_run)
    except DomainError as exc:
        fail(exc, {"file": "FILE"})
    for warning in result.warnings:
        click.echo(f"warning: {warning.text('en')}", err=True)
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
    """The shifts starting from --from to --to (local days, inclusive), with everyone on them; a
    special day shows why it is special, its minimum staff and whether it needs a leader on shift."""
    from caseflow.services.duty.overview import duty_day, rota_between
    from caseflow.services.duty.rota import shift_rule

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
        rule = shift_rule(db.session(), s)
        if leader or rule.needs_leader:
            line += f"  leader on shift: {_names(leader or [])}"
        if rule.label:
            needs = ", leader on shift required" if rule.needs_leader else ""
            line += f"  [{rule.label}: min {rule.minimum}{needs}]"
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


RULE_KEYS = ("min_staff", "min_staff_holiday", "min_staff_special", "min_staff_emergency",
             "holiday_needs_leader", "special_needs_leader")


def _center_id(code: str) -> int:
    return _centers(code)[0].id


@rules_group.command("show")
@click.option("--center", "center_code", help="Center code (default: every center).")
@with_appcontext
def rules_show_command(center_code: str | None) -> None:
    """The rules in force per center; ``(default)`` marks a value from the CASEFLOW_DUTY_* settings."""
    from caseflow.services.duty.rules import center_rules

    for center in _centers(center_code):
        rules = center_rules(db.session(), center.id)
        click.echo(f"{center.code} {center.name}")
        for key in RULE_KEYS:
            value = getattr(rules, key)
            shown = ("yes" if value else "no") if isinstance(value, bool) else str(value)
            click.echo(f"  {key}: {shown}{'' if rules.own.get(key) is not None else ' (default)'}")
    db.session.rollback()


def _rule_value(key: str, text: str) -> object:
    if text == "default":
        return None
    if key.endswith("_leader"):
        if text.lower() in ("yes", "true", "1", "on"):
            return True
        if text.lower() in ("no", "false", "0", "off"):
            return False
        raise click.BadParameter(f"{key} takes yes, no or default", param_hint="RULE=VALUE")
    try:
        return int(text)
    except ValueError:
        raise click.BadParameter(f"{key} takes a whole number or default", param_hint="RULE=VALUE") from None


@rules_group.command("set")
@click.argument("center_code", metavar="CENTER")
@click.argument("pairs", nargs=-1, required=True, metavar="RULE=VALUE...")
@as_option
@with_appcontext
def rules_set_command(center_code: str, pairs: tuple[str, ...], username: str | None) -> None:
    """Set rules of CENTER, e.g. ``min_staff_holiday=4 holiday_needs_leader=yes special_needs_leader=default``
    (``default`` goes back to the configured setting). Rules: min_staff, min_staff_holiday,
    min_staff_special, min_staff_emergency (whole numbers), holiday_needs_leader, special_needs_leader
    (yes/no). Administrators only (or the command line itself); ledgered on the center."""
    from caseflow.services.duty.special_periods import set_center_rules

    changes: dict[str, object] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or key not in RULE_KEYS:
            raise click.BadParameter(f"{pair!r}: expected RULE=VALUE with RULE one of {', '.join(RULE_KEYS)}",
                                     param_hint="RULE=VALUE")
        changes[key] = _rule_value(key, text.strip())
    center_id = _center_id(center_code)
    try:
        set_center_rules(db.session(), center_id, changes, actor=cli_actor(username))
    except DomainError as exc:
        fail(exc, {k: k for k in RULE_KEYS})
    click.echo(f"{center_code}: " + ", ".join(f"{k}={'default' if v is None else v}" for k, v in changes.items()))


@period_group.command("add")
@click.option("--center", "center_code", required=True, help="Center code (a district's covers its streets).")
@click.option("--kind", type=click.Choice(PERIOD_KINDS), required=True)
@click.option("--name", required=True, help="e.g. 进博会, 台风“梅花”.")
@click.option("--from", "first", required=True, help="First local day, e.g. 2026-11-05.")
@click.option("--to", "last", required=True, help="Last local day (inclusive).")
@click.option("--min-staff", type=int, help="Staff its shifts need (default: the center's special-period minimum).")
@click.option("--note", default="")
@as_option
@with_appcontext
def period_add_command(center_code: str, kind: str, name: str, first: str, last: str, min_staff: int | None,
                       note: str, username: str | None) -> None:
    """Declare a special period; the leaders of shifts now short are warned at once."""
    from caseflow.services.duty.special_periods import declare_period

    first_day, last_day = _day(first, "--from"), _day(last, "--to")
    assert first_day is not None and last_day is not None
    try:
        period = declare_period(db.session(), _center_id(center_code), kind, name, first_day, last_day,
                                actor=cli_actor(username), min_staff=min_staff, note=note)
    except DomainError as exc:
        fail(exc, {"name": "--name", "first_day": "--from", "last_day": "--to", "min_staff": "--min-staff",
                   "kind": "--kind"})
    click.echo(f"special period #{period.id} {kind} {name}: {first_day} to {last_day}")


@period_group.command("list")
@click.option("--center", "center_code", required=True, help="Center code (its district's periods are listed too).")
@click.option("--all", "show_all", is_flag=True, help="Past and cancelled periods too.")
@with_appcontext
def period_list_command(center_code: str, show_all: bool) -> None:
    """The special periods that apply to a center, from today on (with --all: every one)."""
    from caseflow.services.duty.special_periods import list_periods

    periods = list_periods(db.session(), _center_id(center_code), since=None if show_all else _today(),
                           include_cancelled=show_all)
    codes = dict(db.session().execute(select(Center.id, Center.code)).all())
    for p in periods:
        cancelled = f"  cancelled: {p.cancel_reason}" if p.cancelled_at else ""
        staff = f"  min {p.min_staff}" if p.min_staff else ""
        click.echo(f"#{p.id} {codes.get(p.center_id)} {p.first_day} – {p.last_day}  {p.kind:11} {p.name}{staff}{cancelled}")
    if not periods:
        click.echo("no special periods")
    db.session.rollback()


@period_group.command("cancel")
@click.argument("period_id", type=int)
@click.option("--reason", required=True)
@as_option
@with_appcontext
def period_cancel_command(period_id: int, reason: str, username: str | None) -> None:
    """Cancel special period PERIOD_ID."""
    from caseflow.services.duty.special_periods import cancel_period

    try:
        cancel_period(db.session(), period_id, reason, actor=cli_actor(username))
    except DomainError as exc:
        fail(exc, {"reason": "--reason", "": "PERIOD_ID"})
    click.echo(f"special period #{period_id} cancelled")
