"""What the OpenAPI document says about every operation beyond its own decorators.

* Errors: every ``/api`` operation may answer 401 (no or bad token) and 403 (role or scope),
  every one with a path id 404, every POST 409 (the item moved on or a check refused) and
  422 (input the service refused); all in the one error format (``ErrorSchema``).
* Ids in paths are bounded to the database's integer range, so an absurd id is a 404 and
  never an overflow deep in the driver.
"""
from __future__ import annotations

from typing import Any

from apispec import BasePlugin
from werkzeug.routing import IntegerConverter

# PostgreSQL ``integer`` (our primary keys) ends here.
MAX_ID = 2**31 - 1
# Operations that answer without a token.
PUBLIC_PATHS = {"/api/health", "/api/ready"}


SECURITY_SCHEME = {"type": "http", "scheme": "bearer",
                   "description": "An API token (people and machine clients); the console's session also works"}


class IdConverter(IntegerConverter):
    """``<int:...>`` limited to 0..MAX_ID (a larger number matches no route: 404)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=MAX_ID if max is None else max, signed=signed)


class CommonErrorsPlugin(BasePlugin):
    """Adds the error responses every API operation can give to the document."""

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        """Document 401/403 (and 404, 409, 422 where they apply) on each ``/api`` operation."""
        if not path or not operations:
            return
        for operation in operations.values():
            if isinstance(operation, dict) and operation.pop("x-idempotency-key", False):
                from .idempotency import HEADER_PARAMETER

                operation.setdefault("parameters", []).append(dict(HEADER_PARAMETER))
        if not path.startswith("/api/") or path in PUBLIC_PATHS:
            # No bearer token here: health checks, and Open311 (its own ``api_key`` parameter).
            for operation in operations.values():
                if isinstance(operation, dict):
                    operation["security"] = []
            return
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            wanted = ["UNAUTHORIZED", "FORBIDDEN"]
            if "{" in path:
                wanted.append("NOT_FOUND")
            if method == "post":
                wanted += ["CONFLICT", "UNPROCESSABLE_ENTITY"]
            for name in wanted:
                code = {"UNAUTHORIZED": "401", "FORBIDDEN": "403", "NOT_FOUND": "404", "CONFLICT": "409",
                        "UNPROCESSABLE_ENTITY": "422"}[name]
                if code not in responses and int(code) not in responses:
                    responses[code] = name  # a lazy component of flask-smorest, resolved by apispec
