"""Emergency-linkage instructions: intake from 110, each step, the list, the ledger exports."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Response, current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import false, func, select
from sqlalchemy.orm import selectinload

from caseflow.errors import NotFound, PermissionDenied, ValidationFailed
from caseflow.extensions import db
from caseflow.models import Deadline, Instruction, LedgerEntry, utcnow
from caseflow.security.actor import Actor
from caseflow.services import instructions as svc
from caseflow.services import ledger_export, linkage110
from caseflow.services.access import can_see_department_item, can_see_item, client_sees_type, is_machine_client
from caseflow.workflow.engine import get_catalog

from .auth import current_actor
from .idempotency import idempotent
from .pagination import HEADERS_DOC as PAGE_HEADERS
from .pagination import pagination_header
from .instruction_schemas import (
    ActionSchema,
    InstructionCreateSchema,
    InstructionDetailSchema,
    InstructionPageSchema,
    InstructionSchema,
    ListArgsSchema,
)
from .schemas import ID_RANGE

blp = Blueprint("instructions", __name__, url_prefix="/api/instructions",
                description="Emergency-linkage instructions from the 110 linkage center")


def _need(body: dict[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(f"{name} is required", field=name)
    return value


# action in the URL -> (trigger, call(session, catalog, id, actor, body))
ACTIONS: dict[str, tuple[str, Callable[..., Any]]] = {
    "sign": ("sign", lambda s, c, i, a, b: svc.sign(s, c, i, actor=a, comment=b["comment"])),
    "decline": ("decline", lambda s, c, i, a, b: svc.decline(s, c, i, actor=a, explanation=_need(b, "explanation"))),
    "dispatch": ("dispatch", lambda s, c, i, a, b: svc.dispatch(s, c, i, actor=a, department_id=b.get("department_id"),
                                                                comment=b["comment"])),
    "delay": ("explain_delay", lambda s, c, i, a, b: svc.explain_delay(s, c, i, actor=a, reason=_need(b, "reason"))),
    "arrive": ("arrive", lambda s, c, i, a, b: svc.arrive(s, c, i, actor=a, situation=_need(b, "situation"),
                                                          place=b["place"])),
    "not-ours": ("report_not_ours", lambda s, c, i, a, b: svc.report_not_ours(s, c, i, actor=a,
                                                                              explanation=_need(b, "explanation"))),
    "keep-order": ("keep_order", lambda s, c, i, a, b: svc.keep_order(
        s, c, i, actor=a, note=_need(b, "note"), responsible_arrived=b["responsible_arrived"])),
    "severity": ("report_severity", lambda s, c, i, a, b: svc.report_severity(s, c, i, actor=a,
                                                                              severity=_need(b, "severity"))),
    "report-to-principal": ("report_to_principal", lambda s, c, i, a, b: svc.report_to_principal(
        s, c, i, actor=a, comment=b["comment"])),
    "result": ("report_result", lambda s, c, i, a, b: svc.report_result(s, c, i, actor=a, result=_need(b, "result"),
                                                                         place=b["place"])),
    "follow-up": ("open_follow_up", lambda s, c, i, a, b: svc.open_follow_up(s, c, i, actor=a,
                                                                             explanation=_need(b, "explanation"))),
    "transfer": ("transfer", lambda s, c, i, a, b: svc.transfer(s, c, i, actor=a,
                                                                department_id=_need(b, "department_id"),
                                                                reason=_need(b, "reason"))),
    "report-to-110": ("report_to_110", lambda s, c, i, a, b: svc.report_to_110(s, c, i, actor=a,
                                                                               comment=b["comment"])),
    # The unit's transfer request (申请移交); its fields come through TransferRequestSchema (below).
    "request-transfer": ("request_transfer", lambda s, c, i, a, b: svc.request_transfer(
        s, c, i, actor=a, reason=_need(b, "reason"), basis=b.get("basis") or "", basis_ref_id=b.get("basis_ref_id"),
        suggested_department_id=b.get("suggested_department_id"), kind=b.get("kind") or "other_unit")),
    "reject-transfer": ("reject_transfer", lambda s, c, i, a, b: svc.reject_transfer(s, c, i, actor=a,
                                                                                    reason=_need(b, "reason"))),
    "withdraw-transfer-request": ("withdraw_transfer_request",
                                  lambda s, c, i, a, b: svc.withdraw_transfer_request(s, c, i, actor=a)),
}


def _visible(actor: Actor, item_id: int) -> Instruction:
    item = db.session.get(Instruction, item_id)
    if item is None or not can_see_item(db.session(), actor, "instruction", item.id, {item.department_id}):
        raise NotFound(f"instruction {item_id} not found")
    return item


_UNREAD = object()  # instruction_view: the arrival due time was not read with the row


def _on_time(item: Instruction, due: Any, now: datetime) -> bool | None:
    # The ledger's rule (按时到场), so the list, the detail, the filter and the exports agree:
    # not yet arrived counts as late once the arrival deadline has passed.
    return ledger_export.arrived_on_time(item.arrived_at, due, now)


def instruction_view(item: Instruction, actor: Actor, *, arrival_due: Any = _UNREAD,
                     now: datetime | None = None) -> dict[str, Any]:
    """The fields the API and console show, plus the steps the caller may take now.

    ``arrival_due``: the latest arrival deadline's due time when the caller has read it already
    (the list does, for every row at once); otherwise it is looked up. ``on_time`` is judged at
    ``now`` (default: the current time).
    """
    now = now or utcnow()
    if arrival_due is _UNREAD:
        row = svc.arrival_deadline(db.session(), item)
        arrival_due = row.due_at if row is not None else None
    d = get_catalog().definition(item.workflow, item.workflow_version)
    triggers = {t.trigger for t in d.triggers_from(item.state) if set(t.roles) & actor.roles}
    return {
        "id": item.id, "number": item.number, "state": item.state, "state_label": d.label(item.state),
        "received_at": item.received_at, "category": item.category.code if item.category else None,
        "category_in_scope": bool(item.category and item.category.in_scope), "area_kind": item.area_kind,
        "grid": item.grid.code if item.grid else None, "address": item.address, "lat": item.lat, "lon": item.lon,
        "description": item.description, "caller_contact": item.caller_contact, "severity": item.severity,
        "leader_on_site": item.leader_on_site, "department_id": item.department_id,
        "to_action_group": item.to_action_group, "signed_at": item.signed_at, "dispatched_at": item.dispatched_at,
        "arrived_at": item.arrived_at, "closed_at": item.closed_at,
        "on_time": _on_time(item, arrival_due, now),
        "record": dict(item.data or {}),
        "available_actions": [a for a, (t, _) in ACTIONS.items() if t in triggers],
    }


def _ledger_filter(args: dict[str, Any], department_id: int | None) -> ledger_export.LedgerFilter:
    return ledger_export.LedgerFilter(
        start=args.get("start"), end=args.get("end"), department_id=department_id, category=args.get("category"),
        on_time=args.get("on_time"), area_kind=args.get("area_kind"), severity=args.get("severity"),
        state=args.get("state"))


def _filtered(args: dict[str, Any], actor: Actor, now: datetime) -> Any:
    # The ledger's query: every filter (on_time too) in SQL, before paging, so pages stay full
    # and the total counts only matching rows.
    q = ledger_export.ledger_query(_ledger_filter(args, args.get("department_id")), now)
    if is_machine_client(actor):
        if not client_sees_type(actor, "instruction"):
            q = q.where(false())  # only the 110 center's client follows instructions
    elif not can_see_department_item(actor, set()):
        q = q.where(Instruction.department_id == actor.department_id)  # a handler sees their unit's only
    return q


@blp.route("")
class Instructions(MethodView):
    @idempotent
    @blp.arguments(InstructionCreateSchema)
    @blp.response(201, InstructionSchema)
    @blp.alt_response(200, schema=InstructionSchema, description="Already received (same number)")
    def post(self, body: dict[str, Any]) -> Any:
        """File an instruction (110 system or liaison); the same number again returns the first, 200."""
        actor = current_actor()
        item, created = svc.receive(db.session(), get_catalog(), actor=actor, **body)  # type: ignore[arg-type]
        return instruction_view(item, actor), 201 if created else 200  # type: ignore[arg-type]

    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, InstructionPageSchema, headers=PAGE_HEADERS)
    def get(self, args: dict[str, Any]) -> Any:
        """Instructions, newest first, filtered by state, unit, category, period, area, severity and
        on time (``on_time=false`` includes those not yet on site past their arrival deadline); paged."""
        actor = current_actor()
        now = utcnow()
        q = _filtered(args, actor, now)  # type: ignore[arg-type]
        total = db.session.execute(select(func.count()).select_from(q.subquery())).scalar_one()
        page, per = args["page"], args["per_page"]
        # The arrival due time as a column and the relationships in one query each: the statement
        # count does not grow with the page size.
        rows = db.session.execute(
            q.add_columns(ledger_export.arrival_due_expr().label("arrival_due"))
            .options(selectinload(Instruction.category), selectinload(Instruction.grid))
            .order_by(Instruction.received_at.desc(), Instruction.id.desc()).offset((page - 1) * per).limit(per)
        ).all()
        items = [instruction_view(i, actor, arrival_due=due, now=now) for i, due in rows]  # type: ignore[arg-type]
        return {"items": items, "total": total, "page": page, "per_page": per}, pagination_header(total, page, per)


@blp.route("/<int:item_id>")
class InstructionOne(MethodView):
    @blp.response(200, InstructionDetailSchema)
    def get(self, item_id: int) -> dict[str, Any]:
        """One instruction with its deadlines (time left), ledger and the answers sent to 110."""
        actor = current_actor()
        item = _visible(actor, item_id)  # type: ignore[arg-type]
        now = utcnow()
        deadlines = db.session.execute(select(Deadline).where(
            Deadline.item_type == "instruction", Deadline.item_id == item.id).order_by(Deadline.id)).scalars()
        ledger = db.session.execute(select(LedgerEntry).where(
            LedgerEntry.item_type == "instruction", LedgerEntry.item_id == item.id).order_by(LedgerEntry.seq)).scalars()
        view = instruction_view(item, actor)  # type: ignore[arg-type]
        view["deadlines"] = [{"key": d.key, "state": d.state, "due_at": d.due_at, "status": d.status,
                              "seconds_left": (d.due_at - now).total_seconds() if d.status == "pending" else None}
                             for d in deadlines]
        view["ledger"] = [{"seq": e.seq, "at": e.at.isoformat(), "trigger": e.trigger, "from": e.from_state,
                           "to": e.to_state, "actor_id": e.actor_id, "role": e.actor_role, "client": e.client,
                           "payload": e.payload, "comment": e.comment} for e in ledger]
        view["answers_110"] = [{"id": n.id, "kind": n.payload.get("kind"), "status": n.status,
                                "attempts": n.attempts, "created_at": n.created_at.isoformat(),
                                "sent_at": n.sent_at.isoformat() if n.sent_at else None, "payload": n.payload}
                               for n in linkage110.answers_for(db.session(), item.id)]
        return view


class TransferRequestSchema(Schema):
    """A unit's transfer request (申请移交): a reason and a basis, as a case's return request.

    Each field is checked by the step, which names the one missing (422), after the
    instruction was found to be the caller's unit's (404 otherwise)."""

    reason = fields.String(load_default="", validate=validate.Length(max=4000))
    basis = fields.String(load_default="", validate=validate.Length(max=4000),
                          metadata={"description": "the legal or policy basis in free text (or use basis_ref_id)"})
    basis_ref_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE,
                                  metadata={"description": "a regulation or duty list from /api/regulations"})
    suggested_department_id = fields.Integer(load_default=None, allow_none=True, validate=ID_RANGE)
    kind = fields.String(load_default="other_unit", validate=validate.Length(max=20),
                         metadata={"description": "other_unit: not this unit's (transfer it); "
                                                  "not_bureau: not the bureau's (explain to 110)"})


@blp.route("/<int:item_id>/request-transfer")
class InstructionTransferRequest(MethodView):
    @blp.arguments(TransferRequestSchema)
    @blp.response(200, InstructionSchema)
    def post(self, body: dict[str, Any], item_id: int) -> dict[str, Any]:
        """The unit asks the liaison to transfer the instruction (``other_unit``) or to explain to 110
        (``not_bureau``), with a reason and a basis; the liaison then transfers, reports not-ours
        or rejects it (``reject-transfer``); the unit may withdraw it (``withdraw-transfer-request``)."""
        actor = current_actor()
        _visible(actor, item_id)  # type: ignore[arg-type]
        item = ACTIONS["request-transfer"][1](db.session(), get_catalog(), item_id, actor, body)
        return instruction_view(item, actor)  # type: ignore[arg-type]


@blp.route("/<int:item_id>/<string:action>")
class InstructionAction(MethodView):
    @blp.arguments(ActionSchema)
    @blp.response(200, InstructionSchema)
    def post(self, body: dict[str, Any], item_id: int, action: str) -> dict[str, Any]:
        """Take one step: sign, decline, dispatch, delay, arrive, not-ours, keep-order, severity,
        report-to-principal, result, follow-up, transfer, report-to-110; reject-transfer and
        withdraw-transfer-request decide a unit's transfer request (made with ``request-transfer``)."""
        actor = current_actor()
        if action not in ACTIONS:
            raise NotFound(f"no instruction action {action!r}")
        _visible(actor, item_id)  # type: ignore[arg-type]
        _, call = ACTIONS[action]
        item = call(db.session(), get_catalog(), item_id, actor, body)
        return instruction_view(item, actor)  # type: ignore[arg-type]


def _ledger_rows(args: dict[str, Any]) -> list[dict[str, Any]]:
    actor = current_actor()
    dept = args.get("department_id")
    if is_machine_client(actor) and not client_sees_type(actor, "instruction"):  # type: ignore[arg-type]
        raise PermissionDenied("only the 110 center's client may export the instruction ledger")
    if not is_machine_client(actor) and not can_see_department_item(actor, set()):  # type: ignore[arg-type]
        dept = actor.department_id  # type: ignore[union-attr]
    return ledger_export.ledger_rows(db.session(), _ledger_filter(args, dept))


@blp.route("/ledger.xlsx")
class LedgerXlsx(MethodView):
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    def get(self, args: dict[str, Any]) -> Response:
        """应急处置台账 as XLSX (times in the configured zone)."""
        data = ledger_export.to_xlsx(_ledger_rows(args), current_app.config["TIMEZONE"])
        return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": "attachment; filename=instruction-ledger.xlsx"})


@blp.route("/ledger.csv")
class LedgerCsv(MethodView):
    @blp.arguments(ListArgsSchema, location="query")
    @blp.response(200, content_type="text/csv")
    def get(self, args: dict[str, Any]) -> Response:
        """应急处置台账 as CSV (UTF-8 with BOM so Excel reads the Chinese)."""
        text = ledger_export.to_csv(_ledger_rows(args), current_app.config["TIMEZONE"])
        return Response("\ufeff" + text, mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": "attachment; filename=instruction-ledger.csv"})
