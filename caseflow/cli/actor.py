"""Who a command acts as, and how a service's refusal reads on the command line."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import click
from sqlalchemy import select

from caseflow.errors import DomainError
from caseflow.extensions import db
from caseflow.models import Person
from caseflow.security.actor import Actor

CLI_CLIENT = "cli"


def as_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``--as USERNAME``: the person the change is ledgered under."""
    return click.option("--as", "username", metavar="USERNAME",
                        help="Act as this person (their roles apply; the ledger names them). "
                             "Default: the command line itself, as the system.")(fn)


def cli_actor(username: str | None) -> Actor:
    """The person named by ``--as``, else the system acting for the command line.

    Whoever runs ``caseflow`` on the server already holds the database, so the command line is
    trusted as the system; ``--as`` records who it was.
    """
    if not username:
        return Actor.system(CLI_CLIENT)
    person = db.session().execute(
        select(Person).where(Person.username == username.strip().lower())).scalar_one_or_none()
    if person is None or not person.active:
        raise click.BadParameter(f"no active person {username!r}", param_hint="--as")
    return Actor.from_person(person)


def fail(exc: DomainError, params: dict[str, str] | None = None) -> NoReturn:
    """Exit with the service's message, naming the field as the command's argument or option,
    and every line of a row-by-row report."""
    where = (params or {}).get(exc.field or "", exc.field or "")
    lines = [f"{where}: {exc.message}" if where else exc.message]
    lines += [f"  {line}" for line in exc.details.get("report", [])]
    raise click.ClickException("\n".join(lines))
