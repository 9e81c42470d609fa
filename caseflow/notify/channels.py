"""Delivery channel contract shared by every adapter in :mod:`caseflow.notify`.

The outbox job turns a :class:`~caseflow.models.deadline.Notification` row into an
:class:`OutgoingMessage`, looks up the channel by name and calls :meth:`Channel.send`.
A channel either returns (delivered) or raises :class:`DeliveryError`; ``retryable``
tells the job whether to schedule another attempt or mark the row ``dead``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

# Channel names as stored in ``Notification.channel``.
WEBHOOK = "webhook"
EMAIL = "email"
SMS = "sms"
WECOM = "wecom"
LINKAGE_110 = "linkage_110"


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one address, independent of the database row it came from.

    ``message_id`` is optional: when set (e.g. the outbox row id), HTTP adapters send it
    as ``X-Caseflow-Message-Id`` so receivers can drop duplicates caused by retries after
    a timeout (delivery is at-least-once).
    """

    channel: str
    address: str
    subject: str = ""
    body: str = ""
    payload: dict[str, Any] = field(default_factory=dict)
    message_id: str | None = None


class DeliveryError(Exception):
    """Delivery failed; ``retryable`` says whether a later attempt may succeed."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable

    def __repr__(self) -> str:
        return f"DeliveryError({self.message!r}, retryable={self.retryable})"


@runtime_checkable
class Channel(Protocol):
    """What the outbox job needs from a delivery channel."""

    name: str

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message`` or raise :class:`DeliveryError`."""
        ...
