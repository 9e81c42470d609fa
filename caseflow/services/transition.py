"""Every transition of every item goes through ``fire``: lock, check, change, ledger, deadlines,
commit, then effects."""
from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session

from caseflow.deadlines.arming import arm_for_state, cancel_for_state, insert_armed
from caseflow.effects import Effects
from caseflow.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    TransitionRejected,
    UnknownTrigger,
    ValidationFailed,
)
from caseflow.models import ITEM_MODELS, WorkflowItem, utcnow
from caseflow.observability.metrics import count_transition
from caseflow.security.actor import Actor
from caseflow.workflow.context import TransitionContext
from caseflow.workflow.definition import TransitionSpec, WorkflowDefinition
from caseflow.workflow.engine import WorkflowCatalog

from . import ledger
from .access import can_see_department_item, deny
from .unit_of_work import unit_of_work


def item_label(item: WorkflowItem) -> str:
    """``case 12`` style label for messages and audit rows."""
    return f"{item.item_type} {item.id}"


def lock_item(session: Session, item_type: str, item_id: int) -> WorkflowItem:
    """Load an item with a row lock (``FOR UPDATE``; SQLite serialises writers instead)."""
    model = ITEM_MODELS.get(item_type)
    if model is None:
        raise NotFound(f"unknown item type {item_type!r}")
    item = session.execute(_lock_statement(model), {"item_id": item_id}).scalar_one_or_none()
    if item is None:
        raise NotFound(f"{item_type} {item_id} not found")
    return item


# One SELECT ... FOR UPDATE per item model, built once: every transition runs it, and building
# the statement and its cache key anew each time is pure Python overhead (the SQL is the same).
_LOCK_STATEMENTS: dict[type, Any] = {}


def _lock_statement(model: type) -> Any:
    stmt = _LOCK_STATEMENTS.get(model)
    if stmt is None:
        stmt = (select(model).where(model.id == bindparam("item_id")).with_for_update()  # type: ignore[attr-defined]
                .execution_options(populate_existing=True))
        _LOCK_STATEMENTS[model] = stmt
    return stmt


def choose_role(actor: Actor, spec: TransitionSpec) -> str | None:
    """The first of the transition's roles that the actor holds, in the YAML's order."""
    for role in spec.roles:
        if role in actor.roles:
            return role
    return None


def check_required(spec: TransitionSpec, data: dict[str, Any]) -> None:
    """Each field the transition ``requires`` must be present and non-blank."""
    for name in spec.requires:
        value = data.get(name)
        if value is None or (isinstance(value, str) and not value.strip()) or value == []:
            raise ValidationFailed(f"{name} is required for {spec.trigger}", field=name)


def department_scope(item: WorkflowItem) -> set[int | None]:
    """Departments whose handlers may act on the item; the holding department is always one."""
    fn = getattr(item, "scope_department_ids", None)
    return (set(fn()) if callable(fn) else set()) | {item.owner_department_id()}


def handler_may_act(actor: Actor, item: WorkflowItem) -> bool:
    """Whether ``actor``'s department is in the item's scope (:func:`department_scope`).

    The holding department always is, so its handlers pass without reading the item's other
    participants (a query on most handler transitions).
    """
    owner = item.owner_department_id()
    if owner is not None and actor.department_id == owner and can_see_department_item(actor, {owner}):
        return True
    return can_see_department_item(actor, department_scope(item))


def fire(
    session: Session,
    catalog: WorkflowCatalog,
    item_type: str,
    item_id: int,
    trigger: str,
    *,
    actor: Actor,
    data: dict[str, Any] | None = None,
    comment: str = "",
    expected_state: str | None = None,
    effects: Effects | None = None,
    locked: WorkflowItem | None = None,
) -> WorkflowItem:
    """Fire ``trigger`` on an item as ``actor`` and commit; effects run after the commit.

    ``locked``: the item, when the caller has just locked it with :func:`lock_item` in the
    transaction this call commits.

    Raises ``NotFound``, ``UnknownTrigger``, ``InvalidTransition``, ``PermissionDenied``,
    ``ValidationFailed``, ``TransitionRejected`` or ``Conflict``; on any of them nothing is written.
    ``expected_state`` lets a caller that showed the user a state refuse a stale click.
    """
    data = dict(data or {})

    def lost_race() -> Conflict:
        current = _current_state(session, item_type, item_id)
        return Conflict(f"{item_type} {item_id} was changed by someone else; it is now '{current}'",
                        details={"state": current})

    with unit_of_work(session, effects, conflict=lost_race) as uow_effects:
        item = apply(session, catalog, item_type, item_id, trigger, actor=actor, data=data,
                     comment=comment, expected_state=expected_state, effects=uow_effects, locked=locked)
    return item


def apply(
    session: Session,
    catalog: WorkflowCatalog,
    item_type: str,
    item_id: int,
    trigger: str,
    *,
    actor: Actor,
    data: dict[str, Any],
    comment: str,
    effects: Effects,
    expected_state: str | None = None,
    locked: WorkflowItem | None = None,
    flush: bool = True,
) -> WorkflowItem:
    """The transition without the commit, for services that change more in the same transaction.

    ``locked`` is the item when the caller already holds its row lock (saves a round trip);
    ``flush=False`` leaves the writes pending for a caller that flushes many items at once.
    """
    item = locked if locked is not None else lock_item(session, item_type, item_id)
    definition = catalog.definition(item.workflow, item.workflow_version)
    if not definition.transitions_for(trigger):
        raise UnknownTrigger(f"{definition.name} has no trigger {trigger!r}", field="trigger")
    if expected_state is not None and item.state != expected_state:
        raise Conflict(
            f"{item_label(item)} is '{item.state}', not '{expected_state}'", details={"state": item.state}
        )
    spec = definition.transition_from(trigger, item.state)
    if spec is None:
        raise InvalidTransition(
            f"{trigger!r} is not allowed while {item_label(item)} is '{item.state}'",
            details={"state": item.state},
        )
    role = choose_role(actor, spec)
    if role is None:
        raise deny(actor, trigger, item_label(item),
                   f"role not allowed to {trigger}: needs one of {', '.join(spec.roles)}")
    if role == "handler" and not handler_may_act(actor, item):
        # Do not reveal that the item exists to another department.
        raise deny(actor, trigger, item_label(item), "item belongs to another department",
                   NotFound(f"{item_type} {item_id} not found"))
    check_required(spec, data)

    now = utcnow()
    ctx = TransitionContext(session=session, actor=actor, role=role, trigger=trigger, data=data,
                            effects=effects, now=now, comment=comment)
    from_state = item.state
    machine = catalog.machine(item.workflow, item.workflow_version)
    if not machine.events[trigger].trigger(item, ctx=ctx):
        raise TransitionRejected(
            f"{trigger!r} refused by check {ctx.failed_guard or 'unknown'}",
            details={"guard": ctx.failed_guard, "state": from_state},
        )
    # One flush for the item, its deadlines and its ledger entry: without this the deadline
    # swap's and the ledger's queries would each flush the item first (an UPDATE apiece).
    # When this call flushes, the new deadline rows and the ledger entry are written right
    # after the flush by Core INSERTs (the same statements, in the same order, as the flush
    # would send), which keeps them out of the unit of work. Without the flush (a batch) they
    # go through the session, for the caller's one flush of many items.
    armed: list[dict[str, Any]] | None = [] if flush else None
    with session.no_autoflush:
        if spec.dest is not None:
            enter_state(session, definition, item, from_state, now, effects, pending=armed)
        entry = dict(
            item_type=item.item_type, item_id=item.id, trigger=trigger, actor=actor, role=role,
            at=now, from_state=from_state, to_state=item.state, workflow=definition.name,
            workflow_version=definition.version, payload={**data, **ctx.ledger_extra}, comment=comment, item=item,
        )
        entry_values = ledger.next_entry(session, **entry) if flush else ledger.append(session, **entry)
        item.updated_at = now
    if flush:
        session.flush()
        if armed:
            insert_armed(session, armed, effects)
        ledger.insert_entry(session, entry_values)  # type: ignore[arg-type]
    effects.add("metrics.transition", count_transition, definition.name, trigger)  # counted once committed
    return item


def enter_state(
    session: Session,
    definition: WorkflowDefinition,
    item: WorkflowItem,
    from_state: str | None,
    now: Any,
    effects: Effects,
    *,
    pending: list[dict[str, Any]] | None = None,
) -> None:
    """Bookkeeping on entering a state: bump the visit counter, swap the deadlines.

    ``pending``: see :func:`caseflow.deadlines.arming.arm_for_state`."""
    # Rows are only ever armed for the deadlines a state declares (the item's workflow version
    # is fixed), so leaving a state without any has nothing to cancel: skip the UPDATE.
    if from_state is not None and definition.states[from_state].deadlines:
        cancel_for_state(session, item, from_state, item.state_seq, now)
    item.state_seq = (item.state_seq or 0) + 1
    item.state_entered_at = now
    arm_for_state(session, definition, item, now, effects, pending=pending)


def start(
    session: Session,
    catalog: WorkflowCatalog,
    item: WorkflowItem,
    *,
    workflow: str,
    actor: Actor,
    role: str,
    trigger: str = "create",
    payload: dict[str, Any] | None = None,
    comment: str = "",
    effects: Effects | None = None,
    commit: bool = True,
    insert_now: bool = False,
) -> WorkflowItem:
    """Put a new item on the latest version of ``workflow`` in its initial state.

    ``insert_now``: write the deadline rows and the ledger entry at once, with Core INSERTs
    (one item at a time, as intake does: cheaper than through the unit of work); otherwise
    they go through the session, so a caller starting many items writes them in one flush.
    """
    definition = catalog.latest(workflow)
    if definition.item != item.item_type:
        raise ValueError(f"workflow {workflow} drives {definition.item}, not {item.item_type}")
    effects = effects if effects is not None else Effects()
    now = utcnow()
    item.workflow = definition.name
    item.workflow_version = definition.version
    item.state = definition.initial
    # What enter_state(from_state=None) does, set before the INSERT so it needs no UPDATE.
    item.state_seq = 1
    item.state_entered_at = now
    item.created_at = item.created_at or now
    is_new = inspect(item).key is None  # not yet in the database: it has no ledger entries
    session.add(item)
    session.flush()
    armed: list[dict[str, Any]] | None = [] if insert_now else None
    arm_for_state(session, definition, item, now, effects, pending=armed)
    if armed:
        insert_armed(session, armed, effects)
    if is_new:
        ledger.new_chain(session, item.item_type, item.id)
    entry = dict(
        item_type=item.item_type, item_id=item.id, trigger=trigger, actor=actor, role=role,
        at=now, from_state=None, to_state=item.state, workflow=definition.name,
        workflow_version=definition.version, payload=payload or {}, comment=comment, item=item,
    )
    if insert_now:
        ledger.insert_entry(session, ledger.next_entry(session, **entry))
    else:
        ledger.append(session, **entry)
    effects.add("metrics.transition", count_transition, definition.name, trigger)  # counted once committed
    if commit:
        with unit_of_work(session, effects):
            pass  # nothing more to do: leaving the block commits, then runs the effects
    return item


def _current_state(session: Session, item_type: str, item_id: int) -> str:
    model = ITEM_MODELS[item_type]
    state = session.execute(select(model.state).where(model.id == item_id)).scalar_one_or_none()
    session.rollback()
    return state or "unknown"
