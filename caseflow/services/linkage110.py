"""Answers to the city emergency-linkage center (110), queued through the notifications outbox.

Each answer is one ``Notification`` on channel ``linkage_110`` whose address is the 110
instruction number and whose payload is what the 110 adapter POSTs unchanged. The answer is
also kept on the instruction (``answers_110``) so the console shows what 110 was told.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.effects import Effects
from caseflow.models import Instruction, Notification, Person

CHANNEL = "linkage_110"
PERSON_CHANNELS = ("email", "sms", "wecom", "webhook")
# kind -> Chinese subject shown in the console and sent as ``subject``.
KINDS = {
    "signed": "指令已签收",
    "declined": "不属受理范围，当场解释",
    "delay": "不能按时到场，说明原因",
    "arrived": "已到达现场",
    "not_ours": "经现场确认不属本局受理范围",
    "follow_up": "当场无法处置，需后续解决",
    "result": "处置结果",
    "transferred": "指令已移交",
}


def queue(session: Session, effects: Effects | None, *, channel: str, address: str, person_id: int | None, item_type: str,
          item_id: int | None, subject: str, body: str, payload: dict[str, Any]) -> Any:
    """Queue one outbox message: the outbox module when present, else a bare pending row.

    The bare row is still delivered by the outbox sweeper once that capability is installed.
    """
    try:
        from caseflow.notify.outbox import queue_notification
    except ImportError:
        row = Notification(channel=channel, address=address, person_id=person_id, item_type=item_type,
                           item_id=item_id, subject=subject, body=body, payload=payload)
        session.add(row)
        return row
    return queue_notification(session, channel=channel, address=address, person_id=person_id,
                              item_type=item_type, item_id=item_id, subject=subject, body=body,
                              payload=payload, effects=effects)


def answer(session: Session, instruction: Instruction, kind: str, now: datetime, effects: Effects | None = None,
           **facts: Any) -> dict[str, Any]:
    """Queue an answer of ``kind`` (see ``KINDS``) about ``instruction`` to 110; returns the payload."""
    if kind not in KINDS:
        raise ValueError(f"unknown 110 answer kind {kind!r}")
    payload: dict[str, Any] = {
        "instruction_no": instruction.number,
        "kind": kind,
        "state": instruction.state,
        "at": now.isoformat(),
        **{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in facts.items()},
    }
    body = "；".join(f"{k}: {v}" for k, v in payload.items() if k not in ("instruction_no", "kind"))
    queue(session, effects, channel=CHANNEL, address=instruction.number, person_id=None, item_type="instruction",
          item_id=instruction.id, subject=f"[{instruction.number}] {KINDS[kind]}", body=body, payload=payload)
    instruction.append_record("answers_110", {"kind": kind, "at": payload["at"]})
    return payload


def answers_for(session: Session, instruction_id: int) -> list[Notification]:
    """Every answer queued to 110 about one instruction, oldest first, with its delivery status."""
    return list(session.execute(
        select(Notification).where(Notification.channel == CHANNEL, Notification.item_type == "instruction",
                                   Notification.item_id == instruction_id).order_by(Notification.id)
    ).scalars())


def notify_person(session: Session, effects: Effects | None, person: Person | None, instruction: Instruction, subject: str,
                  body: str, payload: dict[str, Any] | None = None) -> bool:
    """Tell one person (unit head, group leader, leader) on their preferred channel; False if nobody."""
    if person is None:
        return False
    channels = [c for c in (person.channels or []) if c in PERSON_CHANNELS]
    channel = channels[0] if channels else "email"
    address = {"sms": person.phone, "email": person.email}.get(channel, person.username)
    queue(session, effects, channel=channel, address=address or person.username, person_id=person.id,
          item_type="instruction", item_id=instruction.id, subject=f"[{instruction.number}] {subject}",
          body=body, payload={"instruction_no": instruction.number, **(payload or {})})
    return True
