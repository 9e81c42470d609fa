"""The ``caseflow`` command. Commands live beside the code they drive."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup


def register_cli(app: Flask) -> None:
    """Attach the commands that need an app to ``app.cli`` (``flask --app wsgi ...`` too)."""
    from .database import demo_command, init_command

    for cmd in (init_command, demo_command):
        if cmd.name not in app.cli.commands:
            app.cli.add_command(cmd)
    for extra in _optional_commands():
        if extra.name not in app.cli.commands:
            app.cli.add_command(extra)


def _optional_commands() -> list[click.Command]:
    """Commands of other capabilities, registered when their modules are present."""
    import importlib

    out = []
    for mod, attr in (("caseflow.cli.run", "up_command"), ("caseflow.cli.worker", "worker_command"),
                      ("caseflow.cli.worker", "sweep_command"), ("caseflow.cli.users", "users_group"),
                      ("caseflow.cli.ledger", "ledger_group")):
        try:
            out.append(getattr(importlib.import_module(mod), attr))
        except (ImportError, AttributeError):
            continue
    return out


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
