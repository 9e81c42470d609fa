"""Administration of areas, departments, categories and people, one record at a time: every change
ledgered on the record's chain, domain errors naming the field, deactivation that keeps history
and refuses what would strand new work, passwords reset with argon2 and never ledgered."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseflow.errors import NotFound, PermissionDenied, ValidationFailed
from caseflow.models import AccessDenial, ActionGroup, Area, Category, LedgerEntry, Person
from caseflow.security.actor import Actor
from caseflow.security.passwords import hash_password
from caseflow.services import admin_areas, admin_categories, admin_departments, admin_people
from caseflow.services import admin_records as rec
from caseflow.services.cases import intake
from caseflow.services.ledger_verify import verify_ledger
from caseflow.services.people import authenticate


def entries(session, kind: str, record_id: int) -> list[LedgerEntry]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return rec.history(session, kind, record_id)


# --- areas -----------------------------------------------------------------------------------

def test_area_create_change_kind_and_ledger(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    saved = admin_areas.create_area(session, admin, code="east", name="东片区", kind="other")
    area = saved.record
    assert (area.code, area.kind, area.active) == ("east", "other", True)
    changed = admin_areas.update_area(session, admin, area.id, {"kind": "main_urban", "name": "东片区"})
    assert changed.changes == {"kind": ["other", "main_urban"]}  # the unchanged name is not a change
    assert "30" in changed.warnings[0][0]
    log = entries(session, "area", area.id)
    assert [e.trigger for e in log] == ["create_area", "update_area"]
    assert log[0].payload == {"code": "east", "name": "东片区", "kind": "other"}
    assert log[1].payload["changes"] == {"kind": ["other", "main_urban"]} and log[1].actor_id == world.people["admin"].id
    assert log[1].prev_hash == log[0].hash  # one hash chain per record
    nothing = admin_areas.update_area(session, admin, area.id, {"name": "东片区"})
    assert nothing.changes == {} and len(entries(session, "area", area.id)) == 2
    assert not [p for p in verify_ledger(session)[1] if p.item_type == "area"]


@pytest.mark.parametrize("values, field", [
    ({"code": "bad code"}, "code"),
    ({"code": "main_urban"}, "code"),  # taken by the world's area
    ({"code": "MAIN_URBAN"}, "code"),  # codes are compared without case
    ({"name": "  "}, "name"),
    ({"kind": "suburb"}, "kind"),
])
def test_area_validation_names_the_field(session, world, values, field) -> None:  # type: ignore[no-untyped-def]
    args = {"code": "north", "name": "北片区", "kind": "other", **values}
    with pytest.raises(ValidationFailed) as err:
        admin_areas.create_area(session, world.actor("admin"), **args)
    assert err.value.field == field
    assert session.execute(select(func.count()).select_from(Area)).scalar_one() == 2  # nothing written


def test_area_with_grids_stays_active_and_an_empty_one_deactivates(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    with pytest.raises(ValidationFailed) as err:
        admin_areas.set_area_active(session, admin, world.other_area.id, False)
    assert err.value.field == "active" and "G02" in err.value.message
    empty = admin_areas.create_area(session, admin, code="west", name="西片区", kind="other").record
    admin_areas.set_area_active(session, admin, empty.id, False)
    session.expire_all()
    assert session.get(Area, empty.id).active is False
    with pytest.raises(ValidationFailed):  # already inactive
        admin_areas.set_area_active(session, admin, empty.id, False)
    assert [a.code for a in admin_areas.list_areas(session, active=True).items] == ["main_urban", "other"]
    assert [e.trigger for e in entries(session, "area", empty.id)] == ["create_area", "deactivate_area"]


def test_only_admins_change_areas_and_the_refusal_is_audited(session, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        admin_areas.update_area(session, world.actor("dispatcher"), world.main_area.id, {"kind": "other"})
    session.expire_all()
    assert session.get(Area, world.main_area.id).kind == "main_urban"
    denial = session.execute(select(AccessDenial)).scalar_one()
    assert denial.person_id == world.people["dispatcher"].id and "areas" in denial.reason
    with pytest.raises(NotFound):
        admin_areas.update_area(session, world.actor("admin"), 999999, {"kind": "other"})


# --- departments -----------------------------------------------------------------------------

def test_department_create_with_group_and_update(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    dept = admin_departments.create_department(
        session, admin, code="PARK", name="园林所", kind="unit", center_id=world.street.id,
        working_hours="08:30-12:00,13:30-17:30", action_group_name="园林应急组").record
    group = session.execute(select(ActionGroup).where(ActionGroup.department_id == dept.id)).scalar_one()
    assert group.name == "园林应急组" and dept.working_hours == "08:30-12:00,13:30-17:30"
    with pytest.raises(ValidationFailed) as err:
        admin_departments.update_department(session, admin, dept.id, {"working_hours": "8 to 5"})
    assert err.value.field == "working_hours"
    with pytest.raises(ValidationFailed) as err:
        admin_departments.update_department(session, admin, dept.id, {"action_group_name": ""})
    assert err.value.field == "action_group_name"  # instructions name the group: never removed
    leader = world.people["road_handler"]
    saved = admin_departments.update_department(session, admin, dept.id, {
        "name": "园林绿化所", "head_id": leader.id, "action_group_leader_id": leader.id})
    assert saved.changes["name"] == ["园林所", "园林绿化所"] and saved.changes["action_group_leader_id"] == [None, leader.id]
    log = entries(session, "department", dept.id)
    assert [e.trigger for e in log] == ["create_department", "update_department"]
    assert log[0].payload["action_group_name"] == "园林应急组" and log[0].payload["center_id"] == world.street.id


def test_department_still_needed_cannot_be_deactivated(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    with pytest.raises(ValidationFailed) as err:
        admin_departments.set_department_active(session, admin, world.roads.id, False)
    assert err.value.field == "active" and "road" in err.value.message  # still responsible for a category
    admin_categories.update_category(session, admin, world.cat_road.id, {"responsible_department_id": None})
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("road_handler"), title="路面坑洞",
                            category_code="road", address="和平路 2 号", grid_id=world.grid_main.id)
    case.department_id = world.roads.id  # as if dispatched to it: open work it holds
    session.commit()
    with pytest.raises(ValidationFailed) as err:
        admin_departments.set_department_active(session, admin, world.roads.id, False)
    assert "open case" in err.value.message and err.value.details["open"]["case"] == 1


def test_deactivated_department_keeps_history_and_takes_no_new_people(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    dept = admin_departments.create_department(session, admin, code="OLD", name="旧部门").record
    person = admin_people.create(session, admin, username="old.staff", full_name="老员工", roles=["handler"],
                                 department_id=dept.id, password="long-enough-1")[0].record
    saved = admin_departments.set_department_active(session, admin, dept.id, False)
    assert saved.warnings and "1" in saved.warnings[0][1]  # its person is named as a warning
    session.expire_all()
    assert session.get(Person, person.id).department.code == "OLD"  # history keeps pointing at it
    with pytest.raises(ValidationFailed) as err:
        admin_people.create(session, admin, username="new.staff", full_name="新员工", roles=["handler"],
                            department_id=dept.id, password="long-enough-1")
    assert err.value.field == "department_id"
    with pytest.raises(ValidationFailed) as err:
        admin_categories.create_category(session, admin, code="trees", name="树木倒伏", responsible_department_id=dept.id)
    assert err.value.field == "responsible_department_id"
    # Its own people keep it when something else about them changes.
    admin_people.update(session, admin, person.id, {"department_id": dept.id, "phone": "123"})
    assert [d.code for d in admin_departments.list_departments(session, active=False).items] == ["OLD"]


# --- categories ------------------------------------------------------------------------------

def test_category_create_update_deactivate(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    cat = admin_categories.create_category(session, admin, code="trees", name="树木倒伏", field="city",
                                           responsible_department_id=world.roads.id, default_tier="complex").record
    assert (cat.in_scope, cat.default_tier, cat.responsible_department_id) == (True, "complex", world.roads.id)
    saved = admin_categories.update_category(session, admin, cat.id, {"in_scope": False, "default_tier": "general"})
    assert saved.changes == {"in_scope": [True, False], "default_tier": ["complex", "general"]}
    with pytest.raises(ValidationFailed) as err:
        admin_categories.update_category(session, admin, cat.id, {"default_tier": "huge"})
    assert err.value.field == "default_tier"
    admin_categories.set_category_active(session, admin, cat.id, False)
    session.expire_all()
    assert session.get(Category, cat.id).active is False
    assert [e.trigger for e in entries(session, "category", cat.id)] == [
        "create_category", "update_category", "deactivate_category"]


# --- people ----------------------------------------------------------------------------------

def test_person_create_with_generated_password_never_ledgered(session, world) -> None:  # type: ignore[no-untyped-def]
    saved, password = admin_people.create(session, world.actor("admin"), username="Li.Na", full_name="李娜",
                                          roles=["dispatcher", "duty_officer"], center_id=world.street.id)
    person = saved.record
    assert person.username == "li.na" and person.roles == {"dispatcher", "duty_officer"}
    assert password and len(password) >= 12 and person.password_hash.startswith("$argon2id$")
    assert authenticate(session, "li.na", password).id == person.id
    log = entries(session, "person", person.id)
    assert log[0].trigger == "create_person" and log[0].payload["password"] == "generated"
    assert password not in str(log[0].payload) and "argon2" not in str(log[0].payload)


def test_person_update_roles_and_department(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    target = world.people["dispatcher"]
    with pytest.raises(ValidationFailed) as err:
        admin_people.update(session, admin, target.id, {"roles": ["handler"]})
    assert err.value.field == "department_id"  # a handler needs a department
    session.expire_all()
    assert session.get(Person, target.id).roles == {"dispatcher"}  # nothing half-changed
    saved = admin_people.update(session, admin, target.id, {"roles": ["handler", "dispatcher"],
                                                            "department_id": world.sanitation.id, "email": "d@x.test"})
    assert saved.changes["roles"] == [["dispatcher"], ["dispatcher", "handler"]]
    assert saved.changes["department_id"] == [None, world.sanitation.id]
    session.expire_all()
    assert session.get(Person, target.id).roles == {"dispatcher", "handler"}
    with pytest.raises(ValidationFailed) as err:
        admin_people.update(session, admin, target.id, {"email": "not-an-email"})
    assert err.value.field == "email"
    with pytest.raises(ValidationFailed) as err:
        admin_people.update(session, admin, target.id, {"username": "renamed"})
    assert err.value.field == "username"


def test_password_reset_replaces_the_argon2_hash(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    person = admin_people.create(session, admin, username="wang.wu", full_name="王五", roles=["liaison"],
                                 password="first-password")[0].record
    with pytest.raises(ValidationFailed) as err:
        admin_people.reset_password(session, admin, person.id, "short")
    assert err.value.field == "password"
    _, generated = admin_people.reset_password(session, admin, person.id)
    assert authenticate(session, "wang.wu", "first-password") is None
    assert authenticate(session, "wang.wu", generated).id == person.id
    _, none = admin_people.reset_password(session, admin, person.id, "chosen-password")
    assert none is None and authenticate(session, "wang.wu", "chosen-password") is not None
    log = entries(session, "person", person.id)
    assert [e.payload.get("password") for e in log if e.trigger == "reset_password"] == ["generated", "given"]


def test_deactivation_locks_out_warns_and_protects_the_last_admin(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    head = world.people["san_head"]
    head.password_hash = hash_password("head-password")
    session.commit()
    saved = admin_people.set_active(session, admin, head.id, False)
    assert any("SAN" in en for _, en in saved.warnings)  # still the head of the department
    assert authenticate(session, "san_head", "head-password") is None
    with pytest.raises(ValidationFailed) as err:
        admin_people.set_active(session, admin, world.people["admin"].id, False)
    assert err.value.field == "active" and "yourself" in err.value.message
    other = admin_people.create(session, admin, username="admin2", full_name="管理员二", roles=["admin"],
                                password="long-enough-2")[0].record
    admin_people.set_active(session, admin, other.id, False)  # with two administrators, one may leave
    with pytest.raises(ValidationFailed) as err:
        admin_people.update(session, admin, world.people["admin"].id, {"roles": ["leader"]})
    assert err.value.field == "roles"
    with pytest.raises(ValidationFailed) as err:
        admin_people.set_active(session, Actor.system(), world.people["admin"].id, False)
    assert err.value.field == "active" and "last active administrator" in err.value.message
    assert [p.username for p in admin_people.list_people(session, active=False).items] == ["admin2", "san_head"]
    assert [p.username for p in admin_people.list_people(session, role="leader", q="PRIN").items] == ["principal"]
