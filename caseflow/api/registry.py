"""The list of API modules with a ``blp``; each capability adds its module name here."""
from __future__ import annotations

import importlib
from typing import Any

MODULES: list[str] = [
    "caseflow.api.attachments",
    "caseflow.api.open311",
    "caseflow.api.duty",
    "caseflow.api.instructions",
    "caseflow.api.escalations",
    "caseflow.api.cases",
    "caseflow.api.reports",
    "caseflow.api.returns",
    "caseflow.api.admin",
    "caseflow.api.time_limits",
    "caseflow.api.calendar",
]


def load() -> list[Any]:
    """Import every listed module and return its blueprint."""
    return [importlib.import_module(m).blp for m in MODULES]
