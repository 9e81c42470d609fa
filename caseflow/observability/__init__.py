"""Operations: Prometheus metrics, structured JSON logs with request ids, deep readiness.

``init_observability(app)`` is called once by :func:`caseflow.create_app`.
"""
from __future__ import annotations

from flask import Flask


def init_observability(app: Flask) -> None:
    """Install the request-id middleware, JSON logging (when asked) and ``/metrics``."""
    from .logging import init_logging
    from .metrics import init_metrics

    init_logging(app)
    init_metrics(app)
