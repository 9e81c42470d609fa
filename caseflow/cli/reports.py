"""``caseflow reports generate-due`` (for cron) and ``caseflow reports generate KIND [START]``."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from caseflow.extensions import db


@click.group("reports")
def reports_group() -> None:
    """Period reports (日研判、周提示、月通报、季分析、年总结)."""


@reports_group.command("generate-due")
@with_appcontext
def generate_due_command() -> None:
    """Generate and store every report whose period has ended and that is not stored yet."""
    from caseflow.analysis.reports import generate_due_reports

    made = generate_due_reports(db.session())
    click.echo("reports: " + (", ".join(made) if made else "none due"))


@reports_group.command("generate")
@click.argument("kind", type=click.Choice(["day", "week", "month", "quarter", "year"]))
@click.argument("start", required=False)
@with_appcontext
def generate_command(kind: str, start: str | None) -> None:
    """(Re)generate the report of KIND containing START (default: the last completed period)."""
    from caseflow.analysis.periods import parse_period
    from caseflow.analysis.reports import store_report

    row = store_report(db.session(), parse_period(kind, start))
    click.echo(f"report {row.id}: {kind} {row.period_start} in {row.duration_ms} ms")
