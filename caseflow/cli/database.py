"""``caseflow init`` and ``caseflow demo``."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from caseflow.extensions import db


def initialise_database() -> None:
    """Migrate to the newest schema and load reference data."""
    from caseflow.migrate import upgrade
    from caseflow.reference import load_reference_data

    upgrade(db.engine)  # type: ignore[arg-type]
    load_reference_data(db.session())


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Migrate the database to the newest schema and load reference data."""
    initialise_database()
    click.echo(f"database ready: {db.engine.url.render_as_string(hide_password=True)}")  # type: ignore[union-attr]


@click.command("demo")
@click.option("--cases", default=300, show_default=True, help="How many demo cases.")
@click.option("--instructions", default=80, show_default=True, help="How many demo instructions.")
@with_appcontext
def demo_command(cases: int, instructions: int) -> None:
    """Load a realistic demo street (only into an empty database)."""
    from caseflow.demo import load_demo

    initialise_database()
    summary = load_demo(db.session(), current_app.extensions["caseflow.workflows"], cases=cases,
                        instructions=instructions)
    click.echo(summary)
