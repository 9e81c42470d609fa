"""People, their roles, and API tokens for people and machine clients."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow
from .org import Center, Department

ROLES = ("liaison", "dispatcher", "handler", "duty_lead", "duty_officer", "leader", "admin")
CLIENT_KINDS = ("person", "linkage_110", "sensor", "hotline", "app", "system")


class Person(Base):
    """Someone who signs in: liaison, dispatcher, handler, duty staff, leader or admin."""

    __tablename__ = "person"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255), default="")
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("center.id"))
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(120), default="")
    # Preferred notification channels in order, e.g. ["wecom", "sms"].
    channels: Mapped[list[Any]] = mapped_column(default=list)
    locale: Mapped[str] = mapped_column(String(8), default="zh")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    department: Mapped[Department | None] = relationship(foreign_keys=[department_id])
    center: Mapped[Center | None] = relationship()
    role_rows: Mapped[list[PersonRole]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def roles(self) -> set[str]:
        """The role names this person holds."""
        return {r.role for r in self.role_rows}

    def __repr__(self) -> str:
        return f"<Person {self.username}>"


class PersonRole(Base):
    """One role held by a person."""

    __tablename__ = "person_role"
    __table_args__ = (UniqueConstraint("person_id", "role"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(24))


class ApiToken(Base):
    """A bearer token for a person or a machine client (110 center, sensors, hotline).

    Only the SHA-256 of the token is stored; the token is shown once when issued.
    """

    __tablename__ = "api_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_kind: Mapped[str] = mapped_column(String(24), default="person")
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()

    person: Mapped[Person | None] = relationship()
