"""The ``caseflow`` command. Commands live beside the code they drive."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_cli(app: Flask) -> None:
    """Attach the commands that need an app to ``app.cli`` (``flask --app wsgi ...`` too)."""
    from .calendar import calendar_group
    from .database import demo_command, init_command
    from .duty import duty_group
    from .ledger import ledger_group
    from .reports import reports_group
    from .run import up_command
    from .time_limits import time_limits_group
    from .users import users_group
    from .worker import sweep_command, worker_command

    for cmd in (init_command, demo_command, up_command, worker_command, sweep_command, users_group, ledger_group,
                reports_group, duty_group, time_limits_group, calendar_group):
        if cmd.name not in app.cli.commands:
            app.cli.add_command(cmd)


def _create_app() -> Flask:
    from caseflow import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_default_commands=False, add_version_option=False)
def main() -> None:
    """caseflow: cases, emergency instructions and the duty watch."""


from .workflows import workflows_group  # noqa: E402  (the group must exist first)

# Added to the group itself: `caseflow workflows check` must work when definitions are broken
# and the app therefore refuses to start.
main.add_command(workflows_group)
