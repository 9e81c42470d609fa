"""A real HTTP server on 127.0.0.1 (ephemeral port) that records requests, for tests.

Usage::

    with HttpReceiver() as receiver:
        receiver.reply_with(500, b"boom")
        ...  # send to receiver.url + "/hook"
        assert receiver.requests[0].json() == {...}
"""
from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the receiver saw it; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as UTF-8 JSON."""
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Reply:
    """What the receiver answers; ``delay_s`` holds the answer back (for timeout tests)."""

    status: int = 200
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay_s: float = 0.0


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def _record_and_reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        receiver = self.server.receiver
        receiver._record(
            RecordedRequest(
                method=self.command,
                path=self.path,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
        )
        reply = receiver.reply
        if reply.delay_s:
            time.sleep(reply.delay_s)
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test); nothing to answer

    do_POST = do_GET = do_PUT = _record_and_reply

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass  # keep test output clean


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: "HttpReceiver") -> None:
        self.receiver = receiver
        super().__init__(("127.0.0.1", 0), _Handler)


class HttpReceiver:
    """Threaded HTTP server recording every request and answering with :attr:`reply`."""

    def __init__(self) -> None:
        self.reply = Reply()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def reply_with(
        self,
        status: int = 200,
        body: bytes | str | dict[str, Any] = b"{}",
        *,
        headers: dict[str, str] | None = None,
        delay_s: float = 0.0,
    ) -> None:
        """Set the answer for subsequent requests; a dict body is sent as JSON."""
        if isinstance(body, dict):
            body = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.reply = Reply(
            status=status,
            body=body,
            headers=headers if headers is not None else {"Content-Type": "application/json"},
            delay_s=delay_s,
        )

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(request)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of the requests received so far."""
        with self._lock:
            return list(self._requests)

    @property
    def port(self) -> int:
        """The port the server listens on (only while started)."""
        assert self._server is not None, "receiver not started"
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, without trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "HttpReceiver":
        """Bind an ephemeral port and serve in a background thread."""
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close the socket and join the threads."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()  # also joins the per-request threads
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> "HttpReceiver":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
