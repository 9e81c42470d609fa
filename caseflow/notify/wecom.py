"""WeChat Work (企业微信) group robot: the message address is the robot's webhook URL.

WeCom answers HTTP 200 with ``{"errcode": 0, "errmsg": "ok"}`` on success and a non-zero
``errcode`` on failure, so the HTTP status alone is not enough. ``errcode`` 45009 (API rate
limit, a robot may send 20 messages a minute) and -1 (system busy, "please retry") are
retryable; any other code (bad key 93000, invalid content, ...) is not.

``message.payload`` may set ``msgtype`` to ``"markdown"`` (default ``"text"``) and, for text,
``mentioned_list`` / ``mentioned_mobile_list`` to @-mention people (e.g. the leader on duty).
"""
from __future__ import annotations

from typing import Any

from caseflow.notify.channels import WECOM, DeliveryError, OutgoingMessage
from caseflow.notify.webhook import DEFAULT_TIMEOUT_S, post_json

RETRYABLE_ERRCODES = frozenset({45009, -1})
# WeCom rejects longer content outright (a permanent failure); the limits are in UTF-8 bytes.
MAX_CONTENT_BYTES = {"text": 2048, "markdown": 4096}
_ELLIPSIS = "…"


def _truncate_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes without splitting a character."""
    raw = text.encode("utf-8")
    if len(raw) <= limit:
        return text
    room = limit - len(_ELLIPSIS.encode("utf-8"))
    return raw[:room].decode("utf-8", errors="ignore") + _ELLIPSIS


def build_robot_message(message: OutgoingMessage) -> dict[str, Any]:
    """The robot API request body for ``message`` (text or markdown)."""
    msgtype = message.payload.get("msgtype", "text")
    if msgtype not in MAX_CONTENT_BYTES:
        raise DeliveryError(f"unsupported WeCom msgtype {msgtype!r}", retryable=False)
    if msgtype == "markdown":
        content = f"**{message.subject}**\n{message.body}" if message.subject else message.body
    else:
        content = f"{message.subject}\n{message.body}" if message.subject else message.body
    section: dict[str, Any] = {"content": _truncate_utf8(content, MAX_CONTENT_BYTES[msgtype])}
    if msgtype == "text":  # the robot API supports mentions on text messages only
        for key in ("mentioned_list", "mentioned_mobile_list"):
            if message.payload.get(key):
                section[key] = list(message.payload[key])
    return {"msgtype": msgtype, msgtype: section}


class WeComRobotChannel:
    """Post to a WeCom group robot; the message address is the robot webhook URL."""

    name = WECOM

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message``; a non-zero ``errcode`` in the 200 answer is a failure."""
        response = post_json(message.address, build_robot_message(message), timeout=self.timeout_s)
        try:
            answer = response.json()
            errcode = int(answer["errcode"])
        except (ValueError, KeyError, TypeError) as exc:
            # Not WeCom's JSON: most likely a proxy or gateway page in between; try again later.
            raise DeliveryError(
                f"unexpected WeCom answer (HTTP {response.status}): "
                f"{response.body[:200].decode('utf-8', errors='replace')}",
                retryable=True,
            ) from exc
        if errcode != 0:
            raise DeliveryError(
                f"WeCom errcode {errcode}: {answer.get('errmsg', '')}",
                retryable=errcode in RETRYABLE_ERRCODES,
            )
