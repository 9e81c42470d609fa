"""The unsigned-instruction alarm's delay is the INSTRUCTION_SIGN_ALARM_AFTER setting."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from caseflow import create_app
from caseflow.models import Deadline
from caseflow.security.actor import Actor
from caseflow.services import instructions as svc


def _sign_deadline(session, catalog, number: str) -> Deadline:  # type: ignore[no-untyped-def]
    item, created = svc.receive(session, catalog, actor=Actor.client_of("linkage_110"), number=number,
                                category="garbage", address="人民路 1 号", description="垃圾堆放")
    assert created and item.state == "received"
    return session.execute(select(Deadline).where(
        Deadline.item_type == "instruction", Deadline.item_id == item.id, Deadline.key == "sign")).scalar_one()


@pytest.mark.parametrize("setting, expected", [
    ("5m", timedelta(minutes=5)),      # the default, as the workflow says
    ("2m", timedelta(minutes=2)),
    ("1h30m", timedelta(hours=1, minutes=30)),
    ("", timedelta(minutes=5)),        # empty: the YAML's own value
])
def test_the_setting_sets_the_armed_due_time(app, session, catalog, world, monkeypatch, setting, expected) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "INSTRUCTION_SIGN_ALARM_AFTER", setting)
    row = _sign_deadline(session, catalog, "110-A1")
    assert row.status == "pending" and row.clock == "wall"
    assert row.due_at - row.armed_at == expected
    assert row.on_expiry == {"escalation": "unsigned"}  # only the delay changes


def test_a_changed_setting_applies_to_instructions_received_afterwards(app, session, catalog, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    first = _sign_deadline(session, catalog, "110-B1")
    monkeypatch.setitem(app.config, "INSTRUCTION_SIGN_ALARM_AFTER", "10m")
    second = _sign_deadline(session, catalog, "110-B2")
    session.refresh(first)
    assert first.due_at - first.armed_at == timedelta(minutes=5)  # already armed: kept
    assert second.due_at - second.armed_at == timedelta(minutes=10)


def test_the_default_is_five_minutes(app) -> None:  # type: ignore[no-untyped-def]
    assert app.config["INSTRUCTION_SIGN_ALARM_AFTER"] == "5m"


@pytest.mark.parametrize("bad", ["soon", "0", "-5m", "1.5m"])
def test_a_bad_setting_stops_the_start(app_config, bad) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="INSTRUCTION_SIGN_ALARM_AFTER"):
        create_app({**app_config, "INSTRUCTION_SIGN_ALARM_AFTER": bad})
