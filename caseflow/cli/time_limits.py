"""``caseflow time-limits list|set|unset``: the case time-limit table (处置时限) from the command line."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import TIERS
from caseflow.models.case_parts import TIME_LIMIT_CLOCKS, TIME_LIMIT_STAGES

from .actor import as_option, cli_actor, fail

SOURCE_TEXT = {"override": "override", "default": "default", "category_default": "default (category)"}


@click.group("time-limits")
def time_limits_group() -> None:
    """Case time limits (处置时限): sign, handle and check per tier and category."""


@time_limits_group.command("list")
@click.option("--category", "category_code", help="Category code: every tier and stage for that category.")
@with_appcontext
def list_command(category_code: str | None) -> None:
    """The limits in force and where each comes from (override rows carry their id)."""
    from caseflow.services.cases.time_limits import effective_limits

    try:
        limits = effective_limits(db.session(), category_code)
    except DomainError as exc:
        fail(exc, {"category": "--category"})
    click.echo(f"{'tier':10} {'category':12} {'stage':7} {'duration':9} {'clock':8} source")
    for e in limits:
        source = SOURCE_TEXT[e.source] + (f" #{e.limit_id}" if e.limit_id else "")
        click.echo(f"{e.tier:10} {e.category_code or '*':12} {e.stage:7} {e.duration:9} {e.clock:8} {source}")


@time_limits_group.command("set")
@click.argument("tier", type=click.Choice(TIERS), metavar="TIER")
@click.argument("stage", type=click.Choice(TIME_LIMIT_STAGES), metavar="STAGE")
@click.argument("duration")
@click.option("--category", "category_code", help="Category code (default: the tier's own limit).")
@click.option("--clock", type=click.Choice(TIME_LIMIT_CLOCKS), default="working", show_default=True,
              help="working: on the working calendar (d = one working day); wall: around the clock.")
@as_option
@with_appcontext
def set_command(tier: str, stage: str, duration: str, category_code: str | None, clock: str,
                username: str | None) -> None:
    """Set the limit of STAGE (sign, handle, check) for TIER (simple, general, complex, difficult) to
    DURATION (4h, 1d, 30m, 1h30m); applies to deadlines armed from now on. Ledgered under the
    --as administrator (default: the command line itself)."""
    from caseflow.services.cases.time_limits import set_override

    actor = cli_actor(username)
    try:
        e = set_override(db.session(), actor=actor, tier=tier, stage=stage, duration=duration, clock=clock,
                         category_code=category_code)
    except DomainError as exc:
        fail(exc, {"category": "--category", "duration": "DURATION", "clock": "--clock"})
    click.echo(f"time limit #{e.limit_id}: {tier} {category_code or '*'} {stage} = {e.duration} ({e.clock} clock)")


@time_limits_group.command("unset")
@click.argument("tier", type=click.Choice(TIERS), metavar="TIER")
@click.argument("stage", type=click.Choice(TIME_LIMIT_STAGES), metavar="STAGE")
@click.option("--category", "category_code", help="Category code (default: the tier's own limit).")
@as_option
@with_appcontext
def unset_command(tier: str, stage: str, category_code: str | None, username: str | None) -> None:
    """Remove the override of STAGE (sign, handle, check) for TIER (simple, general, complex,
    difficult), and category: the default applies again."""
    from caseflow.services.cases.time_limits import find_override, remove_override

    actor = cli_actor(username)
    try:
        row = find_override(db.session(), tier, stage, category_code)
        if row is None:
            raise click.ClickException(f"no override for {tier} {category_code or '*'} {stage}")
        remove_override(db.session(), row.id, actor=actor)
    except DomainError as exc:
        fail(exc, {"category": "--category"})
    click.echo(f"removed the override of {tier} {category_code or '*'} {stage}")
