"""Console forms for an instruction's severity reports and follow-up (seed 001 篇三 四(二)2-3).

Until now these steps were only in the API; here each role gets them where it works:

- the unit (handler, /handler/instructions/<id>): report a larger or major event (较大/重大事件,
  to the deputy leader in charge) and, when the matter cannot be finished on the spot, open a
  follow-up (后续跟进, explained to 110). The follow-up's result is reported with the page's own
  result form (``handler.py``), which the workflow allows from ``follow_up``.
- the liaison (/liaison/<id>): the same two steps on the unit's word by telephone, the report of a
  major event on to the principal leader (on the deputy's behalf), and the result (also the
  follow-up's), which the board then reports to 110.
- a leader: the open larger and major events on the dashboard (/leader), each with its page
  (/leader/instructions/<id>) where the deputy leader reports a major event on to the principal
  leader (由分管领导向局主要领导报告).

Each form calls the service function the API calls for the same step
(``caseflow.api.instructions.ACTIONS``: ``severity``, ``report-to-principal``, ``follow-up``,
``result``), is done once however often it is sent (:func:`console_forms.submit_once`), needs
the CSRF token (``hooks``), and a refusal names the field in Chinese.

The pages draw the forms from include templates (``templates/instruction_steps/``) that read
:func:`steps_view` and :func:`severity_watch` as template globals, so the routes that render
those pages need no change.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from caseflow.errors import Conflict, DomainError, InvalidTransition, NotFound, TransitionRejected
from caseflow.extensions import db
from caseflow.models import Instruction, LedgerEntry, Person
from caseflow.security.actor import Actor
from caseflow.services import instructions as svc
from caseflow.services.attachments import visible_item
from caseflow.workflow.engine import WorkflowCatalog, get_catalog
from caseflow.workflow.instruction_actions import REPORTABLE_SEVERITIES

from .console_forms import choice, new_form_token, submit_once, text
from .guards import current_person, login_required
from .i18n import t
from .liaison_transfer import refusal
from .work import back, me

bp = Blueprint("instruction_steps", __name__)
bp.add_app_template_global(new_form_token, "form_token")  # the forms' one-time token (as liaison.py)

# URL action -> the instruction workflow's trigger (the API's action names).
TRIGGERS = {"severity": "report_severity", "report-to-principal": "report_to_principal",
            "follow-up": "open_follow_up", "result": "report_result"}
# The ledger entries the pages list as the severity and follow-up history.
HISTORY_TRIGGERS = ("report_severity", "report_to_principal", "open_follow_up", "report_result")
WATCHED_SEVERITIES = ("larger", "major")


# -- the steps ---------------------------------------------------------------------------------

def _severity(s: Session, c: WorkflowCatalog, item_id: int, actor: Actor) -> Any:
    return svc.report_severity(s, c, item_id, actor=actor, severity=choice("severity", REPORTABLE_SEVERITIES))


def _principal(s: Session, c: WorkflowCatalog, item_id: int, actor: Actor) -> Any:
    return svc.report_to_principal(s, c, item_id, actor=actor, comment=text("comment", max_len=2000))


def _follow_up(s: Session, c: WorkflowCatalog, item_id: int, actor: Actor) -> Any:
    return svc.open_follow_up(s, c, item_id, actor=actor, explanation=text("explanation", required=True,
                                                                             max_len=4000))


def _result(s: Session, c: WorkflowCatalog, item_id: int, actor: Actor) -> Any:
    return svc.report_result(s, c, item_id, actor=actor, result=text("result", required=True, max_len=4000),
                             place=text("place", max_len=200))


STEPS: dict[str, Callable[[Session, WorkflowCatalog, int, Actor], Any]] = {
    "severity": _severity, "report-to-principal": _principal, "follow-up": _follow_up, "result": _result,
}


def labels() -> dict[str, str]:
    """The fields' names on these forms, for refusals that name the field."""
    return {"severity": t("field.severity"), "explanation": t("steps.field.follow_up"),
            "result": t("field.result"), "place": t("field.place"), "comment": t("field.comment")}


def run(item_id: int, action: str, actor: Actor) -> Any:
    """Run one step through the instruction services. Field errors name the field; a workflow
    refusal (wrong state, not a major event, a lost race) is explained about the instruction."""
    session = db.session()
    item = session.get(Instruction, item_id)
    if item is None:  # the route checked; deleted in between
        raise NotFound(f"instruction {item_id} not found")
    try:
        return STEPS[action](session, get_catalog(), item_id, actor)
    except (InvalidTransition, Conflict, TransitionRejected) as exc:
        if exc.field:
            raise
        raise DomainError(refusal(exc, item)) from exc


def _submit(item_id: int, action: str, endpoint: str) -> Response:
    """Run the step once per form and go back to the page it came from (``endpoint``)."""
    _, actor = me()
    return submit_once(lambda: run(item_id, action, actor), t("flash.done.steps." + action),
                       lambda _result: back(endpoint, item_id=item_id), labels())


@bp.post("/handler/instructions/<int:item_id>/steps/<any(severity, 'follow-up'):action>")
@login_required(roles=["handler"])
def handler_step(item_id: int, action: str) -> Response:
    """The unit reports a larger or major event, or opens a follow-up; another unit's instruction
    is not found (404, audited), as on the unit's instruction page."""
    _, actor = me()
    try:
        visible_item(db.session(), "instruction", item_id, actor, f"instruction {action}")
    except DomainError:
        abort(404)
    return _submit(item_id, action, "handler_console.instruction")


@bp.post("/liaison/<int:item_id>/steps/<any(severity, 'report-to-principal', 'follow-up', result):action>")
@login_required(roles=["liaison"])
def liaison_step(item_id: int, action: str) -> Response:
    """The liaison records a step the unit or the deputy leader reported by telephone."""
    if db.session.get(Instruction, item_id) is None:
        abort(404)
    return _submit(item_id, action, "liaison_console.instruction")


@bp.get("/leader/instructions/<int:item_id>")
@login_required(roles=["leader"])
def leader_instruction(item_id: int) -> str:
    """One instruction for a leader: its facts, the severity reports and follow-up so far, and
    (for a major event) the report on to the principal leader."""
    from .pages import state_label

    item = db.session.get(Instruction, item_id)
    if item is None:
        abort(404)
    return render_template("instruction_steps/leader_instruction.html", item=item, state_label=state_label(item))


@bp.post("/leader/instructions/<int:item_id>/steps/<any('report-to-principal'):action>")
@login_required(roles=["leader"])
def leader_step(item_id: int, action: str) -> Response:
    """The deputy leader reports a major event on to the principal leader (ledgered with the time)."""
    if db.session.get(Instruction, item_id) is None:
        abort(404)
    return _submit(item_id, action, "instruction_steps.leader_instruction")


# -- what the pages show -----------------------------------------------------------------------

@dataclass
class HistoryLine:
    """One severity report, follow-up or result from the instruction's ledger."""

    entry: LedgerEntry
    actor: Person | None
    reported_to: Person | None

    @property
    def label(self) -> str:
        """What happened, in the page's language (the severity named for a report)."""
        payload = self.entry.payload or {}
        if self.entry.trigger == "report_severity":
            return t("steps.history.severity", severity=t("severity." + str(payload.get("severity", ""))))
        return t("steps.history." + self.entry.trigger)

    @property
    def detail(self) -> str:
        """The words given with the step (explanation, result, comment)."""
        payload = self.entry.payload or {}
        return str(payload.get("explanation") or payload.get("result") or self.entry.comment or "")


@dataclass
class StepsView:
    """What the include templates need: the signed-in person's triggers from the instruction's
    state and the severity / follow-up history."""

    item: Instruction
    triggers: set[str] = field(default_factory=set)
    history: list[HistoryLine] = field(default_factory=list)

    @property
    def follow_up(self) -> str | None:
        """The follow-up explanation while the instruction waits in follow-up."""
        return self.item.record("follow_up") if self.item.state == "follow_up" else None

    @property
    def reported_to_principal(self) -> datetime | None:
        """When the major event was last reported on to the principal leader, if it was."""
        times = [h.entry.at for h in self.history if h.entry.trigger == "report_to_principal"]
        return times[-1] if times else None

    def can(self, action: str) -> bool:
        """Whether the person may take ``action`` (a URL action) now; the service decides the rest."""
        return TRIGGERS[action] in self.triggers


def _when(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(raw)) if raw else None
    except ValueError:
        return None


def _person(session: Session, person_id: Any) -> Person | None:
    return session.get(Person, int(person_id)) if isinstance(person_id, int) else None


def steps_view(item: Instruction) -> StepsView:
    """The instruction's severity and follow-up steps for the signed-in person (template global)."""
    session = db.session()
    person = current_person()
    roles = set(person.roles) if person is not None else set()
    definition = get_catalog().definition(item.workflow, item.workflow_version)
    triggers = {tr.trigger for tr in definition.triggers_from(item.state) if set(tr.roles) & roles}
    entries = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == "instruction", LedgerEntry.item_id == item.id,
        LedgerEntry.trigger.in_(HISTORY_TRIGGERS)).order_by(LedgerEntry.seq)).scalars()
    history = [HistoryLine(e, _person(session, e.actor_id), _person(session, (e.payload or {}).get(
        "reported_to_person_id"))) for e in entries]
    return StepsView(item, triggers, history)


@dataclass
class Watched:
    """An open larger or major event on the leader's dashboard."""

    item: Instruction
    state_label: str
    reported_to: Person | None  # whom the latest report went to
    reported_at: datetime | None  # when the latest report was made
    to_principal: bool  # the major event went on to the principal leader


def severity_watch(limit: int = 50) -> list[Watched]:
    """Open instructions marked larger or major, newest first (template global for /leader)."""
    from .pages import open_filter, state_label

    session = db.session()
    items = session.execute(select(Instruction).where(
        Instruction.severity.in_(WATCHED_SEVERITIES), open_filter(Instruction))
        .order_by(Instruction.received_at.desc(), Instruction.id.desc()).limit(limit)).scalars()
    out = []
    for item in items:
        reports = item.record("severity_reports") or []
        last = reports[-1] if reports else {}
        out.append(Watched(item, state_label(item), _person(session, last.get("person_id")), _when(last.get("at")),
                           any(r.get("to") == "principal" for r in reports)))
    return out


bp.add_app_template_global(steps_view, "instruction_steps")
bp.add_app_template_global(severity_watch, "severity_watch")
