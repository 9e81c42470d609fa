"""``caseflow ledger verify``."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from caseflow.extensions import db


@click.group("ledger")
def ledger_group() -> None:
    """The append-only ledger (台账)."""


@ledger_group.command("verify")
@with_appcontext
def verify_command() -> None:
    """Check every item's hash chain; name each edited, deleted or reordered row. Exit 1 on any."""
    from caseflow.services.ledger_verify import verify_ledger

    from sqlalchemy.orm import Session

    # A fresh session: verification must read what is in the database, not a cached object.
    with Session(db.engine) as session:
        checked, problems = verify_ledger(session)
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        click.echo(f"ledger verify: {checked} entries, {len(problems)} problem(s)", err=True)
        sys.exit(1)
    click.echo(f"ledger verify: {checked} entries, chain intact")
