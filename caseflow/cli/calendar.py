"""``caseflow calendar list|set|unset``: working-calendar overrides from the command line."""
from __future__ import annotations

from datetime import date, datetime

import click
from flask.cli import with_appcontext

from caseflow.errors import DomainError
from caseflow.extensions import db

from .actor import as_option, cli_actor, fail

PARAMS = {"center": "--center", "note": "--note"}


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint="DATE") from None


@click.group("calendar")
def calendar_group() -> None:
    """Working-calendar overrides: a date made a workday or a day off, for all or one center."""


@calendar_group.command("list")
@click.option("--year", type=int, help="Only this year.")
@click.option("--center", "center_code", help="Center code: its own overrides and the global ones.")
@with_appcontext
def list_command(year: int | None, center_code: str | None) -> None:
    """The overrides in date order; warns about years the statutory calendar does not cover."""
    from caseflow.deadlines.clock import calendar_for
    from caseflow.services.calendar_days import list_days

    try:
        days = list_days(db.session(), year=year, center_code=center_code)
    except DomainError as exc:
        fail(exc, PARAMS)
    for d in days:
        kind = "workday" if d.is_workday else "day off"
        click.echo(f"{d.day.isoformat()}  {kind:8} {d.center_code or '*':12} {d.note}")
    if not days:
        click.echo("no overrides")
    this_year = datetime.now().year
    first, last = (year, year) if year else (this_year, this_year + 1)
    missing = calendar_for(db.session()).uncovered_years(first, last)
    if missing:
        click.echo(f"warning: no statutory holiday data for {', '.join(map(str, missing))}: "
                   "Monday-Friday is assumed; add the holidays here or upgrade chinesecalendar", err=True)
    db.session.rollback()


@calendar_group.command("set")
@click.argument("day", metavar="DATE")
@click.argument("kind", type=click.Choice(["workday", "off"]), metavar="workday|off")
@click.option("--center", "center_code", help="Center code (default: every center).")
@click.option("--note", default="", help="Why (shown in the list and the ledger).")
@as_option
@with_appcontext
def set_command(day: str, kind: str, center_code: str | None, note: str, username: str | None) -> None:
    """Make DATE (YYYY-MM-DD) a workday or a day off; deadlines armed from now on follow it."""
    from caseflow.services.calendar_days import set_day

    when = _day(day)
    try:
        set_day(db.session(), actor=cli_actor(username), day=when, is_workday=kind == "workday",
                center_code=center_code, note=note)
    except DomainError as exc:
        fail(exc, PARAMS)
    click.echo(f"{when.isoformat()} is now a {'workday' if kind == 'workday' else 'day off'}"
               + (f" at {center_code}" if center_code else " everywhere"))


@calendar_group.command("unset")
@click.argument("day", metavar="DATE")
@click.option("--center", "center_code", help="Center code (default: the global override).")
@as_option
@with_appcontext
def unset_command(day: str, center_code: str | None, username: str | None) -> None:
    """Remove the override of DATE: the statutory calendar decides it again."""
    from caseflow.services.calendar_days import remove_day

    when = _day(day)
    try:
        remove_day(db.session(), actor=cli_actor(username), day=when, center_code=center_code)
    except DomainError as exc:
        fail(exc, PARAMS)
    click.echo(f"{when.isoformat()}: override removed")
