"""Generic webhook channel and the shared HTTP helper used by every HTTP-based channel.

Only the standard library (``urllib.request``) is used so the notify worker has no extra
dependency. Retry classification (see :func:`post_json`):

* 2xx: delivered;
* 408, 429 and 5xx: retryable (the receiver is busy or down);
* other 4xx and 3xx: not retryable (bad address, bad auth, bad request; retrying will not help);
* connection refused/reset, timeouts, DNS failures: retryable.
"""
from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping

from caseflow.notify.channels import WEBHOOK, DeliveryError, OutgoingMessage

DEFAULT_TIMEOUT_S = 5.0
USER_AGENT = "caseflow-notify/0.1"
# Enough for any sane acknowledgement; a huge body must not exhaust the worker's memory.
MAX_RESPONSE_BYTES = 64 * 1024
# How much of a response body goes into the error text (ends up in Notification.last_error).
ERROR_SNIPPET_CHARS = 200
RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class HttpResponse:
    """A successful (2xx) response."""

    status: int
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON; raises ``ValueError`` if it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would turn a redirected POST into a GET (301/302/303) and silently drop the
    # body; a webhook that redirects is misconfigured, so surface the 3xx as an error.
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None


def is_retryable_status(status: int) -> bool:
    """Whether an HTTP error status is worth another attempt later."""
    return status >= 500 or status in RETRYABLE_4XX


def safe_url(url: str) -> str:
    """``url`` without query, fragment and credentials, for error messages.

    Robot webhook URLs carry their secret key in the query string (WeCom ``?key=``),
    and error texts are stored in the database and shown to admins.
    """
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace").strip()
    return text[:ERROR_SNIPPET_CHARS]


def post_json(
    url: str,
    data: Any,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """POST ``data`` as UTF-8 JSON to ``url`` and return the 2xx response.

    Raises :class:`DeliveryError` for anything else, classified as described in the module
    docstring. Only ``http``/``https`` URLs are accepted: urllib would otherwise happily
    open ``file:`` or ``ftp:`` addresses taken from the database.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:
        raise DeliveryError(f"invalid URL: {exc}", retryable=False) from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise DeliveryError(f"not an http(s) URL: {safe_url(url)!r}", retryable=False)
    where = safe_url(url)

    try:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:  # a programming error upstream; retrying won't fix it
        raise DeliveryError(f"payload is not JSON-serialisable: {exc}", retryable=False) from exc

    request_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Accept": "application/json, */*;q=0.5",
        "User-Agent": USER_AGENT,
    }
    request_headers.update(headers or {})
    try:
        request = urllib.request.Request(url, data=body, headers=request_headers, method="POST")
    except ValueError as exc:
        raise DeliveryError(f"invalid URL {where!r}: {exc}", retryable=False) from exc

    # A fresh opener per call keeps proxy settings (read from the environment) current and
    # shares no state between worker threads.
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return HttpResponse(status=response.status, body=response.read(MAX_RESPONSE_BYTES))
    except urllib.error.HTTPError as exc:
        # HTTPError holds the open response; read what helps diagnose and always close it.
        try:
            detail = _snippet(exc.read(MAX_RESPONSE_BYTES))
        except (OSError, http.client.HTTPException):
            detail = ""
        finally:
            exc.close()
        message = f"HTTP {exc.code} from {where}"
        if detail:
            message = f"{message}: {detail}"
        raise DeliveryError(message, retryable=is_retryable_status(exc.code)) from exc
    except http.client.InvalidURL as exc:  # e.g. a non-numeric port
        raise DeliveryError(f"invalid URL {where!r}: {exc}", retryable=False) from exc
    except urllib.error.URLError as exc:
        # Connection refused, DNS failure, TLS handshake failure, connect timeout.
        raise DeliveryError(f"cannot reach {where}: {exc.reason}", retryable=True) from exc
    except (OSError, http.client.HTTPException) as exc:
        # Read timeout (TimeoutError), connection reset, server closed without answering.
        raise DeliveryError(
            f"transport error talking to {where}: {type(exc).__name__}: {exc}", retryable=True
        ) from exc


def message_id_header(message: OutgoingMessage) -> dict[str, str]:
    """The de-duplication header for ``message``, empty if it has no id."""
    return {"X-Caseflow-Message-Id": message.message_id} if message.message_id else {}


class WebhookChannel:
    """POST ``{"subject", "body", "payload"}`` as JSON to the message's address (a URL)."""

    name = WEBHOOK

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message``; raises :class:`DeliveryError` on failure."""
        post_json(
            message.address,
            {"subject": message.subject, "body": message.body, "payload": message.payload},
            timeout=self.timeout_s,
            headers=message_id_header(message),
        )
