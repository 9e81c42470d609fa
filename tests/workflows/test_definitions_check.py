"""`caseflow workflows check` on the shipped definitions and on each kind of broken copy."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from caseflow.cli import main
from caseflow.workflow.engine import default_workflows_dir

SHIPPED = default_workflows_dir()


def run_check(folder: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["workflows", "check", "--dir", str(folder)])
    return result.exit_code, result.output


def test_shipped_definitions_pass() -> None:
    code, out = run_check(SHIPPED)
    assert code == 0, out
    assert "9 workflow definition(s) OK" in out  # + roll_call (duty watch)


def broken_copy(tmp_path: Path, name: str, mutate) -> Path:  # type: ignore[no-untyped-def]
    folder = tmp_path / "wf"
    shutil.copytree(SHIPPED, folder)
    path = folder / f"{name}.yaml"
    raw = yaml.safe_load(path.read_text("utf-8"))
    mutate(raw)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), "utf-8")
    return folder


def state_index(raw: dict, name: str) -> int:  # type: ignore[type-arg]
    return next(i for i, s in enumerate(raw["states"]) if s["name"] == name)


def _set(path: list, value):  # type: ignore[no-untyped-def,type-arg]
    def mutate(raw):  # type: ignore[no-untyped-def]
        target = raw
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = value
    return mutate


CASES = [
    # (description, workflow file, mutation, expected path fragment, expected message fragment)
    ("unknown destination", "instruction", lambda r: r["transitions"][0].update(dest="nowhere"),
     "transitions[0].dest", "unknown destination state 'nowhere'"),
    ("unknown source", "instruction", lambda r: r["transitions"][0].update(source="nowhere"),
     "transitions[0].source", "unknown state 'nowhere'"),
    ("unreachable state", "case_general", lambda r: r["states"].append({"name": "orphan", "final": True}),
     "states[9]", "cannot be reached"),
    ("non-final dead end", "case_general",
     lambda r: r.update(transitions=[t for t in r["transitions"] if t["trigger"] not in ("archive", "reopen")]),
     "states[6]", "is not final and has no way out"),
    ("final state with an exit", "return_request",
     lambda r: r["transitions"].append({"trigger": "reopen", "source": "approved", "dest": "requested", "roles": ["dispatcher"]}),
     "states[1]", "final state 'approved' has transitions out of it"),
    ("unknown guard", "duty_shift", lambda r: r["transitions"][2].update(conditions=["no_such_guard"]),
     "transitions[2].conditions[0]", "unknown guard 'no_such_guard'"),
    ("unknown action", "instruction", lambda r: r["transitions"][0].update(after=["os_system"]),
     "transitions[0].after[0]", "unknown action 'os_system'"),
    ("dotted import path is not a name", "instruction", lambda r: r["transitions"][0].update(after=["os.system"]),
     "transitions[0].after[0]", "does not match"),
    ("unknown role", "instruction", lambda r: r["transitions"][0].update(roles=["janitor"]),
     "transitions[0].roles[0]", "unknown role 'janitor'"),
    ("schema: missing key", "handover", lambda r: r.pop("initial"), "", "'initial' is a required property"),
    ("schema: bad duration", "instruction",
     lambda r: r["states"][state_index(r, "dispatched")]["deadlines"][0]["after"].update(main_urban="half an hour"),
     "states[3].deadlines[0].after", "is not valid"),
    ("expiry trigger not from that state", "instruction",
     lambda r: r["states"][state_index(r, "dispatched")]["deadlines"][0]["on_expiry"].update(trigger="sign"),
     "states[3].deadlines[0].on_expiry.trigger", "has no transition from state 'dispatched'"),
    ("unknown escalation", "instruction",
     lambda r: r["states"][state_index(r, "dispatched")]["deadlines"][0]["on_expiry"].update(escalation="nobody"),
     "states[3].deadlines[0].on_expiry.escalation", "unknown escalation 'nobody'"),
    ("unknown escalation target", "instruction",
     lambda r: r["escalations"]["late_arrival"]["steps"][0].update(notify=["the_mayor"]),
     "escalations.late_arrival.steps[0].notify[0]", "unknown escalation target 'the_mayor'"),
    ("unknown initial state", "handover", lambda r: r.update(initial="limbo"), "initial", "unknown state 'limbo'"),
]


@pytest.mark.parametrize("desc,name,mutate,path,message", CASES, ids=[c[0] for c in CASES])
def test_each_broken_copy_fails_with_file_and_path(tmp_path, desc, name, mutate, path, message) -> None:  # type: ignore[no-untyped-def]
    folder = broken_copy(tmp_path, name, mutate)
    code, out = run_check(folder)
    assert code == 1, out
    line = next((ln for ln in out.splitlines() if message in ln), None)
    assert line is not None, out
    assert line.startswith(str(folder / f"{name}.yaml"))
    if path:
        assert f": {path}" in line, line


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    shutil.copytree(SHIPPED, folder)
    (folder / "handover.yaml").write_text("name: handover\nstates: [unclosed\n", "utf-8")
    code, out = run_check(folder)
    assert code == 1
    assert "handover.yaml: line 3" in out and "invalid YAML" in out


def test_duplicate_version_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "wf"
    shutil.copytree(SHIPPED, folder)
    shutil.copy(folder / "handover.yaml", folder / "handover_copy.yaml")
    code, out = run_check(folder)
    assert code == 1
    assert "handover v1 is also defined in" in out


def test_app_refuses_to_start_on_an_invalid_definition(tmp_path: Path, app_config) -> None:  # type: ignore[no-untyped-def]
    from caseflow import create_app
    from caseflow.workflow import WorkflowDefinitionError

    folder = broken_copy(tmp_path, "instruction", lambda r: r["transitions"][0].update(dest="nowhere"))
    with pytest.raises(WorkflowDefinitionError) as exc:
        create_app({**app_config, "WORKFLOWS_DIR": str(folder)})
    assert "transitions[0].dest" in str(exc.value)


def test_list_and_diagram_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    out = runner.invoke(main, ["workflows", "list"]).output
    assert "instruction v1 (instruction)" in out and "case_difficult v1" in out
    target = tmp_path / "instruction.mmd"
    result = runner.invoke(main, ["workflows", "diagram", "instruction", "--format", "mermaid", "-o", str(target)])
    assert result.exit_code == 0, result.output
    text = target.read_text("utf-8")
    assert text.startswith("---\ntitle: 应急联动指令 (v1)\n---\nstateDiagram-v2")
    assert "dispatched --> on_site: arrive" in text
    missing = runner.invoke(main, ["workflows", "diagram", "no_such"])
    assert missing.exit_code != 0 and "no workflow 'no_such'" in missing.output
