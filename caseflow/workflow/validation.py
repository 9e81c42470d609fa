"""Validate workflow YAML: JSON schema first, then graph checks; errors carry the YAML path."""
from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from caseflow.worktime import parse_duration

from .definition import WorkflowDefinition, build_definition
from .registry import ACTIONS, ESCALATION_TARGETS, GUARDS, load_callbacks


@dataclass(frozen=True)
class DefinitionProblem:
    """One problem in one file at one YAML path."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}: {where}{self.message}"


class WorkflowDefinitionError(Exception):
    """Raised when one or more definitions are invalid; ``problems`` lists each."""

    def __init__(self, problems: list[DefinitionProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def known_roles() -> set[str]:
    """Roles a transition may name: people's roles, machine clients, and the system itself."""
    from caseflow.models.people import CLIENT_KINDS, ROLES

    return set(ROLES) | (set(CLIENT_KINDS) - {"person"}) | {"system"}


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    text = resources.files("caseflow.workflow").joinpath("schema.json").read_text("utf-8")
    return json.loads(text)


def yaml_path(parts: Any) -> str:
    """Render a jsonschema path deque as ``states[3].deadlines[0].after``."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def parse_file(path: Path) -> tuple[dict[str, Any] | None, list[DefinitionProblem]]:
    """Read one YAML file; report syntax errors with their line."""
    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [DefinitionProblem(str(path), where, f"invalid YAML: {problem}")]
    if not isinstance(raw, dict):
        return None, [DefinitionProblem(str(path), "", "a workflow file must be a mapping")]
    return raw, []


def check_schema(raw: dict[str, Any], file: str) -> list[DefinitionProblem]:
    """JSON-schema problems, each at its YAML path."""
    validator = jsonschema.Draft202012Validator(_schema())
    problems = []
    for err in sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path))):
        problems.append(DefinitionProblem(file, yaml_path(err.absolute_path), err.message))
    return problems


def check_graph(d: WorkflowDefinition, file: str) -> list[DefinitionProblem]:
    """Graph and name checks on a schema-valid definition."""
    load_callbacks()
    problems: list[DefinitionProblem] = []

    def add(path: str, msg: str) -> None:
        problems.append(DefinitionProblem(file, path, msg))

    names = [s["name"] for s in d.raw["states"]]
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            add(f"states[{i}].name", f"duplicate state {n!r}")
        seen.add(n)
    if d.initial not in d.states:
        add("initial", f"unknown state {d.initial!r}")

    roles = known_roles()
    exits: dict[str, int] = {s: 0 for s in d.states}
    edges: dict[str, set[str]] = {s: set() for s in d.states}
    for i, t in enumerate(d.transitions):
        p = f"transitions[{i}]"
        for j, src in enumerate(t.sources):
            if src != "*" and src not in d.states:
                add(f"{p}.source" + (f"[{j}]" if len(t.sources) > 1 else ""), f"unknown state {src!r}")
        if t.dest is not None and t.dest not in d.states:
            add(f"{p}.dest", f"unknown destination state {t.dest!r}")
        for j, r in enumerate(t.roles):
            if r not in roles:
                add(f"{p}.roles[{j}]", f"unknown role {r!r} (known: {', '.join(sorted(roles))})")
        for key, table, kind in (("conditions", GUARDS, "guard"), ("unless", GUARDS, "guard"), ("after", ACTIONS, "action")):
            for j, name in enumerate(getattr(t, key)):
                if name not in table:
                    add(f"{p}.{key}[{j}]", f"unknown {kind} {name!r}")
        srcs = list(d.states) if "*" in t.sources else [s for s in t.sources if s in d.states]
        for s in srcs:
            if t.dest is not None:
                exits[s] += 1
                if t.dest in d.states:
                    edges[s].add(t.dest)
            elif d.states[s].final:
                exits[s] += 1  # an internal transition on a final state is still an exit

    for i, s in enumerate(d.raw["states"]):
        spec = d.states.get(s["name"])
        if spec is None:
            continue
        if spec.final and exits[spec.name]:
            add(f"states[{i}]", f"final state {spec.name!r} has transitions out of it")
        if not spec.final and not exits[spec.name]:
            add(f"states[{i}]", f"state {spec.name!r} is not final and has no way out")
        for j, name in enumerate(spec.on_enter):
            if name not in ACTIONS:
                add(f"states[{i}].on_enter[{j}]", f"unknown action {name!r}")
        for j, dl in enumerate(spec.deadlines):
            dp = f"states[{i}].deadlines[{j}]"
            after = dl.after if isinstance(dl.after, dict) else {"_": dl.after}
            for k, v in after.items():
                if k == "by":
                    continue
                try:
                    parse_duration(v)
                except ValueError as exc:
                    add(f"{dp}.after" + ("" if k == "_" else f".{k}"), str(exc))
            trig = dl.on_expiry.get("trigger")
            if trig and d.transition_from(trig, spec.name) is None:
                add(f"{dp}.on_expiry.trigger", f"trigger {trig!r} has no transition from state {spec.name!r}")
            elif trig and "system" not in (d.transition_from(trig, spec.name).roles):  # type: ignore[union-attr]
                add(f"{dp}.on_expiry.trigger", f"trigger {trig!r} must allow role 'system' to fire on expiry")
            esc = dl.on_expiry.get("escalation")
            if esc and esc not in d.escalations:
                add(f"{dp}.on_expiry.escalation", f"unknown escalation {esc!r}")

    for name, esc in d.escalations.items():
        for key in ("steps", "emergency_steps"):
            for j, step in enumerate(getattr(esc, key)):
                for k, target in enumerate(step.notify):
                    if target not in ESCALATION_TARGETS:
                        add(f"escalations.{name}.{key}[{j}].notify[{k}]", f"unknown escalation target {target!r}")

    # Reachability from the initial state.
    if d.initial in d.states:
        reached = {d.initial}
        queue = deque([d.initial])
        while queue:
            for nxt in edges[queue.popleft()]:
                if nxt not in reached:
                    reached.add(nxt)
                    queue.append(nxt)
        for i, s in enumerate(d.raw["states"]):
            if s["name"] in d.states and s["name"] not in reached:
                add(f"states[{i}]", f"state {s['name']!r} cannot be reached from {d.initial!r}")
    return problems


def load_definition_file(path: Path) -> tuple[WorkflowDefinition | None, list[DefinitionProblem]]:
    """Parse and fully validate one file."""
    file = str(path)
    raw, problems = parse_file(path)
    if raw is None:
        return None, problems
    problems = check_schema(raw, file)
    if problems:
        return None, problems
    d = build_definition(raw, file)
    problems = check_graph(d, file)
    return (None if problems else d), problems


def load_directory(folder: Path) -> tuple[list[WorkflowDefinition], list[DefinitionProblem]]:
    """Validate every ``*.yaml``/``*.yml`` in ``folder``; also flag duplicate (name, version)."""
    defs: list[WorkflowDefinition] = []
    problems: list[DefinitionProblem] = []
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        problems.append(DefinitionProblem(str(folder), "", "no workflow definitions found"))
    seen: dict[tuple[str, int], str] = {}
    for f in files:
        d, p = load_definition_file(f)
        problems.extend(p)
        if d is None:
            continue
        if d.key in seen:
            problems.append(DefinitionProblem(str(f), "version", f"{d.name} v{d.version} is also defined in {seen[d.key]}"))
            continue
        seen[d.key] = str(f)
        defs.append(d)
    return defs, problems
