"""The real app plus one deliberately slow endpoint, for killing a web worker mid-request.

``gunicorn tests.support.fault_app:app``. ``POST /api/_fault/slow-register/<case_id>`` (under /api/ so a bearer token skips CSRF) locks the
case row (SELECT ... FOR UPDATE: a transaction is open), writes this process's pid to
``$CASEFLOW_FAULT_DIR/web-<case_id>.pid``, sleeps ``?sleep=`` seconds (default 5), then registers
the case through the case service. Killing the process during the sleep must leave no trace.
Never imported by the application itself.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from flask import jsonify, request

from caseflow import create_app
from caseflow.extensions import db
from caseflow.models import Person
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.cases import review
from caseflow.workflow.engine import get_catalog

app = create_app()


@app.post("/api/_fault/slow-register/<int:case_id>")
def slow_register(case_id: int):  # type: ignore[no-untyped-def]
    """Hold the case's row lock while sleeping, then register it."""
    session = db.session()
    transition.lock_item(session, "case", case_id)
    Path(os.environ["CASEFLOW_FAULT_DIR"], f"web-{case_id}.pid").write_text(str(os.getpid()))
    time.sleep(float(request.args.get("sleep", 5)))
    person = session.query(Person).filter_by(username="dispatcher").one()
    case = review.register(session, get_catalog(), case_id, actor=Actor.from_person(person))
    return jsonify({"id": case.id, "state": case.state})
