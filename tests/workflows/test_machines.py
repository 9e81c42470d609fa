"""The shared machines drive plain objects: no add_model, no auto transitions."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from transitions import MachineError

from caseflow.workflow.engine import catalog_for


@dataclass
class Plain:
    state: str
    data: dict[str, Any] = field(default_factory=dict)


class Ctx:
    def __init__(self) -> None:
        self.failed_guard = None
        self.ledger_extra: dict[str, Any] = {}


def test_one_machine_drives_many_objects() -> None:
    m = catalog_for().machine("case_simple", 1)
    a, b = Plain("closed"), Plain("closed")
    # archive has no actions (report_result checks the site photo in the database).
    assert m.events["archive"].trigger(a, ctx=Ctx())
    assert a.state == "archived" and b.state == "closed"
    assert m.models == []  # nothing was added to the machine


def test_no_auto_transitions_and_invalid_trigger_raises() -> None:
    m = catalog_for().machine("instruction", 1)
    assert "to_closed" not in m.events
    with pytest.raises(MachineError):
        m.events["arrive"].trigger(Plain("received"), ctx=Ctx())


def test_action_runs_on_transition() -> None:
    m = catalog_for().machine("case_general", 1)
    obj = Plain("checking")
    assert m.events["check_fail"].trigger(obj, ctx=Ctx())
    assert obj.state == "handling" and obj.data["rework_count"] == 1
