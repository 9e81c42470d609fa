"""Workflow definitions: typed views of a validated YAML file."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from caseflow.worktime import parse_duration


@dataclass(frozen=True)
class DeadlineSpec:
    """A deadline declared on a state; ``after`` is a duration or a per-attribute table."""

    id: str
    after: str | dict[str, str]
    clock: str
    on_expiry: dict[str, str]

    def duration_for(self, item: object, day_length: timedelta = timedelta(days=1)) -> timedelta:
        """The duration that applies to ``item`` (e.g. 30m main urban, 60m other).

        ``day_length`` is what ``d`` means: 24 h on the wall clock, a working day otherwise.
        """
        if isinstance(self.after, str):
            return parse_duration(self.after, day_length=day_length)
        by = self.after.get("by", "area_kind")
        key = getattr(item, by, None)
        if key is None or str(key) not in self.after:
            raise KeyError(f"deadline {self.id!r}: no duration for {by}={key!r}")
        return parse_duration(self.after[str(key)], day_length=day_length)


@dataclass(frozen=True)
class StateSpec:
    """A state with its labels, deadlines and entry actions."""

    name: str
    final: bool
    label: dict[str, str]
    deadlines: tuple[DeadlineSpec, ...]
    on_enter: tuple[str, ...]


@dataclass(frozen=True)
class TransitionSpec:
    """A transition: trigger, sources, destination (None = stays), roles, required fields."""

    trigger: str
    sources: tuple[str, ...]
    dest: str | None
    roles: tuple[str, ...]
    requires: tuple[str, ...]
    conditions: tuple[str, ...]
    unless: tuple[str, ...]
    after: tuple[str, ...]
    label: dict[str, str]


@dataclass(frozen=True)
class StepSpec:
    """One escalation step: after a delay, tell these targets, possibly repeating."""

    after: str
    notify: tuple[str, ...]
    repeat: int
    every: str


@dataclass(frozen=True)
class EscalationSpec:
    """An escalation chain with its normal and (optional) emergency-mode steps."""

    name: str
    steps: tuple[StepSpec, ...]
    emergency_steps: tuple[StepSpec, ...]


@dataclass
class WorkflowDefinition:
    """A whole validated workflow file."""

    name: str
    version: int
    item: str
    initial: str
    title: dict[str, str]
    states: dict[str, StateSpec]
    transitions: list[TransitionSpec]
    escalations: dict[str, EscalationSpec]
    source_file: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> tuple[str, int]:
        return (self.name, self.version)

    def transitions_for(self, trigger: str) -> list[TransitionSpec]:
        """All transitions with this trigger."""
        return [t for t in self.transitions if t.trigger == trigger]

    def transition_from(self, trigger: str, state: str) -> TransitionSpec | None:
        """The transition this trigger takes from ``state``, if any."""
        for t in self.transitions:
            if t.trigger == trigger and (state in t.sources or "*" in t.sources):
                return t
        return None

    def triggers_from(self, state: str) -> list[TransitionSpec]:
        """Transitions available from ``state`` (for the console's buttons)."""
        return [t for t in self.transitions if state in t.sources or "*" in t.sources]

    def label(self, state: str, lang: str = "zh") -> str:
        """A state's display label in ``lang``."""
        spec = self.states.get(state)
        if spec is None or not spec.label:
            return state
        return spec.label.get(lang) or state


def _step(raw: dict[str, Any]) -> StepSpec:
    return StepSpec(
        after=raw.get("after", "0s"),
        notify=tuple(raw["notify"]),
        repeat=int(raw.get("repeat", 0)),
        every=raw.get("every", raw.get("after", "0s")),
    )


def build_definition(raw: dict[str, Any], source_file: str = "") -> WorkflowDefinition:
    """Turn a schema-valid mapping into a definition (graph checks happen in validation)."""
    states = {}
    for s in raw["states"]:
        states[s["name"]] = StateSpec(
            name=s["name"],
            final=bool(s.get("final", False)),
            label=s.get("label", {}),
            deadlines=tuple(
                DeadlineSpec(
                    id=d["id"], after=d["after"], clock=d.get("clock", "wall"), on_expiry=d["on_expiry"]
                )
                for d in s.get("deadlines", [])
            ),
            on_enter=tuple(s.get("on_enter", [])),
        )
    transitions = []
    for t in raw["transitions"]:
        src = t["source"]
        transitions.append(
            TransitionSpec(
                trigger=t["trigger"],
                sources=tuple([src] if isinstance(src, str) else src),
                dest=t.get("dest"),
                roles=tuple(t["roles"]),
                requires=tuple(t.get("requires", [])),
                conditions=tuple(t.get("conditions", [])),
                unless=tuple(t.get("unless", [])),
                after=tuple(t.get("after", [])),
                label=t.get("label", {}),
            )
        )
    escalations = {
        name: EscalationSpec(
            name=name,
            steps=tuple(_step(s) for s in e["steps"]),
            emergency_steps=tuple(_step(s) for s in e.get("emergency_steps", [])),
        )
        for name, e in (raw.get("escalations") or {}).items()
    }
    return WorkflowDefinition(
        name=raw["name"],
        version=raw["version"],
        item=raw["item"],
        initial=raw["initial"],
        title=raw.get("title", {}),
        states=states,
        transitions=transitions,
        escalations=escalations,
        source_file=source_file,
        raw=raw,
    )
