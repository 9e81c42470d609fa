"""Deactivated departments, categories and areas take no new work, and history stays readable.

Each refusal is a domain error naming the field and the deactivated record; cases and
instructions filed before the deactivation keep it and are still shown (API, Open311, console).
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow.errors import NotFound, ValidationFailed
from caseflow.models import Case, Category, Department, Instruction
from caseflow.security.tokens import issue_token
from caseflow.services import admin_categories, admin_departments, open311
from caseflow.services import instructions as ins_svc
from caseflow.services import returns as returns_svc
from caseflow.services.cases import handling, intake, reclassify, review
from tests.web.test_work_pages import as_person, flashes

from .test_instructions import WORK, new, signed_and_dispatched

LAT, LON = 31.2305, 121.4705


@pytest.fixture
def park(session, world) -> Department:  # type: ignore[no-untyped-def]
    """A department created and then deactivated by an administrator (nothing names it)."""
    admin = world.actor("admin")
    dept = admin_departments.create_department(session, admin, code="PARK", name="绿化所", kind="unit").record
    admin_departments.set_department_active(session, admin, dept.id, False)
    session.expire_all()
    return session.get(Department, dept.id)


@pytest.fixture
def trees(session, world) -> Category:  # type: ignore[no-untyped-def]
    """An active category whose responsible department was deactivated: the administrator
    deactivated the category, then its department, then reactivated the category (with a warning)."""
    admin = world.actor("admin")
    dept = admin_departments.create_department(session, admin, code="TREE", name="林木所", kind="unit").record
    cat = admin_categories.create_category(session, admin, code="trees", name="树木倒伏", field="city",
                                           responsible_department_id=dept.id, default_tier="simple").record
    admin_categories.set_category_active(session, admin, cat.id, False)
    admin_departments.set_department_active(session, admin, dept.id, False)
    saved = admin_categories.set_category_active(session, admin, cat.id, True)
    assert saved.warnings  # the administrator was told
    session.expire_all()
    return session.get(Category, cat.id)


def deactivate_category(session, world, category) -> None:  # type: ignore[no-untyped-def]
    admin_categories.set_category_active(session, world.actor("admin"), category.id, False)
    session.expire_all()


def deactivate_area_under_grids(session, area) -> None:  # type: ignore[no-untyped-def]
    # The admin service refuses to deactivate an area that holds grids, and the import refuses a
    # grid in an inactive area; older data (or a database edit) may still have one.
    area.active = False
    session.commit()
    session.expire_all()


def report(session, catalog, world, who="dispatcher", **kw):  # type: ignore[no-untyped-def]
    args = {"title": "垃圾堆放", "category_code": "garbage", "grid_id": world.grid_main.id, "address": "二号路"}
    args.update(kw)
    case, _ = intake.report(session, catalog, channel="hotline", actor=world.actor(who), **args)
    return case


def refused(exc_info, field: str, *named: str) -> None:
    """The error names the field and each of ``named`` (codes) in its message."""
    err = exc_info.value
    assert err.field == field, (err.field, err.message)
    for name in named:
        assert name in err.message, (name, err.message)
    assert "停用" in err.message and "inactive" in err.message


# --------------------------------------------------------------------------- cases


def test_new_case_refuses_a_deactivated_category_by_id_and_code(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    deactivate_category(session, world, world.cat_road)
    with pytest.raises(ValidationFailed) as err:
        report(session, catalog, world, category_code=None, category_id=world.cat_road.id)
    refused(err, "category_id", "road")
    with pytest.raises(ValidationFailed) as err:
        report(session, catalog, world, category_code="road")
    refused(err, "category_code", "road")
    assert session.execute(select(Case.id)).first() is None
    # Another, active category is fine.
    assert report(session, catalog, world).category_id == world.cat_garbage.id


def test_new_case_refuses_a_grid_of_a_deactivated_area(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    deactivate_area_under_grids(session, world.other_area)
    with pytest.raises(ValidationFailed) as err:
        report(session, catalog, world, grid_id=world.grid_other.id)
    refused(err, "grid_id", "G02", "other")
    assert report(session, catalog, world, grid_id=world.grid_main.id).grid_id == world.grid_main.id


def test_simple_case_is_not_routed_to_a_deactivated_department(session, catalog, world, trees) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as err:
        report(session, catalog, world, category_code="trees")
    refused(err, "category_code", "trees", "TREE")
    # A handler's own simple report stays with the handler's department: nothing is routed.
    case = report(session, catalog, world, who="san_handler", category_code="trees")
    assert (case.tier, case.department_id) == ("simple", world.sanitation.id)


def test_reclassify_refuses_deactivated_category_and_grid_but_keeps_the_current_ones(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    disp = world.actor("dispatcher")
    old = report(session, catalog, world, grid_id=world.grid_other.id)  # garbage, G02 (other area)
    deactivate_category(session, world, world.cat_garbage)
    deactivate_area_under_grids(session, world.other_area)
    fresh = report(session, catalog, world, category_code="road")
    with pytest.raises(ValidationFailed) as err:
        reclassify.reclassify(session, fresh.id, actor=disp, category_id=world.cat_garbage.id)
    refused(err, "category_id", "garbage")
    with pytest.raises(ValidationFailed) as err:
        reclassify.reclassify(session, fresh.id, actor=disp, grid_id=world.grid_other.id)
    refused(err, "grid_id", "G02")
    # The old case keeps its deactivated category and grid: re-sent, they change nothing, and
    # it can still be moved to active ones.
    reclassify.reclassify(session, old.id, actor=disp, category_id=world.cat_garbage.id, grid_id=world.grid_other.id)
    session.expire_all()
    case = session.get(Case, old.id)
    assert (case.category_id, case.grid_id) == (world.cat_garbage.id, world.grid_other.id)
    reclassify.reclassify(session, old.id, actor=disp, category_id=world.cat_road.id, grid_id=world.grid_main.id)
    session.expire_all()
    case = session.get(Case, old.id)
    assert (case.category_id, case.grid_id, case.area_kind) == (world.cat_road.id, world.grid_main.id, "main_urban")


def test_simple_case_reclassified_to_a_category_of_a_deactivated_department(session, catalog, world, trees) -> None:  # type: ignore[no-untyped-def]
    admin = world.actor("admin")
    # A simple category held by its department (sanitation), reported by the dispatcher.
    litter = admin_categories.create_category(session, admin, code="litter", name="零星垃圾", field="city",
                                              responsible_department_id=world.sanitation.id,
                                              default_tier="simple").record
    case = report(session, catalog, world, category_code="litter")
    assert case.department_id == world.sanitation.id
    with pytest.raises(ValidationFailed) as err:
        reclassify.reclassify(session, case.id, actor=world.actor("dispatcher"), category_id=trees.id)
    refused(err, "category_id", "TREE")
    session.expire_all()
    assert session.get(Case, case.id).category_id == litter.id


def test_dispatch_redispatch_and_cooperating_refuse_a_deactivated_department(session, catalog, world, park) -> None:  # type: ignore[no-untyped-def]
    disp = world.actor("dispatcher")
    case = report(session, catalog, world)
    review.register(session, catalog, case.id, actor=disp)
    with pytest.raises(ValidationFailed) as err:
        handling.dispatch(session, catalog, case.id, actor=disp, department_id=park.id)
    refused(err, "department_id", "PARK")
    session.expire_all()
    assert session.get(Case, case.id).state == "registered"
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    with pytest.raises(ValidationFailed) as err:
        handling.redispatch(session, catalog, case.id, actor=disp, department_id=park.id, reason="改派")
    refused(err, "department_id", "PARK")
    session.expire_all()
    assert session.get(Case, case.id).department_id == world.sanitation.id
    # A complex case's co-operating departments are new work too.
    complex_cat = Category(code="complex", name="违法搭建", field="city", responsible_department=world.sanitation,
                           default_tier="complex")
    session.add(complex_cat)
    session.commit()
    big = report(session, catalog, world, category_code="complex")
    review.register(session, catalog, big.id, actor=disp)
    with pytest.raises(ValidationFailed) as err:
        handling.dispatch(session, catalog, big.id, actor=disp, department_id=world.sanitation.id,
                          cooperating_department_ids=[world.roads.id, park.id])
    refused(err, "cooperating_department_ids", "PARK")
    handling.dispatch(session, catalog, big.id, actor=disp, department_id=world.sanitation.id,
                      cooperating_department_ids=[world.roads.id])
    with pytest.raises(ValidationFailed) as err:
        handling.add_cooperating(session, catalog, big.id, actor=disp, department_ids=[park.id])
    refused(err, "department_ids", "PARK")


def test_return_request_and_approval_refuse_a_deactivated_department(session, catalog, world, park) -> None:  # type: ignore[no-untyped-def]
    disp, san = world.actor("dispatcher"), world.actor("san_handler")
    case = report(session, catalog, world)
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    with pytest.raises(ValidationFailed) as err:
        returns_svc.request_return(session, catalog, case.id, san, "不属本所职责", "职责清单第 3 条",
                                   suggested_department_id=park.id)
    refused(err, "suggested_department_id", "PARK")
    rr = returns_svc.request_return(session, catalog, case.id, san, "不属本所职责", "职责清单第 3 条")
    with pytest.raises(ValidationFailed) as err:
        returns_svc.approve(session, catalog, rr.id, disp, department_id=park.id)
    refused(err, "department_id", "PARK")
    returns_svc.approve(session, catalog, rr.id, disp, department_id=world.roads.id)
    session.expire_all()
    assert session.get(Case, case.id).department_id == world.roads.id


# --------------------------------------------------------------------------- instructions


def test_new_instruction_refuses_a_deactivated_category(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    deactivate_category(session, world, world.cat_road)
    with pytest.raises(ValidationFailed) as err:
        new(session, catalog, world, category="road")
    refused(err, "category", "road")
    with pytest.raises(ValidationFailed) as err:
        new(session, catalog, world, category=str(world.cat_road.id))
    refused(err, "category", "road")
    assert session.execute(select(Instruction.id)).first() is None


def test_instruction_dispatch_and_transfer_refuse_a_deactivated_unit(session, catalog, world, park) -> None:  # type: ignore[no-untyped-def]
    liaison = world.actor("liaison")
    item = new(session, catalog, world)
    ins_svc.sign(session, catalog, item.id, actor=liaison)
    with pytest.raises(ValidationFailed) as err:
        ins_svc.dispatch(session, catalog, item.id, actor=liaison, now=WORK, department_id=park.id)
    refused(err, "department_id", "PARK")
    ins_svc.dispatch(session, catalog, item.id, actor=liaison, now=WORK)
    with pytest.raises(ValidationFailed) as err:
        ins_svc.transfer(session, catalog, item.id, actor=liaison, department_id=park.id, reason="属绿化", now=WORK)
    refused(err, "department_id", "PARK")
    with pytest.raises(ValidationFailed) as err:
        ins_svc.request_transfer(session, catalog, item.id, actor=world.actor("san_handler"), reason="属绿化",
                                 basis="职责清单", suggested_department_id=park.id)
    refused(err, "suggested_department_id", "PARK")
    session.expire_all()
    item = session.get(Instruction, item.id)
    assert (item.state, item.department_id, item.record("transfer_requests")) == (
        "dispatched", world.sanitation.id, None)


def test_routing_to_a_category_whose_unit_is_deactivated_fails_clearly(session, catalog, world, trees) -> None:  # type: ignore[no-untyped-def]
    liaison = world.actor("liaison")
    item = new(session, catalog, world, category="trees")
    ins_svc.sign(session, catalog, item.id, actor=liaison)
    with pytest.raises(ValidationFailed) as err:
        ins_svc.dispatch(session, catalog, item.id, actor=liaison, now=WORK)
    refused(err, "category", "trees", "TREE")
    session.expire_all()
    assert session.get(Instruction, item.id).state == "signed"
    # The liaison may still name an active unit.
    ins_svc.dispatch(session, catalog, item.id, actor=liaison, now=WORK, department_id=world.roads.id)
    session.expire_all()
    assert session.get(Instruction, item.id).department_id == world.roads.id


def test_an_instruction_filed_before_keeps_its_deactivated_category(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    item = signed_and_dispatched(session, catalog, world, now=WORK, category="road")
    deactivate_category(session, world, world.cat_road)
    # Work already under way goes on: the unit arrives and reports as usual.
    ins_svc.arrive(session, catalog, item.id, actor=world.actor("road_handler"), situation="已到场")
    session.expire_all()
    item = session.get(Instruction, item.id)
    assert item.category.code == "road" and item.state == "on_site" and item.arrived_at is not None


# --------------------------------------------------------------------------- Open311 and the API


def test_open311_no_longer_offers_a_deactivated_category_but_shows_its_requests(client, session, catalog,
                                                                                 world) -> None:  # type: ignore[no-untyped-def]
    app = issue_token(session, "citizen app", client_kind="app")
    form = {"api_key": app, "jurisdiction_id": "caseflow", "service_code": "road", "lat": "31.2304",
            "long": "121.4737", "description": "路面坑洞"}
    r = client.post("/open311/v2/requests.json", data=form, content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.json
    number = r.json[0]["service_request_id"]
    deactivate_category(session, world, world.cat_road)
    assert [s.code for s in open311.services(session)] == ["garbage"]
    listed = client.get("/open311/v2/services.json?jurisdiction_id=caseflow")
    assert [s["service_code"] for s in listed.json] == ["garbage"]
    assert client.get("/open311/v2/services/road.json?jurisdiction_id=caseflow").status_code == 404
    with pytest.raises(NotFound) as err:
        open311.service(session, "road")
    refused(err, "service_code", "road")
    again = client.post("/open311/v2/requests.json", data=form, content_type="application/x-www-form-urlencoded")
    assert again.status_code == 404 and "road" in again.json[0]["description"]
    # The request filed before stays public and readable, also by its (deactivated) service code.
    mine = client.get(f"/open311/v2/requests/{number}.json?jurisdiction_id=caseflow")
    assert mine.status_code == 200 and mine.json[0]["service_code"] == "road"
    by_code = client.get("/open311/v2/requests.json?jurisdiction_id=caseflow&service_code=road")
    assert [x["service_request_id"] for x in by_code.json] == [number]


def test_history_of_a_deactivated_category_and_department_is_readable_via_the_api(client, session, catalog,
                                                                                  world) -> None:  # type: ignore[no-untyped-def]
    disp = world.actor("dispatcher")
    case = report(session, catalog, world, category_code="road")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    handling.report_result(session, catalog, case.id, actor=world.actor("road_handler"), result="已修复")
    from caseflow.services.cases import closing

    closing.check_pass(session, catalog, case.id, actor=disp)
    deactivate_category(session, world, world.cat_road)
    admin_departments.set_department_active(session, world.actor("admin"), world.roads.id, False)
    session.expire_all()
    headers = {"Authorization": f"Bearer {issue_token(session, 'd', person=world.people['dispatcher'])}"}
    one = client.get(f"/api/cases/{case.id}", headers=headers)
    assert one.status_code == 200, one.json
    assert (one.json["category"], one.json["department_id"]) == ("road", world.roads.id)
    listed = client.get("/api/cases?category=road", headers=headers)
    assert listed.status_code == 200 and [c["id"] for c in listed.json["items"]] == [case.id]
    ledger = client.get(f"/api/items/case/{case.id}/ledger", headers=headers)
    assert ledger.status_code == 200 and "dispatch" in [e["trigger"] for e in ledger.json]
    # A new case under it is refused over the API as well: 422 naming the category.
    refused_new = client.post("/api/cases", json={"title": "坑洞", "category": "road", "grid": "G01",
                                                  "address": "一号路"}, headers=headers)
    assert refused_new.status_code == 422 and "road" in refused_new.json["message"]


# --------------------------------------------------------------------------- console option lists


def options(page: str, name: str) -> list[str]:
    """The values offered by every ``<select name=name>`` on the page."""
    out: list[str] = []
    for select_html in re.findall(rf'<select name="{name}"[^>]*>(.*?)</select>', page, re.S):
        out += re.findall(r'<option value="([^"]*)"', select_html)
    return out


def test_patrol_form_offers_only_active_categories_and_grids_of_active_areas(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    deactivate_category(session, world, world.cat_road)
    deactivate_area_under_grids(session, world.other_area)
    as_person(client, world.people["san_handler"])
    page = client.get("/patrol/").get_data(as_text=True)
    assert str(world.cat_garbage.id) in options(page, "category_id")
    assert str(world.cat_road.id) not in options(page, "category_id")
    assert str(world.grid_main.id) in options(page, "grid_id")
    assert str(world.grid_other.id) not in options(page, "grid_id")
    # A form sent anyway (an old page) is refused naming the field.
    r = client.post("/patrol/report", content_type="multipart/form-data", follow_redirects=True, data={
        "title": "路面坑洞", "category_id": str(world.cat_road.id), "grid_id": str(world.grid_main.id),
        "address": "四号路", "lat": str(LAT), "lon": str(LON), "form_token": "t-inactive-1"})
    assert any("road" in f and "停用" in f for f in flashes(r.get_data(as_text=True)))
    assert session.execute(select(Case.id)).first() is None


def test_dispatcher_inbox_offers_active_departments_and_keeps_a_cases_current_category(client, session, catalog,
                                                                                       world, park) -> None:  # type: ignore[no-untyped-def]
    old = report(session, catalog, world, category_code="road")  # waiting for review
    waiting = report(session, catalog, world, title="待派遣")
    review.register(session, catalog, waiting.id, actor=world.actor("dispatcher"))
    deactivate_category(session, world, world.cat_road)
    as_person(client, world.people["dispatcher"])
    page = client.get("/dispatch").get_data(as_text=True)
    departments = options(page, "department_id")
    assert str(world.sanitation.id) in departments and str(park.id) not in departments
    # The old case's register form shows its deactivated category as it is, marked.
    form = page[page.index(f"/dispatch/cases/{old.id}/register"):]
    assert re.search(rf'<option value="{world.cat_road.id}" selected>道路破损 \(已停用\)', form)
    r = client.post(f"/dispatch/cases/{old.id}/register", follow_redirects=True,
                    data={"category_id": str(world.cat_road.id), "grid_id": str(world.grid_main.id),
                          "form_token": "t-inactive-2"})
    assert "已立案" in flashes(r.get_data(as_text=True))
    session.expire_all()
    assert (session.get(Case, old.id).state, session.get(Case, old.id).category_id) == ("registered", world.cat_road.id)
    # The case's own page shows its deactivated category as it is, marked, like the inbox.
    page = client.get(f"/dispatch/cases/{old.id}").get_data(as_text=True)
    reclassify_form = page[page.index('id="op-reclassify"'):]
    assert re.search(rf'<option value="{world.cat_road.id}" selected>道路破损 \(已停用\)', reclassify_form)
    assert str(park.id) not in options(page, "department_id")


def test_handler_suggests_only_active_departments(client, session, catalog, world, park) -> None:  # type: ignore[no-untyped-def]
    disp = world.actor("dispatcher")
    case = report(session, catalog, world)
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.sanitation.id)
    as_person(client, world.people["san_handler"])
    page = client.get(f"/handler/cases/{case.id}").get_data(as_text=True)
    suggested = options(page, "suggested_department_id")
    assert str(world.roads.id) in suggested and str(park.id) not in suggested
