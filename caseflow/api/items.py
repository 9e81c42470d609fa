"""Any workflow item: its state, its ledger, and firing a trigger on it."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import select

from caseflow.errors import NotFound
from caseflow.extensions import db
from caseflow.models import ITEM_MODELS, LedgerEntry, WorkflowItem
from caseflow.services import transition
from caseflow.services.access import can_see_item, deny, record_audit
from caseflow.workflow.engine import get_catalog

from .auth import current_actor
from .schemas import ItemSchema, LedgerEntrySchema, TransitionRequestSchema

blp = Blueprint("items", __name__, url_prefix="/api/items", description="Workflow items and transitions")


def visible_item(item_type: str, item_id: int) -> WorkflowItem:
    """Load an item the caller may see; another department's item is reported as not found."""
    actor = current_actor()
    model = ITEM_MODELS.get(item_type)
    item = db.session.get(model, item_id) if model else None
    if item is None:
        raise NotFound(f"{item_type} {item_id} not found")
    if not can_see_item(db.session(), actor, item_type, item_id, transition.department_scope(item)):  # type: ignore[arg-type]
        err = deny(actor, "view", f"{item_type} {item_id}", "item belongs to another department or client",  # type: ignore[arg-type]
                   NotFound(f"{item_type} {item_id} not found"))
        db.session.rollback()
        record_audit(db.session(), err)
        raise err
    return item


def item_view(item: WorkflowItem) -> dict[str, Any]:
    """The item's workflow fields plus the triggers available to the caller."""
    actor = current_actor()
    d = get_catalog().definition(item.workflow, item.workflow_version)
    triggers = [t.trigger for t in d.triggers_from(item.state) if set(t.roles) & actor.roles]  # type: ignore[union-attr]
    return {
        "item_type": item.item_type, "id": item.id, "workflow": item.workflow,
        "workflow_version": item.workflow_version, "state": item.state, "state_label": d.label(item.state),
        "state_entered_at": item.state_entered_at, "version": item.version, "available_triggers": triggers,
    }


@blp.route("/<string:item_type>/<int:item_id>")
class Item(MethodView):
    @blp.response(200, ItemSchema)
    def get(self, item_type: str, item_id: int) -> dict[str, Any]:
        """An item's state and the triggers the caller may fire."""
        return item_view(visible_item(item_type, item_id))


@blp.route("/<string:item_type>/<int:item_id>/transitions")
class Transitions(MethodView):
    @blp.arguments(TransitionRequestSchema)
    @blp.response(200, ItemSchema)
    def post(self, body: dict[str, Any], item_type: str, item_id: int) -> dict[str, Any]:
        """Fire a trigger. 409 when the state moved on or a check refused it; 403 for a role not allowed."""
        visible_item(item_type, item_id)
        item = transition.fire(
            db.session(), get_catalog(), item_type, item_id, body["trigger"], actor=current_actor(),  # type: ignore[arg-type]
            data=body["data"], comment=body["comment"], expected_state=body["expected_state"],
        )
        return item_view(item)


@blp.route("/<string:item_type>/<int:item_id>/ledger")
class Ledger(MethodView):
    @blp.response(200, LedgerEntrySchema(many=True))
    def get(self, item_type: str, item_id: int) -> list[LedgerEntry]:
        """The item's ledger, oldest first."""
        visible_item(item_type, item_id)
        return list(db.session.execute(
            select(LedgerEntry).where(LedgerEntry.item_type == item_type, LedgerEntry.item_id == item_id)
            .order_by(LedgerEntry.seq)
        ).scalars())
