"""Areas (main urban / other) and grids (网格) with their grid leaders."""
from __future__ import annotations

from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .org import Center
from .people import Person

AREA_KINDS = ("main_urban", "other")


class Area(Base):
    """An area whose kind sets the arrival deadline: main urban (主城区) 30 min, other 60 min."""

    __tablename__ = "area"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))  # main_urban | other
    # False: offered for no new grid; grids and items that name it keep pointing at it.
    active: Mapped[bool] = mapped_column(default=True)


class Grid(Base):
    """A grid cell (网格) inside an area, kept by a grid leader; ``shape`` is a GeoJSON polygon."""

    __tablename__ = "grid"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("center.id"))
    leader_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))
    shape: Mapped[dict[str, Any] | None] = mapped_column()
    # False: offered for no new case; cases and instructions that name it keep pointing at it.
    active: Mapped[bool] = mapped_column(default=True)

    area: Mapped[Area] = relationship()
    center: Mapped[Center | None] = relationship()
    leader: Mapped[Person | None] = relationship()
