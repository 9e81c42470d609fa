"""Who is calling the API: a bearer token (people and machine clients) or the console session."""
from __future__ import annotations

from flask import request, session
from flask_smorest import abort

from caseflow.extensions import db
from caseflow.models import Person
from caseflow.security.actor import Actor
from caseflow.security.tokens import actor_for_token, token_touched


def current_actor(required: bool = True) -> Actor | None:
    """The authenticated actor; aborts with 401 when ``required`` and nobody is signed in."""
    # Cached per request (not on g: an app context can outlive a request).
    if "caseflow.actor" in request.environ:
        return request.environ["caseflow.actor"]  # type: ignore[no-any-return]
    actor = None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        dbs = db.session()
        actor = actor_for_token(dbs, header[7:].strip())
        if actor is None:
            abort(401, message="invalid or revoked API token")
        if token_touched(dbs):
            dbs.commit()  # keeps last_used_at (written at most once a minute)
    elif session.get("person_id"):
        person = db.session.get(Person, session["person_id"])
        if person is not None and person.active:
            actor = Actor.from_person(person)
    if actor is None and required:
        abort(401, message="authentication required: send 'Authorization: Bearer <token>' or sign in")
    request.environ["caseflow.actor"] = actor
    return actor
