"""Reference data every installation needs, loaded idempotently by ``caseflow init``."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.models import Area

AREAS = [("main_urban", "主城区", "main_urban"), ("other", "其它区域", "other")]


def load_reference_data(session: Session) -> int:
    """Create the two area kinds if missing; return how many rows were added."""
    added = 0
    for code, name, kind in AREAS:
        if session.execute(select(Area.id).where(Area.code == code)).scalar() is None:
            session.add(Area(code=code, name=name, kind=kind))
            added += 1
    session.commit()
    return added
