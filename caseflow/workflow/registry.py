"""The only way a workflow YAML reaches code: guard and action names registered here.

Names are resolved through this registry, never by importing a dotted path from YAML, so a
definition file cannot make the app run arbitrary code.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from .context import TransitionContext

Guard = Callable[["object", "TransitionContext"], bool]
Action = Callable[["object", "TransitionContext"], None]
F = TypeVar("F", bound=Callable[..., object])

GUARDS: dict[str, Guard] = {}
ACTIONS: dict[str, Action] = {}

# Modules inside caseflow that register guards and actions; imported before validation.
CALLBACK_MODULES = [
    "caseflow.workflow.builtin",
    "caseflow.workflow.duty_actions",
    "caseflow.workflow.instruction_actions",
    "caseflow.workflow.case_actions",
    "caseflow.workflow.case_tier_actions",
    "caseflow.workflow.return_actions",
    "caseflow.workflow.instruction_transfer_actions",
]

# Who an escalation step may name; resolved to people at run time.
ESCALATION_TARGETS = {
    "unit_head",
    "action_group_leader",
    "responsible_person",
    "deputy_leader_in_charge",
    "principal_leader",
    "shift_lead_on_duty",
    "leader_on_shift",
    "liaison",
    "dispatcher",
    "duty_lead",
    "leader",
    "admin",
}


def guard(name: str) -> Callable[[F], F]:
    """Register a guard: ``(item, ctx) -> bool``; return False to refuse, never raise."""

    def deco(fn: F) -> F:
        if name in GUARDS and GUARDS[name] is not fn:
            raise ValueError(f"guard {name!r} registered twice")
        GUARDS[name] = fn  # type: ignore[assignment]
        return fn

    return deco


def action(name: str) -> Callable[[F], F]:
    """Register an action: ``(item, ctx) -> None``; it may only touch the session and effects."""

    def deco(fn: F) -> F:
        if name in ACTIONS and ACTIONS[name] is not fn:
            raise ValueError(f"action {name!r} registered twice")
        ACTIONS[name] = fn  # type: ignore[assignment]
        return fn

    return deco


def load_callbacks() -> None:
    """Import every module that registers guards and actions (idempotent)."""
    for mod in CALLBACK_MODULES:
        importlib.import_module(mod)
