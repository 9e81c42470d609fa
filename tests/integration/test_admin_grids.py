"""Grids (网格) one at a time: create, edit and (de)activate, ledgered on the grid's own chain; a
boundary checked before it is stored; a deactivated grid takes no new case while the cases on it
keep it; an area whose grids are all deactivated may be deactivated, and such a grid is then not
reactivated until its area is."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseflow.errors import PermissionDenied, ValidationFailed
from caseflow.models import AccessDenial, Case, Grid
from caseflow.services import admin_areas, admin_grids, admin_people
from caseflow.services import admin_records as rec
from caseflow.services.active_records import offered_grids, usable_grid
from caseflow.services.cases import intake, reclassify, review
from caseflow.services.grid_shapes import centre, check_shape
from caseflow.services.ledger_verify import verify_ledger

SQUARE = {"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.02, 31.0], [121.02, 31.01], [121.0, 31.01],
                                              [121.0, 31.0]]]}


def entries(session, grid_id: int):  # type: ignore[no-untyped-def]
    session.expire_all()
    return rec.history(session, "grid", grid_id)


def test_grid_create_edit_and_ledger(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    leader = world.people["san_handler"]
    grid = admin_grids.create_grid(session, admin, code="G03", name="三号网格", area_id=world.main_area.id,
                                   center_id=world.street.id, leader_id=leader.id, shape=SQUARE).record
    assert (grid.code, grid.area_id, grid.leader_id, grid.active) == ("G03", world.main_area.id, leader.id, True)
    assert grid.shape == SQUARE
    changed = admin_grids.update_grid(session, admin, grid.id, {"area_id": world.other_area.id, "name": "三号网格",
                                                                 "shape": None})
    assert changed.changes == {"area_id": [world.main_area.id, world.other_area.id], "shape": [SQUARE, None]}
    assert "60" in changed.warnings[0][0] and "60-minute" in changed.warnings[0][1]
    log = entries(session, grid.id)
    assert [e.trigger for e in log] == ["create_grid", "update_grid"]
    assert log[0].payload["code"] == "G03" and log[0].payload["leader_id"] == leader.id
    assert log[0].payload["shape"] == SQUARE
    assert log[1].payload["changes"]["area_id"] == [world.main_area.id, world.other_area.id]
    assert log[1].prev_hash == log[0].hash
    assert admin_grids.update_grid(session, admin, grid.id, {"name": "三号网格"}).changes == {}
    assert len(entries(session, grid.id)) == 2  # nothing changed, nothing ledgered
    assert not [p for p in verify_ledger(session)[1] if p.item_type == "grid"]


@pytest.mark.parametrize("values, field", [
    ({"code": "G01"}, "code"),  # taken by the world's grid
    ({"code": "g 9"}, "code"),
    ({"name": ""}, "name"),
    ({"area_id": 999999}, "area_id"),
    ({"center_id": 999999}, "center_id"),
    ({"leader_id": 999999}, "leader_id"),
    ({"shape": {"type": "Point", "coordinates": [121.0, 31.0]}}, "shape"),
    ({"shape": {"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.1, 31.0], [121.0, 31.0]]]}}, "shape"),
    ({"shape": {"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1], [121.0, 31.1]]]}},
     "shape"),  # not closed
    ({"shape": {"type": "Polygon", "coordinates": [[[200.0, 31.0], [121.1, 31.0], [121.1, 31.1], [200.0, 31.0]]]}},
     "shape"),  # longitude out of range
    ({"shape": "{not json"}, "shape"),
    ({"unknown": 1}, "unknown"),
])
def test_grid_validation_names_the_field(session, world, values, field) -> None:  # type: ignore[no-untyped-def]
    args = {"code": "G09", "name": "九号网格", "area_id": world.main_area.id, **values}
    with pytest.raises(ValidationFailed) as err:
        admin_grids.create_grid(session, world.actor("admin"), **args)
    assert err.value.field == field
    assert session.execute(select(func.count()).select_from(Grid)).scalar_one() == 2  # nothing written


def test_a_grid_goes_into_an_active_area_with_an_active_leader(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    east = admin_areas.create_area(session, admin, code="east", name="东片区", kind="other").record
    admin_areas.set_area_active(session, admin, east.id, False)
    with pytest.raises(ValidationFailed) as err:
        admin_grids.update_grid(session, admin, world.grid_main.id, {"area_id": east.id})
    assert err.value.field == "area_id" and "inactive" in err.value.message
    admin_people.set_active(session, admin, world.people["road_handler"].id, False)
    with pytest.raises(ValidationFailed) as err:
        admin_grids.update_grid(session, admin, world.grid_main.id, {"leader_id": world.people["road_handler"].id})
    assert err.value.field == "leader_id"


def test_only_administrators_change_grids(session, world) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PermissionDenied):
        admin_grids.update_grid(session, world.actor("dispatcher"), world.grid_main.id, {"name": "改名"})
    session.expire_all()
    assert session.get(Grid, world.grid_main.id).name == "一号网格"
    denial = session.execute(select(AccessDenial).where(AccessDenial.action == "update_grid")).scalar_one()
    assert denial.person_id == world.people["dispatcher"].id and "grids" in denial.reason


def test_a_deactivated_grid_takes_no_new_case_and_keeps_the_old_ones(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    admin, patrol = world.actor("admin"), world.actor("san_handler")
    old, _ = intake.report(session, catalog, channel="patrol", actor=patrol, title="垃圾堆放",
                           category_code="garbage", grid_id=world.grid_main.id, address="一号路")
    saved = admin_grids.set_grid_active(session, admin, world.grid_main.id, False)
    assert saved.record.active is False and "1 open case" in saved.warnings[0][1]
    with pytest.raises(ValidationFailed) as err:
        intake.report(session, catalog, channel="patrol", actor=patrol, title="垃圾堆放", category_code="garbage",
                      grid_id=world.grid_main.id, address="一号路")
    assert err.value.field == "grid_id" and "G01" in err.value.message and "已停用" in err.value.message
    assert [g.code for g in offered_grids(session)] == ["G02"]
    assert [g.code for g in offered_grids(session, keep_ids=[world.grid_main.id])] == ["G01", "G02"]
    # The old case keeps its grid; registering it without a grid change is not refused.
    review.register(session, catalog, old.id, actor=world.actor("dispatcher"))
    session.expire_all()
    assert session.get(Case, old.id).grid_id == world.grid_main.id
    grid = session.get(Grid, world.grid_main.id)
    assert usable_grid(grid, "grid_id", keep_id=grid.id) is grid
    with pytest.raises(ValidationFailed) as err:  # nor is another case moved onto it
        reclassify.reclassify(session, _case_on(session, catalog, world, "G02"), actor=world.actor("dispatcher"),
                              grid_id=world.grid_main.id, reason="位置更正")
    assert err.value.field == "grid_id"
    assert [e.trigger for e in entries(session, world.grid_main.id)] == ["deactivate_grid"]


def _case_on(session, catalog, world, code: str) -> int:  # type: ignore[no-untyped-def]
    grid = session.execute(select(Grid).where(Grid.code == code)).scalar_one()
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), title="路灯不亮",
                            category_code="garbage", grid_id=grid.id, address="二号路")
    return case.id


def test_an_area_with_only_deactivated_grids_deactivates(session, world) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    with pytest.raises(ValidationFailed) as err:
        admin_areas.set_area_active(session, admin, world.other_area.id, False)
    assert "G02" in err.value.message and err.value.field == "active"
    admin_grids.set_grid_active(session, admin, world.grid_other.id, False)
    assert admin_areas.set_area_active(session, admin, world.other_area.id, False).record.active is False
    with pytest.raises(ValidationFailed) as err:  # its area is inactive: the grid stays so
        admin_grids.set_grid_active(session, admin, world.grid_other.id, True)
    assert err.value.field == "active" and "other" in err.value.message
    with pytest.raises(ValidationFailed):  # already inactive
        admin_grids.set_grid_active(session, admin, world.grid_other.id, False)
    admin_grids.update_grid(session, admin, world.grid_other.id, {"area_id": world.main_area.id})
    assert admin_grids.set_grid_active(session, admin, world.grid_other.id, True).record.active is True
    assert [e.trigger for e in entries(session, world.grid_other.id)] == [
        "deactivate_grid", "update_grid", "reactivate_grid"]


def test_list_grids_filters(session, world) -> None:  # type: ignore[no-untyped-def]
    admin_grids.set_grid_active(session, world.actor("admin"), world.grid_other.id, False)
    assert [g.code for g in admin_grids.list_grids(session).items] == ["G01", "G02"]
    assert [g.code for g in admin_grids.list_grids(session, active=True).items] == ["G01"]
    assert [g.code for g in admin_grids.list_grids(session, area_id=world.other_area.id).items] == ["G02"]
    assert admin_grids.list_grids(session, per_page=1, page=2).items[0].code == "G02"


def test_shapes_are_checked_and_their_centre_found() -> None:
    assert check_shape(None) is None and check_shape("  ") is None and check_shape({}) is None
    assert check_shape(SQUARE) == SQUARE
    multi = {"type": "MultiPolygon", "coordinates": [SQUARE["coordinates"]]}
    assert check_shape(multi) == multi
    assert check_shape('{"type": "Polygon", "coordinates": [[[1, 2], [3, 2], [3, 4], [1, 2]]]}') == {
        "type": "Polygon", "coordinates": [[[1.0, 2.0], [3.0, 2.0], [3.0, 4.0], [1.0, 2.0]]]}
    assert centre(SQUARE) == (121.01, 31.005) and centre(None) is None
    for bad in ({"type": "Polygon"}, {"type": "Polygon", "coordinates": [[["a", 1]] * 4]},
                {"type": "MultiPolygon", "coordinates": []}, [1, 2], {"type": "Polygon", "coordinates": [[[True, 1]] * 4]}):
        with pytest.raises(ValidationFailed) as err:
            check_shape(bad)
        assert err.value.field == "shape"
