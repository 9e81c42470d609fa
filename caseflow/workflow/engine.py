"""One ``transitions`` machine per (workflow, version), shared by every item on that version."""
from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transitions import EventData, Machine, State

from .definition import WorkflowDefinition
from .registry import ACTIONS, GUARDS
from .validation import WorkflowDefinitionError, load_directory


def _guard_callback(name: str, negate: bool = False) -> Callable[[EventData], bool]:
    fn = GUARDS[name]

    def check(event: EventData) -> bool:
        ctx = event.kwargs["ctx"]
        ok = bool(fn(event.model, ctx))
        if negate:
            ok = not ok
        if not ok and ctx.failed_guard is None:
            ctx.failed_guard = ("not " if negate else "") + name
        return ok

    return check


def _action_callback(name: str) -> Callable[[EventData], None]:
    fn = ACTIONS[name]

    def run(event: EventData) -> None:
        fn(event.model, event.kwargs["ctx"])

    return run


def build_machine(d: WorkflowDefinition) -> Machine:
    """A model-less machine: ORM objects are driven with ``machine.events[t].trigger(obj, ctx=...)``.

    ``auto_transitions`` is off so only declared triggers exist; we never ``add_model``
    (it resets state and grows memory per object, pytransitions #146/#379).
    """
    states = [
        State(s.name, on_enter=[_action_callback(a) for a in s.on_enter]) for s in d.states.values()
    ]
    transitions = []
    for t in d.transitions:
        conditions = [_guard_callback(g) for g in t.conditions] + [_guard_callback(g, True) for g in t.unless]
        transitions.append(
            {
                "trigger": t.trigger,
                "source": "*" if "*" in t.sources else list(t.sources),
                "dest": t.dest,
                "conditions": conditions,
                "after": [_action_callback(a) for a in t.after],
            }
        )
    return Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial=d.initial,
        auto_transitions=False,
        send_event=True,
        ignore_invalid_triggers=False,
        model_attribute="state",
    )


class WorkflowCatalog:
    """Every loaded definition and its machine, keyed by (name, version)."""

    def __init__(self, definitions: list[WorkflowDefinition]) -> None:
        self._defs: dict[tuple[str, int], WorkflowDefinition] = {d.key: d for d in definitions}
        self._machines: dict[tuple[str, int], Machine] = {d.key: build_machine(d) for d in definitions}

    @classmethod
    def from_directory(cls, folder: Path) -> WorkflowCatalog:
        """Load and validate a folder; raise ``WorkflowDefinitionError`` on any problem."""
        defs, problems = load_directory(folder)
        if problems:
            raise WorkflowDefinitionError(problems)
        return cls(defs)

    def definition(self, name: str, version: int) -> WorkflowDefinition:
        """The definition of ``name`` at ``version`` (KeyError if it is not loaded)."""
        try:
            return self._defs[(name, version)]
        except KeyError:
            raise KeyError(f"workflow {name!r} version {version} is not loaded") from None

    def machine(self, name: str, version: int) -> Machine:
        """The shared machine for ``name`` at ``version``."""
        return self._machines[(name, version)]

    def latest(self, name: str) -> WorkflowDefinition:
        """The highest version of ``name``: new items start on it."""
        versions = [v for (n, v) in self._defs if n == name]
        if not versions:
            raise KeyError(f"no workflow named {name!r}")
        return self._defs[(name, max(versions))]

    def all(self) -> list[WorkflowDefinition]:
        """Every definition, sorted by name then version."""
        return [self._defs[k] for k in sorted(self._defs)]


_lock = threading.Lock()
_catalogs: dict[str, WorkflowCatalog] = {}


def default_workflows_dir() -> Path:
    """The repository's ``workflows/`` folder (beside the package)."""
    return Path(__file__).resolve().parents[2] / "workflows"


def catalog_for(folder: str | Path | None = None) -> WorkflowCatalog:
    """The catalog for ``folder``, built once per process."""
    path = Path(folder) if folder else default_workflows_dir()
    key = str(path.resolve())
    with _lock:
        cat = _catalogs.get(key)
        if cat is None:
            cat = WorkflowCatalog.from_directory(path)
            _catalogs[key] = cat
        return cat


def get_catalog(app: Any = None) -> WorkflowCatalog:
    """The current app's catalog."""
    from flask import current_app

    app = app or current_app
    return app.extensions["caseflow.workflows"]  # type: ignore[no-any-return]
