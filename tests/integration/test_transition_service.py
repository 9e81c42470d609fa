"""The one transition service: checks, ledger, deadlines, versions, denials."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    TransitionRejected,
    UnknownTrigger,
    ValidationFailed,
)
from caseflow.models import AccessDenial, Case, Deadline, Instruction, LedgerEntry, utcnow
from caseflow.security.actor import Actor
from caseflow.services import transition
from caseflow.services.ledger import entry_hash, hashed_fields


def new_instruction(session, catalog, world, number="110-0001", area="main_urban"):  # type: ignore[no-untyped-def]
    ins = Instruction(number=number, received_at=utcnow(), category_id=world.cat_garbage.id, area_kind=area,
                      description="路面散落垃圾")
    return transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")


def new_case(session, catalog, world, number="C-0001"):  # type: ignore[no-untyped-def]
    case = Case(number=number, channel="patrol", tier="general", title="暴露垃圾", category_id=world.cat_garbage.id)
    return transition.start(session, catalog, case, workflow="case_general", actor=world.actor("dispatcher"), role="dispatcher")


def ledger(session, item):  # type: ignore[no-untyped-def]
    return list(session.execute(select(LedgerEntry).where(
        LedgerEntry.item_type == item.item_type, LedgerEntry.item_id == item.id).order_by(LedgerEntry.seq)).scalars())


def test_start_records_version_ledger_and_initial_deadline(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    assert (ins.workflow, ins.workflow_version, ins.state, ins.state_seq) == ("instruction", 1, "received", 1)
    entries = ledger(session, ins)
    assert [(e.seq, e.trigger, e.from_state, e.to_state) for e in entries] == [(1, "create", None, "received")]
    sign = session.execute(select(Deadline).where(Deadline.item_id == ins.id)).scalar_one()
    assert sign.key == "sign" and sign.status == "pending"
    assert timedelta(minutes=4, seconds=59) < sign.due_at - sign.armed_at <= timedelta(minutes=5)


def test_dispatch_arms_arrival_by_area_and_cancels_previous(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    main = new_instruction(session, catalog, world, "110-A", "main_urban")
    other = new_instruction(session, catalog, world, "110-B", "other")
    for ins in (main, other):
        transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"))
        transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=world.actor("liaison"),
                        data={"department_id": world.sanitation.id})
    rows = {(d.item_id, d.key): d for d in session.execute(select(Deadline)).scalars()}
    assert rows[(main.id, "sign")].status == "cancelled"
    assert rows[(main.id, "arrival")].due_at - rows[(main.id, "arrival")].armed_at == timedelta(minutes=30)
    assert rows[(other.id, "arrival")].due_at - rows[(other.id, "arrival")].armed_at == timedelta(minutes=60)
    assert session.get(Instruction, main.id).department_id == world.sanitation.id


def test_ledger_is_numbered_and_hash_chained(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"), comment="已签收")
    entries = ledger(session, ins)
    assert [e.seq for e in entries] == [1, 2]
    assert entries[1].prev_hash == entries[0].hash
    assert entries[1].hash == entry_hash(entries[0].hash, hashed_fields(entries[1]))
    assert entries[1].actor_id == world.people["liaison"].id and entries[1].actor_role == "liaison"
    assert entries[1].comment == "已签收"


def test_unknown_trigger(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    with pytest.raises(UnknownTrigger) as exc:
        transition.fire(session, catalog, "instruction", ins.id, "teleport", actor=world.actor("liaison"))
    assert exc.value.field == "trigger" and "teleport" in exc.value.message


def test_trigger_not_allowed_from_state_writes_nothing(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    with pytest.raises(InvalidTransition) as exc:
        transition.fire(session, catalog, "instruction", ins.id, "report_to_110", actor=world.actor("liaison"))
    assert "'received'" in exc.value.message
    assert len(ledger(session, ins)) == 1


def test_role_not_allowed_is_denied_and_audited(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    with pytest.raises(PermissionDenied) as exc:
        transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("dispatcher"))
    assert "liaison" in exc.value.message
    denial = session.execute(select(AccessDenial)).scalar_one()
    assert denial.person_id == world.people["dispatcher"].id and denial.action == "sign"
    assert session.get(Instruction, ins.id).state == "received" and len(ledger(session, ins)) == 1


def test_handler_of_another_department_cannot_see_or_act(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"))
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=world.actor("liaison"),
                    data={"department_id": world.sanitation.id})
    with pytest.raises(NotFound):
        transition.fire(session, catalog, "instruction", ins.id, "arrive", actor=world.actor("road_handler"),
                        data={"situation": "到场"})
    assert session.execute(select(func.count(AccessDenial.id))).scalar() == 1
    item = transition.fire(session, catalog, "instruction", ins.id, "arrive", actor=world.actor("san_handler"),
                           data={"situation": "到场, 垃圾约2吨"})
    assert item.state == "on_site" and item.arrived_at is not None


def test_required_field_named(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"))
    with pytest.raises(ValidationFailed) as exc:
        transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=world.actor("liaison"), data={})
    assert exc.value.field == "department_id"
    with pytest.raises(ValidationFailed) as exc2:
        transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=world.actor("liaison"),
                        data={"department_id": 99999})
    assert exc2.value.field == "department_id" and "does not exist" in exc2.value.message
    fresh = session.get(Instruction, ins.id)
    assert fresh.state == "signed" and fresh.department_id is None
    assert session.execute(select(func.count(Deadline.id)).where(Deadline.key == "arrival")).scalar() == 0


def test_expected_state_refuses_a_stale_click(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"))
    with pytest.raises(Conflict) as exc:
        transition.fire(session, catalog, "instruction", ins.id, "decline", actor=world.actor("liaison"),
                        data={"explanation": "x"}, expected_state="received")
    assert exc.value.details["state"] == "signed"


def test_guard_refusal_names_the_guard(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    from caseflow.models import Center, DutyShift

    center = session.get(Center, world.street.id)
    shift = DutyShift(center=center, starts_at=utcnow(), ends_at=utcnow() + timedelta(days=1))
    transition.start(session, catalog, shift, workflow="duty_shift", actor=world.actor("duty_lead"), role="duty_lead")
    transition.fire(session, catalog, "duty_shift", shift.id, "start", actor=world.actor("duty_lead"))
    transition.fire(session, catalog, "duty_shift", shift.id, "begin_handover", actor=world.actor("duty_lead"))
    with pytest.raises(TransitionRejected) as exc:
        transition.fire(session, catalog, "duty_shift", shift.id, "close", actor=world.actor("duty_lead"))
    assert "handover_completed" in exc.value.message
    assert session.get(DutyShift, shift.id).state == "handing_over"


def test_internal_transition_keeps_state_and_deadlines(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world)
    d = world.actor("dispatcher")
    transition.fire(session, catalog, "case", case.id, "register", actor=d)
    transition.fire(session, catalog, "case", case.id, "dispatch", actor=d, data={"department_id": world.sanitation.id})
    before = session.execute(select(Deadline).where(Deadline.status == "pending")).scalars().all()
    transition.fire(session, catalog, "case", case.id, "supervise", actor=d,
                    data={"method": "phone", "requirement": "今日内处置"})
    after = session.execute(select(Deadline).where(Deadline.status == "pending")).scalars().all()
    assert [x.id for x in before] == [x.id for x in after]
    last = ledger(session, case)[-1]
    assert (last.trigger, last.from_state, last.to_state) == ("supervise", "dispatched", "dispatched")
    assert {k: last.payload[k] for k in ("method", "requirement")} == {"method": "phone", "requirement": "今日内处置"}


def test_items_in_flight_keep_their_version(app, tmp_path, world, session) -> None:  # type: ignore[no-untyped-def]
    """A v2 definition applies to new items; an item started on v1 stays on v1."""
    import shutil

    import yaml

    from caseflow.workflow.engine import WorkflowCatalog, default_workflows_dir

    folder = tmp_path / "wf"
    shutil.copytree(app.extensions['caseflow.workflows'].all()[0].source_file.rsplit('/', 1)[0], folder)
    v1 = WorkflowCatalog.from_directory(folder)
    old = new_case(session, v1, world, "C-OLD")
    raw = yaml.safe_load((folder / "case_general.yaml").read_text("utf-8"))
    raw["version"] = 2
    raw["states"] = [st for st in raw["states"] if st["name"] != "verifying"]
    raw["transitions"] = [t for t in raw["transitions"] if t["trigger"] != "verify_report"]
    for t in raw["transitions"]:
        if isinstance(t["source"], list):
            t["source"] = [x for x in t["source"] if x != "verifying"]
    (folder / "case_general_v2.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), "utf-8")
    both = WorkflowCatalog.from_directory(folder)
    new = new_case(session, both, world, "C-NEW")
    assert (old.workflow_version, new.workflow_version) == (1, 2)
    item = transition.fire(session, both, "case", old.id, "verify_report", actor=world.actor("dispatcher"),
                           data={"question": "位置不清"})
    assert item.state == "verifying"
    with pytest.raises(UnknownTrigger):
        transition.fire(session, both, "case", new.id, "verify_report", actor=world.actor("dispatcher"),
                        data={"question": "?"})


def test_system_actor_only_for_system_triggers(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins = new_instruction(session, catalog, world)
    with pytest.raises(PermissionDenied):
        transition.fire(session, catalog, "instruction", ins.id, "sign", actor=Actor.system())
