"""Creating people, checking passwords, and the ``caseflow users`` commands."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from caseflow.errors import ValidationFailed
from caseflow.models import ApiToken, Person
from caseflow.security.tokens import actor_for_token
from caseflow.services.people import authenticate, create_person


def test_create_and_authenticate(session, world) -> None:  # type: ignore[no-untyped-def]
    p = create_person(session, "Wang.Li", "王力", "long-enough-1", ["handler"], department_id=world.roads.id)
    assert p.username == "wang.li" and p.roles == {"handler"}
    assert p.password_hash.startswith("$argon2id$") and "long-enough-1" not in p.password_hash
    assert authenticate(session, "WANG.LI", "long-enough-1").id == p.id
    assert authenticate(session, "wang.li", "wrong") is None
    assert authenticate(session, "nobody", "long-enough-1") is None
    p.active = False
    session.commit()
    assert authenticate(session, "wang.li", "long-enough-1") is None


@pytest.mark.parametrize("kwargs, field", [
    ({"username": "liaison"}, "username"),  # taken (the world has one)
    ({"username": "x"}, "username"),
    ({"username": "has space"}, "username"),
    ({"full_name": "  "}, "full_name"),
    ({"password": "short"}, "password"),
    ({"roles": []}, "roles"),
    ({"roles": ["wizard"]}, "roles"),
    ({"roles": ["handler"], "department_id": None}, "department_id"),
    ({"department_id": 999999}, "department_id"),
    ({"center_id": 999999}, "center_id"),
])
def test_validation_names_the_field(session, world, kwargs, field) -> None:  # type: ignore[no-untyped-def]
    args = {"username": "new_person", "full_name": "新人", "password": "long-enough-1", "roles": ["dispatcher"],
            "department_id": None, "center_id": None}
    args.update(kwargs)
    with pytest.raises(ValidationFailed) as exc:
        create_person(session, args.pop("username"), args.pop("full_name"), args.pop("password"), args.pop("roles"),
                      **args)
    assert exc.value.field == field
    assert session.execute(select(Person).where(Person.username == "new_person")).first() is None


def test_old_hash_is_refreshed_at_sign_in(session, world) -> None:  # type: ignore[no-untyped-def]
    p = world.people["liaison"]
    p.password_hash = PasswordHasher(time_cost=1, memory_cost=8192).hash("old-params-pw")
    session.commit()
    old = p.password_hash
    assert authenticate(session, "liaison", "old-params-pw") is not None
    session.refresh(p)
    assert p.password_hash != old and authenticate(session, "liaison", "old-params-pw") is not None


def test_cli_create_user_and_tokens(app, session, world) -> None:  # type: ignore[no-untyped-def]
    runner = app.test_cli_runner()
    r = runner.invoke(args=["users", "create", "zhao", "--role", "handler", "--department", "SAN",
                            "--full-name", "赵六", "--password-stdin"], input="a-good-password\n")
    assert r.exit_code == 0, r.output
    session.expire_all()
    zhao = session.execute(select(Person).where(Person.username == "zhao")).scalar_one()
    assert zhao.department_id == world.sanitation.id and zhao.roles == {"handler"}
    assert authenticate(session, "zhao", "a-good-password") is not None

    r = runner.invoke(args=["users", "create", "zhao", "--role", "handler", "--department", "SAN", "--password-stdin"],
                      input="a-good-password\n")
    assert r.exit_code != 0 and "username" in r.output
    r = runner.invoke(args=["users", "create", "qian", "--role", "admin", "--password-stdin"], input="short\n")
    assert r.exit_code != 0 and "password" in r.output
    r = runner.invoke(args=["users", "create", "sun", "--role", "handler", "--department", "NOPE", "--password-stdin"],
                      input="a-good-password\n")
    assert r.exit_code != 0 and "NOPE" in r.output

    r = runner.invoke(args=["users", "token", "zhao"])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[-1]
    actor = actor_for_token(session, token)
    assert actor is not None and actor.person_id == zhao.id and actor.roles == {"handler"}

    r = runner.invoke(args=["users", "token", "--client", "linkage_110", "市联动中心"])
    assert r.exit_code == 0, r.output
    actor = actor_for_token(session, r.stdout.strip().splitlines()[-1])
    assert actor is not None and actor.client == "linkage_110" and actor.person_id is None
    session.expire_all()
    assert session.execute(select(ApiToken).where(ApiToken.client_kind == "linkage_110")).scalar_one().name == "市联动中心"

    r = runner.invoke(args=["users", "list"])
    assert "zhao" in r.output and "liaison" in r.output
