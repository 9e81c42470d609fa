"""Idempotency keys: the first response to a machine client's POST, replayed for its retries."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class IdempotencyKey(Base):
    """One ``Idempotency-Key`` of one client (API token or signed-in person).

    ``status`` stays empty while the first request runs; then it holds the response to replay.
    Rows older than the retention (24 h) are ignored, and purged when new keys are claimed.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("client", "key"), Index("ix_idempotency_key_created_at", "created_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    # "token:<api_token.id>" or "person:<person.id>" (console session).
    client: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of method, path, query and the (normalised) body.
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column()
    body: Mapped[str] = mapped_column(Text, default="")
    content_type: Mapped[str] = mapped_column(String(120), default="")
    # Response headers worth replaying (Location, X-Pagination...), as "Name: value" lines.
    headers: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
