"""Answers to the city emergency-linkage center (市联动中心, "110").

Sign-off, arrival, result and explanation messages for a linkage instruction are built by
the workflow as ``Notification.payload``; this adapter POSTs that payload unchanged as JSON
to the configured endpoint with a bearer token. The row's address is not used for routing
(there is one 110 endpoint), so the workflow may store the instruction number there.
"""
from __future__ import annotations

from caseflow.notify.channels import LINKAGE_110, OutgoingMessage
from caseflow.notify.webhook import DEFAULT_TIMEOUT_S, message_id_header, post_json


class Linkage110Channel:
    """POST ``message.payload`` as JSON to the 110 linkage endpoint."""

    name = LINKAGE_110

    def __init__(self, url: str, token: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.url = url
        self.token = token
        self.timeout_s = timeout_s

    def send(self, message: OutgoingMessage) -> None:
        """Deliver the payload; raises :class:`~caseflow.notify.channels.DeliveryError`."""
        headers = message_id_header(message)
        headers["Authorization"] = f"Bearer {self.token}"
        post_json(self.url, message.payload, timeout=self.timeout_s, headers=headers)
