"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records messages, for tests.

Usage::

    with SmtpReceiver() as smtp:
        ...  # send to ("127.0.0.1", smtp.port)
        assert smtp.messages[0].message["Subject"] == "..."

``reject_rcpt`` maps recipient addresses to the SMTP reply given at RCPT TO (e.g.
``"550 5.1.1 no such user"``) to test failure classification; ``credentials`` turns on
AUTH PLAIN/LOGIN (over plain TCP, acceptable for a loopback test server only).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session, SMTP

from tests.support.http_receiver import free_port


@dataclass(frozen=True)
class RecordedMail:
    """One accepted message: envelope plus the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        """The message parsed with the modern ``email`` policy (headers decoded).

        SMTP transfers CRLF line ends; the parser keeps them in 7-bit bodies, so normalise
        to ``\n`` first as a mail client would.
        """
        text = self.content.replace(b"\r\n", b"\n")
        return message_from_bytes(text, policy=policy.default)


class _DropLoginDataNotice(logging.Filter):
    # aiosmtpd 1.4 itself sets the deprecated Session.login_data after every successful
    # AUTH and logs a warning about it; that is noise from the library, not from our code.
    def filter(self, record: logging.LogRecord) -> bool:
        return "login_data is deprecated" not in record.getMessage()


_AIOSMTPD_LOG = logging.getLogger("mail.log")


class _Handler:
    def __init__(self, receiver: "SmtpReceiver") -> None:
        self.receiver = receiver

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self.receiver.reject_rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        auth = session.auth_data
        login = auth.login.decode() if isinstance(auth, LoginPassword) else None
        content = envelope.original_content or b""
        self.receiver._record(
            RecordedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                content=content,
                login=login,
            )
        )
        return "250 Message accepted"


class SmtpReceiver:
    """aiosmtpd ``Controller`` on a free loopback port, recording every accepted message."""

    def __init__(
        self,
        *,
        reject_rcpt: dict[str, str] | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.reject_rcpt = dict(reject_rcpt or {})
        self.credentials = credentials
        self._messages: list[RecordedMail] = []
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._log_filter = _DropLoginDataNotice()
        self.host = "127.0.0.1"
        self.port = 0

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            self.credentials is not None
            and isinstance(auth_data, LoginPassword)
            and (auth_data.login.decode(), auth_data.password.decode()) == self.credentials
        )
        # auth_data is kept on the session so handle_DATA can record who logged in.
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    def _record(self, mail: RecordedMail) -> None:
        with self._lock:
            self._messages.append(mail)

    @property
    def messages(self) -> list[RecordedMail]:
        """A snapshot of the messages accepted so far."""
        with self._lock:
            return list(self._messages)

    def start(self) -> "SmtpReceiver":
        """Start the server; aiosmtpd needs a concrete port, so pick a free one first."""
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if self.credentials is not None:
            # Loopback test server: allow AUTH without TLS (but do not require AUTH).
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        _AIOSMTPD_LOG.addFilter(self._log_filter)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop the server and its event-loop thread."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        _AIOSMTPD_LOG.removeFilter(self._log_filter)

    def __enter__(self) -> "SmtpReceiver":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
