"""The REST API (flask-smorest, OpenAPI 3 at /api/openapi.json)."""
from __future__ import annotations

from .setup import init_api

__all__ = ["init_api"]
