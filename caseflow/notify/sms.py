"""SMS through an HTTP gateway: POST ``{"phone": address, "text": body}`` as JSON.

The gateway (an operator's or an in-house relay) is configured once; the message address
is the phone number. Retry classification is the one of :func:`caseflow.notify.webhook.post_json`.
"""
from __future__ import annotations

from caseflow.notify.channels import SMS, DeliveryError, OutgoingMessage
from caseflow.notify.webhook import DEFAULT_TIMEOUT_S, message_id_header, post_json


class SmsChannel:
    """Send the message body as an SMS via the configured HTTP gateway."""

    name = SMS

    def __init__(
        self, gateway_url: str, token: str | None = None, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        self.gateway_url = gateway_url
        self.token = token or None
        self.timeout_s = timeout_s

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message.body`` to the phone number in ``message.address``."""
        phone = message.address.strip()
        if not phone:
            raise DeliveryError("empty phone number", retryable=False)
        headers = message_id_header(message)
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        post_json(
            self.gateway_url,
            {"phone": phone, "text": message.body},
            timeout=self.timeout_s,
            headers=headers,
        )
