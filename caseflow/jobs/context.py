"""The Flask app a job runs in: created once per process, never shared across a fork."""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, has_app_context

_app: Flask | None = None
_lock = threading.Lock()
_fork_hook_installed = False


def _after_fork_in_child() -> None:
    # A forked work-horse (or RQ's scheduler process) must open its own connections:
    # reusing a parent's socket would interleave two processes' protocol streams.
    # close=False leaves the parent's connections alone (they are the parent's to close).
    if _app is not None:
        _app.extensions["caseflow.engine"].dispose(close=False)


def _install_fork_hook() -> None:
    global _fork_hook_installed
    if not _fork_hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _fork_hook_installed = True


def set_process_app(app: Flask) -> None:
    """Use ``app`` for this process's jobs (``caseflow worker`` passes the app it built)."""
    global _app
    with _lock:
        _app = app
        _install_fork_hook()


def process_app() -> Flask:
    """The process's app, created by ``caseflow.create_app()`` on first use."""
    global _app
    with _lock:
        if _app is None:
            from caseflow import create_app

            _app = create_app()
        _install_fork_hook()
        return _app


@contextmanager
def job_app() -> Iterator[Flask]:
    """An app context for one job; the job's DB session is removed afterwards.

    Inside an existing app context (a test, ``SimpleWorker`` under the CLI) that context is
    reused and the session closed after the job; otherwise the process's app is pushed.
    """
    from caseflow.extensions import db

    if has_app_context():
        try:
            yield current_app._get_current_object()  # type: ignore[attr-defined]
        finally:
            # close, not remove: the context's owner may still hold this session object.
            db.session.close()
        return
    app = process_app()
    with app.app_context():
        try:
            yield app
        finally:
            db.session.remove()
