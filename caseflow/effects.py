"""Effects outside the database, collected during a transaction and run after commit.

pytransitions has no rollback, and a job enqueued before commit can run before its row
exists; so actions only record effects here and the service runs them after commit.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class Effects:
    """An ordered list of callables to run once the transaction has committed."""

    def __init__(self) -> None:
        self._pending: list[tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]] = []
        self._batches: dict[tuple[str, Callable[..., Any]], list[Any]] = {}

    def add(self, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Record ``fn(*args, **kwargs)`` to run after commit; ``label`` is for logs and tests."""
        self._pending.append((label, fn, args, kwargs))

    def add_to_batch(self, label: str, fn: Callable[[list[Any]], Any], value: Any) -> None:
        """Collect ``value`` for one call ``fn([values...])`` after commit (one Redis pipeline
        for a transaction's many scheduled deadlines, say), run where the first was added."""
        key = (label, fn)
        batch = self._batches.get(key)
        if batch is None:
            batch = self._batches[key] = []
            self._pending.append((label, fn, (batch,), {}))
        batch.append(value)

    @property
    def labels(self) -> list[str]:
        """Labels of the recorded effects, in order."""
        return [p[0] for p in self._pending]

    def discard(self) -> None:
        """Forget everything (the transaction rolled back)."""
        self._pending.clear()
        self._batches.clear()

    def dispatch(self) -> list[str]:
        """Run every effect; a failure is logged, not raised (the sweepers cover deadlines
        and the outbox, so nothing is lost when Redis is briefly unreachable)."""
        failed = []
        pending, self._pending = self._pending, []
        self._batches = {}
        for label, fn, args, kwargs in pending:
            try:
                fn(*args, **kwargs)
            except Exception:
                log.exception("effect %s failed after commit", label)
                failed.append(label)
        return failed
