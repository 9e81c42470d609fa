"""Reclassification at registration (立案改类): category and grid change before dispatch, ledgered,
validated, refused afterwards and to anyone but a dispatcher."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from caseflow.errors import InvalidTransition, PermissionDenied, ValidationFailed
from caseflow.models import AccessDenial, Case, Category, LedgerEntry
from caseflow.services.cases import handling, intake, reclassify, review
from caseflow.services.ledger_verify import verify_ledger

LAT, LON = 31.2305, 121.4705


def entries(session, case_id, trigger=None):  # type: ignore[no-untyped-def]
    q = select(LedgerEntry).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id)
    if trigger:
        q = q.where(LedgerEntry.trigger == trigger)
    return session.execute(q.order_by(LedgerEntry.seq)).scalars().all()


def reported(session, catalog, world, **kw):  # type: ignore[no-untyped-def]
    args = {"title": "路面破损", "category_code": "garbage", "grid_id": world.grid_main.id, "address": "一号路"}
    args.update(kw)
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), **args)
    return case


def test_dispatcher_corrects_category_and_grid_before_registering(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = reported(session, catalog, world)
    assert case.area_kind == "main_urban"
    disp = world.actor("dispatcher")
    reclassify.reclassify(session, case.id, actor=disp, category_id=world.cat_road.id,
                          grid_id=world.grid_other.id, reason="实为道路破损")
    session.expire_all()
    case = session.get(Case, case.id)
    assert (case.category_id, case.grid_id, case.area_kind, case.state) == (
        world.cat_road.id, world.grid_other.id, "other", "reported")
    [entry] = entries(session, case.id, "reclassify")
    assert entry.payload["changed"]["category"] == {"from": "garbage", "to": "road"}
    assert entry.payload["changed"]["grid"] == {"from": "G01", "to": "G02"}
    assert entry.payload["changed"]["area_kind"] == {"from": "main_urban", "to": "other"}
    assert entry.from_state == entry.to_state == "reported" and entry.actor_role == "dispatcher"
    assert entry.comment == "实为道路破损"
    # Registration then dispatches to the new category's department as usual.
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
    assert verify_ledger(session)[1] == []  # the extra entry keeps the hash chain whole


def test_the_same_values_again_write_nothing(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = reported(session, catalog, world)
    disp = world.actor("dispatcher")
    reclassify.reclassify(session, case.id, actor=disp, category_id=world.cat_road.id)
    before = len(entries(session, case.id))
    again = reclassify.reclassify(session, case.id, actor=disp, category_id=world.cat_road.id,
                                  grid_id=world.grid_main.id)
    assert again.category_id == world.cat_road.id
    assert len(entries(session, case.id)) == before


def test_registered_case_may_change_a_dispatched_one_not(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = reported(session, catalog, world)
    disp = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=disp)
    assert reclassify.allowed(session.get(Case, case.id))
    reclassify.reclassify(session, case.id, actor=disp, grid_id=world.grid_other.id)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    with pytest.raises(InvalidTransition) as err:
        reclassify.reclassify(session, case.id, actor=disp, category_id=world.cat_road.id)
    assert err.value.details["state"] == "dispatched"
    session.expire_all()
    assert session.get(Case, case.id).category_id == world.cat_garbage.id


@pytest.mark.parametrize("field", ["category_id", "grid_id"])
def test_unknown_category_or_grid_is_refused_naming_the_field(session, catalog, world, field) -> None:  # type: ignore[no-untyped-def]
    case = reported(session, catalog, world)
    with pytest.raises(ValidationFailed) as err:
        reclassify.reclassify(session, case.id, actor=world.actor("dispatcher"), **{field: 9999})
    assert err.value.field == field
    with pytest.raises(ValidationFailed) as err:
        reclassify.reclassify(session, case.id, actor=world.actor("dispatcher"))
    assert err.value.field == "category_id"
    assert entries(session, case.id, "reclassify") == []


def test_only_a_dispatcher_reclassifies_and_refusals_are_audited(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = reported(session, catalog, world)
    with pytest.raises(PermissionDenied):
        reclassify.reclassify(session, case.id, actor=world.actor("san_handler"), category_id=world.cat_road.id)
    denials = session.execute(select(func.count()).select_from(AccessDenial).where(
        AccessDenial.action == "reclassify", AccessDenial.target == f"case {case.id}")).scalar_one()
    assert denials == 1
    session.expire_all()
    assert session.get(Case, case.id).category_id == world.cat_garbage.id


def test_a_void_case_is_not_reclassified(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = reported(session, catalog, world)
    review.void(session, catalog, case.id, actor=world.actor("dispatcher"), reason="not_registrable")
    with pytest.raises(InvalidTransition):
        reclassify.reclassify(session, case.id, actor=world.actor("dispatcher"), category_id=world.cat_road.id)


def test_new_category_finds_its_duplicates(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    road = reported(session, catalog, world, title="坑洞", category_code="road", lat=LAT, lon=LON)
    case = reported(session, catalog, world, title="坑洞", lat=LAT, lon=LON)
    assert not (case.data or {}).get("duplicate_candidates")  # filed under garbage: no match
    reclassify.reclassify(session, case.id, actor=world.actor("dispatcher"), category_id=world.cat_road.id)
    session.expire_all()
    found = session.get(Case, case.id).data["duplicate_candidates"]
    assert [c["id"] for c in found] == [road.id]


def test_a_simple_case_moves_to_the_new_categorys_department(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    litter = Category(code="litter", name="零星垃圾", responsible_department=world.sanitation, default_tier="simple")
    pothole = Category(code="pothole", name="小坑洞", responsible_department=world.roads, default_tier="simple")
    session.add_all([litter, pothole])
    session.commit()
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor("dispatcher"), title="小坑",
                            category_code="litter")
    assert (case.tier, case.department_id) == ("simple", world.sanitation.id)
    reclassify.reclassify(session, case.id, actor=world.actor("dispatcher"), category_id=pothole.id)
    session.expire_all()
    assert session.get(Case, case.id).department_id == world.roads.id
    [entry] = entries(session, case.id, "reclassify")
    assert entry.payload["changed"]["department_id"] == {"from": world.sanitation.id, "to": world.roads.id}
