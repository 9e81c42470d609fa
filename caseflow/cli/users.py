"""``caseflow users create|token|list``: people and API tokens from the command line."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from caseflow.errors import ValidationFailed
from caseflow.extensions import db
from caseflow.models import CLIENT_KINDS, ROLES, Center, Department, Person


@click.group("users")
def users_group() -> None:
    """People who sign in, and API tokens for people and machine clients."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        # One line from standard input, so scripts never put a password on the command line.
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_group.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES),
              help="A role; repeat for several.")
@click.option("--department", "department_code", help="Department code (handlers need one).")
@click.option("--center", "center_code", help="Center code.")
@click.option("--full-name", default="", help="Display name (default: the username).")
@click.option("--email", default="")
@click.option("--phone", default="")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@with_appcontext
def create_command(username: str, roles: tuple[str, ...], department_code: str | None, center_code: str | None,
                   full_name: str, email: str, phone: str, password_stdin: bool) -> None:
    """Create person USERNAME with the given roles."""
    from caseflow.services.people import create_person

    session = db.session()
    department_id = center_id = None
    if department_code:
        dept = session.execute(select(Department).where(Department.code == department_code)).scalar_one_or_none()
        if dept is None:
            raise click.BadParameter(f"no department with code {department_code!r}", param_hint="--department")
        department_id, center_id = dept.id, dept.center_id
    if center_code:
        center = session.execute(select(Center).where(Center.code == center_code)).scalar_one_or_none()
        if center is None:
            raise click.BadParameter(f"no center with code {center_code!r}", param_hint="--center")
        center_id = center.id
    password = _read_password(password_stdin)
    try:
        person = create_person(session, username, full_name or username, password, list(roles),
                               department_id=department_id, center_id=center_id, email=email, phone=phone)
    except ValidationFailed as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}") from None
    click.echo(f"created {person.username} (id {person.id}) with roles {', '.join(roles)}")


@users_group.command("token")
@click.argument("name")
@click.option("--client", "client_kind", type=click.Choice([k for k in CLIENT_KINDS if k != "person"]),
              help="Issue a machine client's token named NAME instead of a person's token.")
@click.option("--label", default="", help="A name for a person's token (default: cli).")
@with_appcontext
def token_command(name: str, client_kind: str | None, label: str) -> None:
    """Issue an API token for person NAME (or for a machine client) and print it once."""
    from caseflow.security.tokens import issue_token

    session = db.session()
    if client_kind:
        token = issue_token(session, name, client_kind=client_kind)
        who = f"client {client_kind} {name!r}"
    else:
        person = session.execute(select(Person).where(Person.username == name.lower())).scalar_one_or_none()
        if person is None or not person.active:
            raise click.ClickException(f"no active person {name!r}")
        token = issue_token(session, label or "cli", person=person)
        who = f"person {person.username}"
    click.echo(f"token for {who} (shown once; keep it secret):", err=True)
    click.echo(token)


@users_group.command("list")
@with_appcontext
def list_command() -> None:
    """List people with their roles and departments."""
    for p in db.session().execute(select(Person).order_by(Person.username)).scalars():
        dept = p.department.code if p.department else "-"
        state = "" if p.active else " (inactive)"
        click.echo(f"{p.username:20} {','.join(sorted(p.roles)):28} {dept:10} {p.full_name}{state}")
