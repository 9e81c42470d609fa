"""The district center's queues in the dispatcher's and leader's console (/queues/escalated,
/queues/joint): difficult cases reported up and waiting for coordination (上报区城运中心), and
cases in joint handling (联合处置), the longest waiting first.

The lists come from :mod:`caseflow.services.cases.district` (the same query as
``GET /api/cases?queue=...``). From here the center starts joint handling of an escalated case
and approves a department's application to bring in more departments; everything else about a
case is on the dispatcher's case page.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from sqlalchemy import select
from werkzeug.wrappers import Response

from caseflow.errors import ValidationFailed
from caseflow.extensions import db
from caseflow.services.active_records import offered
from caseflow.models import Center, Department
from caseflow.services.cases import district, handling
from caseflow.workflow.engine import get_catalog

from .console_forms import new_form_token, submit_once, text, whole, whole_list
from .guards import QUEUE_ROLES, login_required
from .i18n import current_language, t
from .work import back, me

bp = Blueprint("dispatch_queues", __name__, url_prefix="/queues")
bp.add_app_template_global(new_form_token, "form_token")

LIMIT = 200


def queue_context(name: str) -> dict[str, Any]:
    """One queue's cases (with deadlines and parts), the counts of every queue, the choices."""
    from .pages import rows_for

    session = db.session()
    rows = rows_for(district.queue_cases(session, name, limit=LIMIT))
    centers = {c.id: c for c in session.execute(select(Center)).scalars()}
    person, _ = me()
    return {
        "name": name, "queues": district.QUEUES, "counts": district.queue_counts(session), "rows": rows,
        "labels": {q: district.QUEUE_LABELS[q].get(current_language()) or q for q in district.QUEUES},
        "parts": {r.item.id: handling.participants(session, r.item.id) for r in rows},
        "centers": centers, "is_dispatcher": "dispatcher" in person.roles,
        "departments": offered(session, Department),
    }


@bp.get("/")
@login_required(roles=QUEUE_ROLES)
def index() -> str:
    """The queues' entry (the navigation's link): the escalated cases first."""
    return render_template("dispatch/queues.html", **queue_context("escalated"))


@bp.get("/<any(escalated, joint):name>")
@login_required(roles=QUEUE_ROLES)
def page(name: str) -> str:
    """A district queue: escalated (waiting for coordination) or joint handling."""
    return render_template("dispatch/queues.html", **queue_context(name))


@bp.post("/cases/<int:case_id>/<any('start-joint', 'approve-joint'):action>")
@login_required(roles=QUEUE_ROLES)
def case_action(case_id: int, action: str) -> Response:
    """Start joint handling of an escalated case, or approve a department's application to join
    more departments; done once per form."""
    _, actor = me()
    session, catalog = db.session(), get_catalog()

    def call() -> Any:
        comment = text("comment")
        if action == "start-joint":
            return handling.start_joint_handling(
                session, catalog, case_id, actor=actor, department_id=whole("department_id", required=True),
                cooperating_department_ids=whole_list("cooperating_department_ids") or None, comment=comment)
        ids = whole_list("department_ids")
        if not ids:
            raise ValidationFailed(t("form.choose"), field="department_ids")
        return handling.approve_joint_handling(session, catalog, case_id, actor=actor, department_ids=ids,
                                               comment=comment)

    return submit_once(call, t("flash.done.queue." + action),
                       lambda _result: back("dispatch_queues.page", name="escalated" if action == "start-joint"
                                            else "joint"))
