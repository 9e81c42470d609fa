"""Evidence attached to a workflow item: photos, documents, audio and video stored on disk."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .people import Person

ATTACHMENT_KINDS = ("photo", "document", "audio", "video")


class Attachment(Base):
    """One stored file. The bytes live under ``UPLOAD_DIR/<stored_path>``; the row is written only
    once the file is in place, so a row always has its file.

    ``content_type`` and ``kind`` come from the file's content (sniffed), never from its name;
    ``sha256`` lets anyone who downloads it check it is unchanged.
    """

    __tablename__ = "attachment"
    __table_args__ = (Index("ix_attachment_item", "item_type", "item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    item_type: Mapped[str] = mapped_column(String(24))
    item_id: Mapped[int] = mapped_column(Integer)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    uploaded_client: Mapped[str] = mapped_column(String(40), default="")  # machine client name
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    original_name: Mapped[str] = mapped_column(String(255), default="")
    stored_path: Mapped[str] = mapped_column(String(255), unique=True)  # relative to UPLOAD_DIR
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # photo | document | audio | video
    ledger_seq: Mapped[int | None] = mapped_column(Integer)  # the ledger entry it supports, if any

    uploaded_by: Mapped[Person | None] = relationship()
