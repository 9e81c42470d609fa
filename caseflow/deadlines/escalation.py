"""Escalation chains: who is told, in which order, until someone acknowledges or the item moves on.

A chain is declared in the workflow YAML (``escalations:``) and started when a deadline
expires. :func:`start_chain` copies the chain's steps onto an ``EscalationRun`` row as plain
dicts (durations already in seconds), so editing or reloading the YAML never changes a chain
in flight. Step semantics:

* ``after``: delay before the step's first round, counted from the chain start for the first
  step and from the previous round for the others;
* ``notify``: targets resolved to people when the round runs (see :mod:`.targets`);
* ``repeat: N``: N more rounds of the same step, ``every`` apart (so 1 + N rounds in all).

Each round (:func:`advance`) runs in one transaction under the item's row lock, then the run's
(lock order item -> run, as transitions and deadline firing do): one ``EscalationNotice`` per
person, one outbox ``Notification`` per person and preferred channel, and one ledger entry
``escalate:<chain>`` on the item. The next round is an RQ job ``escalation-<run id>-<n>``
(``n`` = the round's ordinal, so re-scheduling a round replaces, never duplicates) scheduled
after commit on the deadlines queue; :func:`sweep_due` recovers rounds whose job was lost.

A chain stops (``stopped``) when the item has left the state visit that started it,
ends (``done``) after its last round, and stops for good when acknowledged
(:func:`acknowledge`).

Preferred channels (``Person.channels``), in order, each entry one of:

* ``"email"`` / ``"sms"``: to ``person.email`` / ``person.phone``;
* ``"<channel>:<address>"``, e.g. ``"wecom:https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=..."``,
  ``"webhook:https://..."`` or ``"email:other@example.org"``: to that address (split at the
  first colon, so URLs keep theirs);
* ``{"channel": "wecom", "address": "https://..."}``: the same as a mapping.

An empty list means ``["email"]`` when the person has an e-mail address. A person with no
usable channel still gets the notice (the console shows it); the ledger entry lists them as
unreachable.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.errors import Conflict, NotFound
from caseflow.extensions import get_queue
from caseflow.models import Deadline, EscalationNotice, EscalationRun, Person, WorkflowItem, utcnow
from caseflow.notify import outbox
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.access import deny, record_audit
from caseflow.services.unit_of_work import transaction
from caseflow.worktime import parse_duration
from caseflow.workflow.definition import StepSpec
from caseflow.workflow.engine import WorkflowCatalog

from .emergency import emergency_active
from .scheduling import ceil_second
from .targets import item_center_id, resolve_targets, target_label

log = logging.getLogger(__name__)

ADVANCE_JOB = "caseflow.jobs.escalations.advance_escalation"
#: Roles that may acknowledge any run, whether or not they were told.
ACK_ROLES = ("leader", "duty_lead", "admin")
PERSON_CHANNELS = ("email", "sms", "wecom", "webhook")
_WALL_DAY = timedelta(days=1)  # escalation delays are wall-clock: "1d" is 24 hours


# --- scheduling ------------------------------------------------------------------------------

def escalation_job_id(run_id: int, round_no: int) -> str:
    """Deterministic job id of a run's round (no colons: RQ 2)."""
    return f"escalation-{run_id}-{round_no}"


def round_number_of(steps: list[dict[str, Any]], step_index: int, repeat_index: int) -> int:
    """The ordinal (0-based) of the round at ``step_index``/``repeat_index`` across all steps."""
    return sum(1 + int(s.get("repeat", 0)) for s in steps[:step_index]) + repeat_index


def round_number(run: EscalationRun) -> int:
    """The ordinal (0-based) of the run's next round."""
    return round_number_of(run.steps, run.step_index, run.repeat_index)


def _queue_name() -> str:
    cfg = current_app.config
    return str(cfg.get("ESCALATION_QUEUE") or cfg["DEADLINE_QUEUE"])


def schedule_round(run_id: int, round_no: int, at: datetime) -> None:
    """Schedule the advance job for ``at`` (rounded up to the second: never early)."""
    get_queue(_queue_name()).enqueue_at(
        ceil_second(at), ADVANCE_JOB, run_id, job_id=escalation_job_id(run_id, round_no),
        result_ttl=3600, failure_ttl=7 * 24 * 3600, job_timeout=120,
    )


def enqueue_round_now(run_id: int, round_no: int) -> None:
    """Run the advance job as soon as a worker is free (used by the sweeper)."""
    get_queue(_queue_name()).enqueue(
        ADVANCE_JOB, run_id, job_id=escalation_job_id(run_id, round_no),
        result_ttl=3600, failure_ttl=7 * 24 * 3600, job_timeout=120,
    )


# --- starting --------------------------------------------------------------------------------

def _seconds(text: str) -> int:
    return int(parse_duration(text, day_length=_WALL_DAY).total_seconds())


def copy_steps(steps: tuple[StepSpec, ...], mode: str) -> list[dict[str, Any]]:
    """The steps as plain JSON dicts, durations resolved to seconds, for the run row."""
    return [
        {"after": s.after, "after_s": _seconds(s.after), "notify": list(s.notify),
         "repeat": int(s.repeat), "every": s.every, "every_s": _seconds(s.every), "mode": mode}
        for s in steps
    ]


def start_chain(
    session: Session,
    catalog: WorkflowCatalog,
    item: WorkflowItem,
    chain_name: str,
    now: datetime,
    effects: Effects,
    deadline: Deadline | None = None,
) -> EscalationRun:
    """Start ``chain_name`` on ``item`` in the caller's transaction (the caller holds the
    item's lock and commits); the first round is scheduled after commit.

    Uses the chain's ``emergency_steps`` while the item's center is in emergency mode.
    Starting the same chain twice for one state visit returns the run already active.
    Raises ``KeyError`` when the item's workflow has no such chain.
    """
    existing = session.execute(
        select(EscalationRun).where(
            EscalationRun.item_type == item.item_type, EscalationRun.item_id == item.id,
            EscalationRun.chain == chain_name, EscalationRun.state == item.state,
            EscalationRun.state_seq == item.state_seq, EscalationRun.status == "active",
        )
    ).scalars().first()
    if existing is not None:
        return existing
    definition = catalog.definition(item.workflow, item.workflow_version)
    try:
        spec = definition.escalations[chain_name]
    except KeyError:
        raise KeyError(f"workflow {definition.name} v{definition.version} has no escalation {chain_name!r}") from None
    emergency = bool(spec.emergency_steps) and emergency_active(session, item_center_id(session, item))
    steps = copy_steps(spec.emergency_steps if emergency else spec.steps, "emergency" if emergency else "normal")
    run = EscalationRun(
        item_type=item.item_type, item_id=item.id, chain=chain_name,
        deadline_id=deadline.id if deadline is not None else None, state=item.state,
        state_seq=item.state_seq, steps=steps, step_index=0, repeat_index=0, status="active",
        started_at=now, next_at=now + timedelta(seconds=steps[0]["after_s"]),
    )
    session.add(run)
    session.flush()
    effects.add(f"schedule escalation {run.id}", schedule_round, run.id, 0, run.next_at)
    return run


# --- one round -------------------------------------------------------------------------------

def person_addresses(person: Person) -> list[tuple[str, str]]:
    """``(channel, address)`` pairs from the person's preferred channels (see module doc)."""
    entries = list(person.channels or []) or (["email"] if person.email else [])
    out: list[tuple[str, str]] = []
    for entry in entries:
        if isinstance(entry, dict):
            name, address = str(entry.get("channel", "")), str(entry.get("address") or "")
        else:
            name, _, address = str(entry).partition(":")
        name, address = name.strip(), address.strip()
        if not address:
            address = {"email": person.email, "sms": person.phone}.get(name, "") or ""
        if name not in PERSON_CHANNELS or not address or len(address) > 255:
            # An unusable entry must not abort the round for everyone else; it is skipped.
            log.warning("person %s: unusable notification channel entry %r", person.id, name)
            continue
        if (name, address) not in out:
            out.append((name, address))
    return out


def _lang() -> str:
    return str(current_app.config.get("LANGUAGE", "zh")) if has_app_context() else "zh"


def _local(t: datetime) -> str:
    tz = current_app.config.get("TIMEZONE", "Asia/Shanghai") if has_app_context() else "Asia/Shanghai"
    return t.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def _chain_label(catalog: WorkflowCatalog, item: WorkflowItem, chain: str, lang: str) -> str:
    try:
        raw = catalog.definition(item.workflow, item.workflow_version).raw
    except KeyError:
        return chain
    label = ((raw.get("escalations") or {}).get(chain) or {}).get("label") or {}
    return str(label.get(lang) or label.get("zh") or chain)


def _item_title(catalog: WorkflowCatalog, item: WorkflowItem, lang: str) -> tuple[str, str]:
    """(item title such as '应急联动指令 110-0001', state label)."""
    try:
        d = catalog.definition(item.workflow, item.workflow_version)
        kind, state = d.title.get(lang) or d.title.get("zh") or item.item_type, d.label(item.state, lang)
    except KeyError:
        kind, state = item.item_type, item.state
    ref = getattr(item, "number", None) or f"#{item.id}"
    return f"{kind} {ref}", state


def _message(catalog: WorkflowCatalog, item: WorkflowItem, run: EscalationRun, step: dict[str, Any],
             target: str) -> tuple[str, str, dict[str, Any]]:
    """Subject, body and payload of one person's notice for the current round."""
    lang = _lang()
    title, state = _item_title(catalog, item, lang)
    chain = _chain_label(catalog, item, run.chain, lang)
    rounds = 1 + int(step.get("repeat", 0))
    if lang == "en":
        subject = f"[Escalation] {chain}: {title}"
        body = (f"{title} has been '{state}' since {_local(item.state_entered_at)}.\n"
                f"Escalation '{chain}', step {run.step_index + 1}, round {run.repeat_index + 1} of {rounds}; "
                f"you are told as {target_label(target, 'en')}.\n"
                f"Acknowledge in the console or POST /api/escalations/{run.id}/acknowledge.")
    else:
        subject = f"【催办】{chain}：{title}"
        body = (f"{title} 自 {_local(item.state_entered_at)} 起处于“{state}”状态。\n"
                f"催办“{chain}”第 {run.step_index + 1} 级，第 {run.repeat_index + 1}/{rounds} 次；"
                f"您作为{target_label(target)}收到此通知。\n"
                f"请在控制台确认，或 POST /api/escalations/{run.id}/acknowledge。")
    payload = {"kind": "escalation", "run_id": run.id, "chain": run.chain, "item_type": item.item_type,
               "item_id": item.id, "state": item.state, "step": run.step_index, "repeat": run.repeat_index,
               "target": target}
    return subject, body, payload


def _notify_round(session: Session, catalog: WorkflowCatalog, item: WorkflowItem, run: EscalationRun,
                  now: datetime, effects: Effects) -> dict[str, Any]:
    """Tell every target of the current step; returns the ledger payload."""
    step = run.steps[run.step_index]
    notified: list[dict[str, Any]] = []
    unresolved: list[str] = []
    unreachable: list[int] = []
    seen: set[int] = set()
    for target in step["notify"]:
        try:
            people = resolve_targets(session, item, target)
        except ValueError:
            log.error("escalation run %s: unknown target %r", run.id, target)
            people = []
        if not people:
            unresolved.append(target)
        for person in people:
            if person.id in seen:
                continue  # one person named by two targets is told once per round
            seen.add(person.id)
            session.add(EscalationNotice(run_id=run.id, step_index=run.step_index, repeat_index=run.repeat_index,
                                         target=target, person_id=person.id, notified_at=now))
            subject, body, payload = _message(catalog, item, run, step, target)
            ids = []
            for channel, address in person_addresses(person):
                extra = {"mentioned_mobile_list": [person.phone]} if channel == "wecom" and person.phone else {}
                row = outbox.queue_notification(
                    session, channel=channel, address=address, person_id=person.id, item_type=item.item_type,
                    item_id=item.id, subject=subject, body=body, payload={**payload, **extra}, effects=effects,
                )
                ids.append(row.id)
            if not ids:
                unreachable.append(person.id)
            notified.append({"target": target, "person_id": person.id, "notifications": ids})
    if unresolved:
        log.warning("escalation run %s (%s %s): nobody holds %s", run.id, item.item_type, item.id, unresolved)
    return {"run_id": run.id, "chain": run.chain, "mode": step.get("mode", "normal"), "step": run.step_index,
            "repeat": run.repeat_index, "notified": notified, "unresolved": unresolved, "unreachable": unreachable}


def _move_on(run: EscalationRun, now: datetime) -> None:
    """Advance the run's indexes past the round just notified and set ``next_at``."""
    step = run.steps[run.step_index]
    if run.repeat_index < int(step.get("repeat", 0)):
        run.repeat_index += 1
        run.next_at = now + timedelta(seconds=int(step.get("every_s", step.get("after_s", 0))))
    elif run.step_index + 1 < len(run.steps):
        run.step_index += 1
        run.repeat_index = 0
        run.next_at = now + timedelta(seconds=int(run.steps[run.step_index]["after_s"]))
    else:
        run.status = "done"
        run.next_at = None


def _run_ref(session: Session, run_id: int) -> Any:
    return session.execute(
        select(EscalationRun.item_type, EscalationRun.item_id).where(EscalationRun.id == run_id)
    ).first()


def _lock_run(session: Session, run_id: int) -> EscalationRun:
    return session.execute(
        select(EscalationRun).where(EscalationRun.id == run_id).with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()


def advance(session: Session, catalog: WorkflowCatalog, run_id: int) -> str:
    """Run the run's due round, if any, and commit; returns what happened.

    ``notified`` (a round ran), ``missing``, ``already <status>``, ``early`` (not due yet;
    never runs a round before ``next_at``), or ``stopped`` (the item left the state visit
    that started the chain). Safe to call any number of times.
    """
    from caseflow.services import transition  # transition imports deadlines at import time

    with transaction(session) as effects:
        ref = _run_ref(session, run_id)
        if ref is None:
            session.rollback()
            return "missing"
        item = transition.lock_item(session, ref.item_type, ref.item_id)
        run = _lock_run(session, run_id)
        if run.status != "active":
            status = run.status  # read before the rollback expires it (a reload would open a transaction)
            session.rollback()
            return f"already {status}"
        now = utcnow()
        if run.next_at is None or now < run.next_at:
            session.rollback()
            return "early"
        if item.state != run.state or item.state_seq != run.state_seq:
            run.status = "stopped"
            run.next_at = None
            session.commit()
            return "stopped"
        payload = _notify_round(session, catalog, item, run, now, effects)
        ledger.append(
            session, item_type=item.item_type, item_id=item.id, trigger=f"escalate:{run.chain}"[:40],
            actor=Actor.system("escalation"), role="system", at=now, from_state=item.state,
            to_state=item.state, workflow=item.workflow, workflow_version=item.workflow_version, payload=payload,
        )
        _move_on(run, now)
        if run.status == "active" and run.next_at is not None:
            effects.add(f"schedule escalation {run.id}", schedule_round, run.id, round_number(run), run.next_at)
    return "notified"


# --- acknowledging ---------------------------------------------------------------------------

def notified_person_ids(session: Session, run_id: int) -> set[int]:
    """Everyone told so far in a run."""
    return {
        pid for pid in session.execute(
            select(EscalationNotice.person_id).where(EscalationNotice.run_id == run_id)
        ).scalars() if pid is not None
    }


def acknowledge(session: Session, run_id: int, actor: Actor, comment: str = "") -> EscalationRun:
    """Record that ``actor`` has taken the matter on; no further rounds run. Commits.

    Allowed for people told in this run and for leaders, duty leads and admins
    (``PermissionDenied`` otherwise, recorded for audit). A run already acknowledged or
    stopped raises ``Conflict``; a finished (``done``) run may still be acknowledged.
    """
    from caseflow.services import transition

    try:
        ref = _run_ref(session, run_id)
        if ref is None:
            raise NotFound(f"escalation {run_id} not found")
        privileged = next((r for r in ACK_ROLES if r in actor.roles), None)
        if privileged is None and (actor.person_id is None or actor.person_id not in notified_person_ids(session, run_id)):
            raise deny(actor, "acknowledge", f"escalation {run_id}",
                       "only people told in this escalation, leaders, duty leads and admins may acknowledge")
        item = transition.lock_item(session, ref.item_type, ref.item_id)
        run = _lock_run(session, run_id)
        if run.status not in ("active", "done"):
            raise Conflict(f"escalation {run_id} is {run.status}", details={"status": run.status})
        now = utcnow()
        previous = run.status
        run.status = "acknowledged"
        run.acknowledged_at = now
        run.acknowledged_by_id = actor.person_id
        run.next_at = None
        role = privileged or (sorted(actor.roles)[0] if actor.roles else "person")
        ledger.append(
            session, item_type=item.item_type, item_id=item.id, trigger=f"acknowledge:{run.chain}"[:40],
            actor=actor, role=role, at=now, from_state=item.state, to_state=item.state,
            workflow=item.workflow, workflow_version=item.workflow_version,
            payload={"run_id": run.id, "chain": run.chain, "previous_status": previous,
                     "step": run.step_index, "repeat": run.repeat_index},
            comment=comment,
        )
        session.commit()
    except BaseException as exc:
        session.rollback()
        record_audit(session, exc)  # a refusal is kept for audit in its own commit
        raise
    return run


# --- recovery --------------------------------------------------------------------------------

def sweep_due(session: Session, catalog: WorkflowCatalog, now: datetime) -> int:
    """Enqueue the due round of every active run whose ``next_at`` has passed; return how many.

    A lost job (flushed Redis, dead scheduler) therefore delays a round by at most one sweep
    period. If Redis cannot take the job, the round is run here directly, so escalation
    does not depend on Redis being up. Enqueuing a round twice is harmless.
    """
    rows = session.execute(
        select(EscalationRun.id, EscalationRun.steps, EscalationRun.step_index, EscalationRun.repeat_index)
        .where(EscalationRun.status == "active", EscalationRun.next_at <= now)
        .order_by(EscalationRun.next_at)
    ).all()
    session.rollback()  # read-only; release the snapshot before advancing
    for run_id, steps, step_index, repeat_index in rows:
        try:
            enqueue_round_now(run_id, round_number_of(steps, step_index, repeat_index))
        except Exception:
            log.exception("could not enqueue escalation %s; advancing it here", run_id)
            advance(session, catalog, run_id)
    return len(rows)
