"""Domain errors raised by services; the API and console map them to HTTP codes."""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Base of every error a service raises on purpose; ``status`` is the HTTP equivalent."""

    status = 400
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details or {}
        # Set when the refusal must be kept for audit; written after the rollback.
        self.audit: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The body of the API's error response."""
        errors = dict(self.details)
        if self.field:
            errors.setdefault(self.field, [self.message])
        return {"code": self.status, "status": self.code, "message": self.message, "errors": errors}


class ValidationFailed(DomainError):
    """Input is missing or malformed; ``field`` names it."""

    status = 422
    code = "validation_failed"


class NotFound(DomainError):
    """The item does not exist, or the actor may not know it exists."""

    status = 404
    code = "not_found"


class PermissionDenied(DomainError):
    """The actor's role or department does not allow this."""

    status = 403
    code = "forbidden"


class UnknownTrigger(DomainError):
    """The workflow has no such trigger at all."""

    status = 400
    code = "unknown_trigger"


class InvalidTransition(DomainError):
    """The trigger exists but not from the item's current state."""

    status = 409
    code = "invalid_transition"


class Conflict(DomainError):
    """Someone else changed the item first; ``details['state']`` is its state now."""

    status = 409
    code = "conflict"


class TransitionRejected(DomainError):
    """A guard refused the transition; the message names the guard."""

    status = 409
    code = "rejected"


class PayloadTooLarge(DomainError):
    """An upload is bigger than the configured limit; nothing was stored."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    """An upload's content is not an allowed type; nothing was stored."""

    status = 415
    code = "unsupported_media_type"
