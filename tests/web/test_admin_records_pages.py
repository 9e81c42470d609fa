"""Console pages that administer areas, departments, categories and people one record at a time:
list, create, edit, deactivate, reset a password; refusals shown naming the field with what was
typed kept; the record's ledger on its page; Chinese with English; administrators only."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow.models import Area, Category, Department, Person
from caseflow.services.people import authenticate

from .test_work_pages import as_person, flashes


@pytest.fixture
def admin(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["admin"])
    return client


def test_admin_page_links_every_record_list(admin) -> None:  # type: ignore[no-untyped-def]
    body = admin.get("/admin").get_data(as_text=True)
    links = body[body.index('id="admin-records"'):]
    for kind, label in (("areas", "区域（片区）"), ("departments", "部门与单位"), ("people", "人员"),
                        ("categories", "事项类别")):
        assert f'href="/admin/{kind}" data-page="admin_records.{kind}">{label}</a>' in links
        assert admin.get(f"/admin/{kind}").status_code == 200
    english = admin.get("/admin/areas?lang=en").get_data(as_text=True)
    assert "<h1>Areas" in english and "Arrival deadline" in english and "30 min" in english


def test_create_and_edit_an_area_with_its_ledger(admin, session) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/areas/new", data={"code": "east", "name": "东片区", "kind": "other"})
    area = session.execute(select(Area).where(Area.code == "east")).scalar_one()
    assert r.status_code == 302 and r.headers["Location"] == f"/admin/areas/{area.id}"
    r = admin.post(f"/admin/areas/{area.id}", data={"name": "东片区", "kind": "main_urban"}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert "已保存" in flashes(body) and any("30 分钟" in f for f in flashes(body))
    history = body[body.index('id="history"'):]
    assert 'data-trigger="update_area"' in history and "区域类型: 其它区域 → 主城区" in history
    assert 'data-trigger="create_area"' in history and "admin" in history
    session.expire_all()
    assert session.get(Area, area.id).kind == "main_urban"


def test_refused_save_keeps_what_was_typed_and_names_the_field(admin, session) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/areas/new", data={"code": "main_urban", "name": "重复的区域", "kind": "other"})
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    error = re.search(r'id="form-error">([^<]*)<', body).group(1)  # type: ignore[union-attr]
    assert error.startswith("代码 (code)") and "taken" in error
    assert 'value="重复的区域"' in body  # what was typed is still there
    assert session.execute(select(Area).where(Area.name == "重复的区域")).first() is None


def test_deactivation_refused_while_needed_then_done(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    r = admin.post(f"/admin/areas/{world.other_area.id}/active", data={"active": "0"}, follow_redirects=True)
    assert any("G02" in f for f in flashes(r.get_data(as_text=True)))
    r = admin.post(f"/admin/categories/{world.cat_police.id}/active", data={"active": "0"}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert "已停用" in flashes(body) and 'data-action="reactivate"' in body
    session.expire_all()
    assert session.get(Category, world.cat_police.id).active is False
    listed = admin.get("/admin/categories?active=0").get_data(as_text=True)
    assert "police" in listed and "garbage" not in listed


def test_department_form_changes_head_and_action_group(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    page = admin.get(f"/admin/departments/{world.sanitation.id}").get_data(as_text=True)
    assert 'value="环卫应急行动组"' in page and "san_head" in page
    head = world.people["san_handler"]
    r = admin.post(f"/admin/departments/{world.sanitation.id}", data={
        "name": "环卫所", "kind": "unit", "center_id": str(world.street.id), "head_id": str(head.id),
        "working_hours": "", "action_group_name": "环卫应急组", "action_group_leader_id": ""}, follow_redirects=True)
    assert "已保存" in flashes(r.get_data(as_text=True))
    session.expire_all()
    dept = session.get(Department, world.sanitation.id)
    assert dept.head_id == head.id and dept.action_group.name == "环卫应急组" and dept.action_group.leader_id is None


def test_person_created_with_a_generated_password_shown_once(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/people/new", data={"username": "sun.qi", "full_name": "孙七", "roles": ["handler", "duty_officer"],
                                              "department_id": str(world.roads.id), "center_id": "", "phone": "",
                                              "email": "", "password": ""})
    body = r.get_data(as_text=True)
    assert r.status_code == 201
    password = re.search(r'id="generated-password".*?<code>([^<]+)</code>', body, re.S).group(1)  # type: ignore[union-attr]
    person = authenticate(session, "sun.qi", password)
    assert person is not None and person.roles == {"handler", "duty_officer"}
    assert password not in admin.get(f"/admin/people/{person.id}").get_data(as_text=True)  # never again
    r = admin.post(f"/admin/people/{person.id}/password", data={"new_password": ""})
    again = re.search(r"<code>([^<]+)</code>", r.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    assert again != password and authenticate(session, "sun.qi", again) is not None
    r = admin.post(f"/admin/people/{person.id}/password", data={"new_password": "short"})
    assert r.status_code == 422 and "密码" in r.get_data(as_text=True)


def test_people_list_filters_and_pages(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    for i in range(55):
        session.add(Person(username=f"worker{i:02d}", full_name=f"工人{i}", password_hash=""))
    session.commit()
    first = admin.get("/admin/people").get_data(as_text=True)
    assert "第 1 / 2 页" in first and 'rel="next"' in first
    second = admin.get("/admin/people?page=2").get_data(as_text=True)
    # By username: the world's 13 people and worker00-36 fill page 1; worker37-54 are on page 2.
    assert ">worker37<" in second and ">worker54<" in second and ">worker36<" not in second
    assert "第 2 / 2 页" in second and 'rel="next"' not in second
    found = admin.get("/admin/people?q=SAN_&role=handler").get_data(as_text=True)
    rows = re.findall(r'<tr data-id="\d+"[^>]*>\s*<td>([^<]+)</td>', found)
    assert sorted(rows) == ["san_group_leader", "san_handler", "san_head"]


@pytest.mark.parametrize("who", ["dispatcher", "san_handler", "deputy"])
def test_only_admins_open_or_change(client, session, world, who) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people[who])
    assert client.get("/admin/people").status_code == 403
    assert client.get(f"/admin/areas/{world.main_area.id}").status_code == 403
    r = client.post(f"/admin/areas/{world.main_area.id}", data={"name": "改名", "kind": "other"})
    assert r.status_code == 403
    session.expire_all()
    assert session.get(Area, world.main_area.id).kind == "main_urban"


@pytest.mark.parametrize("kind, record", [("areas", "main_area"), ("departments", "sanitation"),
                                          ("categories", "cat_garbage"), ("people", "people")])
def test_every_form_renders_in_both_languages(admin, world, kind, record) -> None:  # type: ignore[no-untyped-def]
    row = world.people["san_head"] if record == "people" else getattr(world, record)
    for lang, save in (("zh", "保存"), ("en", "Save")):
        page = admin.get(f"/admin/{kind}/{row.id}?lang={lang}")
        body = page.get_data(as_text=True)
        assert page.status_code == 200 and f'data-action="save">{save}</button>' in body
        assert 'data-action="deactivate"' in body and ('id="password-reset"' in body) == (kind == "people")
        new = admin.get(f"/admin/{kind}/new").get_data(as_text=True)
        assert 'name="code"' in new or 'name="username"' in new  # set once, at creation only
        assert 'name="code"' not in body and 'name="username"' not in body
    assert admin.get(f"/admin/{kind}/999999").status_code == 404
