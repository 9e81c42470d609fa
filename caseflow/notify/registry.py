"""Build the delivery channels from configuration, plus the outbox retry policy.

Configuration keys (read from the Flask config or any mapping; values may be strings, as
they arrive from ``CASEFLOW_<KEY>`` environment variables; an empty string counts as unset):

``NOTIFY_HTTP_TIMEOUT_S``
    Timeout in seconds for every HTTP channel (webhook, sms, wecom, linkage_110). Default 5.
``NOTIFY_SMTP_HOST``, ``NOTIFY_SMTP_FROM``
    SMTP server and sender (``"城运中心 <noreply@example.org>"`` is fine). Both required
    for the ``email`` channel.
``NOTIFY_SMTP_PORT``
    Default 465 when ``NOTIFY_SMTP_SSL`` is on, else 25.
``NOTIFY_SMTP_USER``, ``NOTIFY_SMTP_PASSWORD``
    Optional; log in when the user is set.
``NOTIFY_SMTP_STARTTLS``
    Boolean (``1/true/yes/on`` or ``0/false/no/off``), default off: upgrade with STARTTLS
    (usually port 587).
``NOTIFY_SMTP_SSL``
    Boolean, default off: implicit TLS from the first byte (SMTPS, usually port 465).
``NOTIFY_SMTP_TIMEOUT_S``
    Timeout in seconds for SMTP, default 10.
``NOTIFY_SMS_URL``, ``NOTIFY_SMS_TOKEN``
    SMS gateway endpoint (required for ``sms``) and optional bearer token.
``NOTIFY_LINKAGE110_URL``, ``NOTIFY_LINKAGE110_TOKEN``
    110 linkage center endpoint and bearer token; both required for ``linkage_110``.

``webhook`` and ``wecom`` need no settings (the address is the URL) and are always present.
A channel whose required settings are missing is absent from the result, so the outbox job
can tell "not configured here" from a delivery failure.
"""
from __future__ import annotations

from typing import Any, Mapping

from caseflow.notify.channels import Channel
from caseflow.notify.email import EmailChannel
from caseflow.notify.linkage110 import Linkage110Channel
from caseflow.notify.sms import SmsChannel
from caseflow.notify.webhook import DEFAULT_TIMEOUT_S, WebhookChannel
from caseflow.notify.wecom import WeComRobotChannel

#: Attempts before an outbox row is marked ``dead``.
MAX_ATTEMPTS = 8
BACKOFF_BASE_S = 10.0
BACKOFF_CAP_S = 15 * 60.0
DEFAULT_SMTP_TIMEOUT_S = 10.0

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def backoff_seconds(attempt: int) -> float:
    """Delay before the next try after ``attempt`` failed attempts (1-based).

    10 s, 20 s, 40 s, ... doubling, capped at 15 minutes. Deterministic (no jitter) so
    tests can assert schedules; the outbox is small enough that retries do not stampede.
    """
    exponent = min(max(attempt, 1) - 1, 32)  # bounded so huge attempt counts cannot overflow
    return min(BACKOFF_BASE_S * 2.0**exponent, BACKOFF_CAP_S)


def _str(config: Mapping[str, Any], key: str) -> str | None:
    value = config.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _bool(config: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    # Fail at start-up rather than silently sending credentials in clear text.
    raise ValueError(f"{key} must be a boolean, got {value!r}")


def _number(config: Mapping[str, Any], key: str, default: float) -> float:
    text = _str(config, key)
    if text is None:
        return default
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{key} must be a number, got {text!r}") from None
    if number <= 0:
        raise ValueError(f"{key} must be positive, got {text!r}")
    return number


def build_channels(config: Mapping[str, Any]) -> dict[str, Channel]:
    """The configured channels keyed by ``Notification.channel`` name.

    Raises ``ValueError`` for a malformed setting (bad number or boolean).
    """
    timeout = _number(config, "NOTIFY_HTTP_TIMEOUT_S", DEFAULT_TIMEOUT_S)
    # The address is the URL for these two, so they need no settings of their own.
    channels: dict[str, Channel] = {
        WebhookChannel.name: WebhookChannel(timeout_s=timeout),
        WeComRobotChannel.name: WeComRobotChannel(timeout_s=timeout),
    }

    smtp_host = _str(config, "NOTIFY_SMTP_HOST")
    smtp_from = _str(config, "NOTIFY_SMTP_FROM")
    if smtp_host and smtp_from:
        use_ssl = _bool(config, "NOTIFY_SMTP_SSL")
        port = _number(config, "NOTIFY_SMTP_PORT", 465 if use_ssl else 25)
        if port != int(port):
            raise ValueError(f"NOTIFY_SMTP_PORT must be an integer, got {port!r}")
        smtp = EmailChannel(
            host=smtp_host,
            from_addr=smtp_from,
            port=int(port),
            username=_str(config, "NOTIFY_SMTP_USER"),
            password=_str(config, "NOTIFY_SMTP_PASSWORD"),
            starttls=_bool(config, "NOTIFY_SMTP_STARTTLS"),
            use_ssl=use_ssl,
            timeout_s=_number(config, "NOTIFY_SMTP_TIMEOUT_S", DEFAULT_SMTP_TIMEOUT_S),
        )
        channels[smtp.name] = smtp

    sms_url = _str(config, "NOTIFY_SMS_URL")
    if sms_url:
        sms = SmsChannel(sms_url, token=_str(config, "NOTIFY_SMS_TOKEN"), timeout_s=timeout)
        channels[sms.name] = sms

    linkage_url = _str(config, "NOTIFY_LINKAGE110_URL")
    linkage_token = _str(config, "NOTIFY_LINKAGE110_TOKEN")
    if linkage_url and linkage_token:  # the center rejects unauthenticated calls anyway
        linkage = Linkage110Channel(linkage_url, linkage_token, timeout_s=timeout)
        channels[linkage.name] = linkage

    return channels
