"""Notification delivery: channel adapters (webhook, e-mail, SMS, WeCom robot, 110 linkage)."""
from caseflow.notify.channels import Channel, DeliveryError, OutgoingMessage
from caseflow.notify.registry import MAX_ATTEMPTS, backoff_seconds, build_channels

__all__ = [
    "Channel",
    "DeliveryError",
    "MAX_ATTEMPTS",
    "OutgoingMessage",
    "backoff_seconds",
    "build_channels",
]
