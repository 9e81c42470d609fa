"""E-mail over SMTP with the standard library (``smtplib`` + ``email.message.EmailMessage``).

Headers with non-ASCII text (Chinese subjects, a Chinese sender name) are RFC 2047 encoded
and a non-ASCII body is sent as UTF-8 base64, so the message is 7-bit clean and survives
servers without 8BITMIME/SMTPUTF8.

Retry classification: SMTP 4xx replies, disconnects, refused connections and timeouts are
retryable; 5xx replies (unknown mailbox, authentication failed, rejected content), missing
server features (STARTTLS/AUTH) and malformed addresses are not.
"""
from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid, parseaddr

from caseflow.notify.channels import EMAIL, DeliveryError, OutgoingMessage
from caseflow.notify.webhook import DEFAULT_TIMEOUT_S


def _one_line(text: str) -> str:
    # A case title typed with a line break must not become a header injection or a
    # ValueError in the email package: fold it into one line.
    return " ".join(text.splitlines())


def _is_retryable_code(code: int) -> bool:
    # Permanent failures are exactly the 5xx replies; 4xx and "no reply" (-1) are transient.
    return not 500 <= code < 600


def _classify(exc: Exception) -> DeliveryError:
    """Turn an ``smtplib``/socket exception into a :class:`DeliveryError`."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        detail = "; ".join(
            f"{rcpt}: {code} {reply.decode('utf-8', 'replace')}"
            for rcpt, (code, reply) in exc.recipients.items()
        )
        return DeliveryError(
            f"recipient refused: {detail}", retryable=any(_is_retryable_code(c) for c in codes)
        )
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return DeliveryError(f"SMTP server disconnected: {exc}", retryable=True)
    if isinstance(exc, smtplib.SMTPConnectError):
        return DeliveryError(
            f"SMTP connect failed: {exc.smtp_code} {exc.smtp_error!r}", retryable=True
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        reply = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        return DeliveryError(
            f"SMTP {type(exc).__name__} {exc.smtp_code}: {reply}",
            retryable=_is_retryable_code(exc.smtp_code),
        )
    if isinstance(exc, smtplib.SMTPException):
        # SMTPNotSupportedError (no STARTTLS/AUTH) and "no suitable auth method": configuration.
        return DeliveryError(f"SMTP error: {type(exc).__name__}: {exc}", retryable=False)
    if isinstance(exc, OSError):
        # Connection refused, DNS failure, timeout, TLS handshake failure.
        return DeliveryError(
            f"cannot talk to SMTP server: {type(exc).__name__}: {exc}", retryable=True
        )
    return DeliveryError(f"e-mail failed: {type(exc).__name__}: {exc}", retryable=False)


class EmailChannel:
    """Send the message as a plain-text e-mail to ``message.address``."""

    name = EMAIL

    def __init__(
        self,
        host: str,
        from_addr: str,
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        use_ssl: bool = False,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        if starttls and use_ssl:
            raise ValueError("starttls and use_ssl are mutually exclusive")
        self.host = host
        self.port = port
        self.from_addr = from_addr
        self.username = username or None
        self.password = password or ""
        self.starttls = starttls
        self.use_ssl = use_ssl
        self.timeout_s = timeout_s

    def build_message(self, message: OutgoingMessage) -> EmailMessage:
        """The MIME message for ``message``; raises a non-retryable error for a bad address."""
        recipients = getaddresses([message.address])
        if not message.address.strip() or any("@" not in addr for _, addr in recipients):
            raise DeliveryError(f"invalid e-mail address {message.address!r}", retryable=False)
        mail = EmailMessage()
        try:
            mail["From"] = self.from_addr
            mail["To"] = _one_line(message.address)
            mail["Subject"] = _one_line(message.subject)
        except ValueError as exc:
            raise DeliveryError(f"invalid e-mail header: {exc}", retryable=False) from exc
        mail["Date"] = formatdate(localtime=True)
        domain = parseaddr(self.from_addr)[1].rpartition("@")[2] or None
        mail["Message-ID"] = make_msgid(domain=domain)
        if message.message_id:
            mail["X-Caseflow-Message-Id"] = _one_line(message.message_id)
        if message.body.isascii():
            mail.set_content(message.body)
        else:
            mail.set_content(message.body, charset="utf-8", cte="base64")
        return mail

    def send(self, message: OutgoingMessage) -> None:
        """Deliver ``message`` over SMTP; raises :class:`DeliveryError` on failure."""
        mail = self.build_message(message)
        try:
            if self.use_ssl:
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host,
                    self.port,
                    timeout=self.timeout_s,
                    context=ssl.create_default_context(),
                )
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        except (smtplib.SMTPException, OSError) as exc:
            raise _classify(exc) from exc
        try:
            if self.starttls:
                client.starttls(context=ssl.create_default_context())
            if self.username:
                client.login(self.username, self.password)
            client.send_message(mail)
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            raise _classify(exc) from exc
        finally:
            _close_quietly(client)


def _close_quietly(client: smtplib.SMTP) -> None:
    # Once DATA was accepted the mail is delivered; a failing QUIT must not turn that
    # into an error (the job would retry and send a duplicate).
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        pass
    finally:
        client.close()
