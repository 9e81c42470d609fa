"""A per-process cache of rarely changed settings read on every transition.

Arming a deadline needs the working calendar (calendar overrides, a department's hours) and,
for cases, the time-limit table. Those tables change a few times a year, through the admin
pages, yet reading them cost two or three queries per transition. So their lookups are cached
here, per process:

* a change committed **in this process** clears the cache at once (a session listener watches
  flushes for the models registered with :func:`watch`);
* a change made **by another process** is seen after at most ``TTL_S`` seconds. Deadlines armed
  in that window use the previous settings, which is what they would have used had they been
  armed a moment earlier; documented in the README's settings section.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

TTL_S = 30.0
T = TypeVar("T")

_lock = threading.Lock()
_values: dict[Hashable, tuple[float, Any]] = {}
_watched: set[type] = set()


def cached(session: Session, key: Hashable, load: Callable[[], T]) -> T:
    """``load()``'s value for ``key`` in the session's database, reused for up to ``TTL_S`` s."""
    key = (id(session.get_bind()), key)
    now = time.monotonic()
    hit = _values.get(key)
    if hit is not None and now - hit[0] < TTL_S:
        return hit[1]  # type: ignore[no-any-return]
    value = load()
    with _lock:
        _values[key] = (now, value)
    return value


def clear() -> None:
    """Forget everything (a watched table changed)."""
    with _lock:
        _values.clear()


def watch(*models: type) -> None:
    """Clear the cache whenever a session flushes a change to one of ``models``."""
    _watched.update(models)


_CHANGED = "caseflow.settings_changed"


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    if not _watched:
        return
    for obj in (*session.new, *session.dirty, *session.deleted):
        if type(obj) in _watched:
            # Cleared at flush so the writing transaction sees its own change, and again at
            # commit so nothing another thread loaded in between outlives it.
            session.info[_CHANGED] = True
            clear()
            return


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        clear()


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        clear()  # what was loaded from the rolled-back change must go too
