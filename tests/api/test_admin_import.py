"""Bulk import/export of departments, people, categories and grids: templates, the row-by-row
report with nothing half-imported, updates by code, generated passwords, CSV with and without
BOM, admin only, and export -> import into an empty database -> the same data."""
from __future__ import annotations

import io
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select

from caseflow.models import AccessDenial, ActionGroup, Area, Category, Center, Department, Grid, Person
from caseflow.security.passwords import verify_password
from caseflow.security.tokens import issue_token
from caseflow.services import admin_import
from caseflow.services.people import authenticate
from tests.conftest import _empty_tables

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def admin(session, world) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {"Authorization": f"Bearer {issue_token(session, 'admin', person=world.people['admin'])}"}


def upload(client, headers, kind: str, data: bytes, name: str, query: str = ""):  # type: ignore[no-untyped-def]
    return client.post(f"/api/admin/import/{kind}{query}", headers=headers,
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sheet_rows(data: bytes) -> dict[str, list[list[Any]]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_templates_have_the_documented_headers(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/admin/templates/people.xlsx", headers=admin)
    assert r.status_code == 200 and r.mimetype == XLSX
    assert sheet_rows(r.data) == {"人员": [[c.zh for c in admin_import.COLUMNS["people"]]]}
    everything = sheet_rows(client.get("/api/admin/templates/all.xlsx", headers=admin).data)
    assert list(everything) == ["部门", "人员", "类别", "网格"]
    csv_template = client.get("/api/admin/templates/grids.csv", headers=admin)
    assert csv_template.data.startswith("\ufeff代码,名称,区域代码".encode())


def test_people_import_with_roles_departments_and_generated_passwords(client, session, admin, world) -> None:  # type: ignore[no-untyped-def]
    data = workbook({"人员": [
        ["用户名", "姓名", "角色", "部门代码", "所属中心代码", "电话", "邮箱", "启用", "初始密码"],
        ["wang.wu", "王五", "处置部门", "SAN", "S01", "13800000001", "wang@example.test", "是", ""],
        ["zhao.liu", "赵六", "dispatcher、duty_officer", "", "S01", "", "", "", "Chosen-Pass-1"],
    ]})
    r = upload(client, admin, "people", data, "people.xlsx")
    assert r.status_code == 200, r.json
    assert r.json["created"] == {"people": 2} and r.json["updated"] == {}
    generated = {p["username"]: p["password"] for p in r.json["passwords"]}
    assert list(generated) == ["wang.wu"] and len(generated["wang.wu"]) >= 12  # shown once, for new people only
    wang = authenticate(session, "wang.wu", generated["wang.wu"])
    assert wang is not None and wang.roles == {"handler"} and wang.department_id == world.sanitation.id
    assert generated["wang.wu"] not in wang.password_hash  # only the hash is stored
    zhao = authenticate(session, "zhao.liu", "Chosen-Pass-1")
    assert zhao is not None and zhao.roles == {"dispatcher", "duty_officer"} and zhao.center_id == world.street.id


def test_any_bad_row_imports_nothing_and_reports_every_row(client, session, admin) -> None:  # type: ignore[no-untyped-def]
    before = count(session, Department)
    data = workbook({"部门": [
        ["代码", "名称", "类型", "所属中心代码", "负责人用户名"],
        ["PARK", "园林所", "unit", "S01", ""],           # fine, but must not be written
        ["", "无代码", "unit", "S01", ""],               # row 3: code missing
        ["WATER", "水务所", "factory", "S99", "nobody"],  # row 4: kind, center, head
        ["PARK", "园林所二", "unit", "S01", ""],          # row 5: repeats row 2
    ]})
    r = upload(client, admin, "departments", data, "departments.xlsx")
    assert r.status_code == 422
    report = r.json["errors"]["report"]
    assert "部门 第 3 行: 字段 代码: 必填，不能为空" in report
    assert any(line.startswith("部门 第 4 行: 字段 类型:") for line in report)
    assert any(line.startswith("部门 第 4 行: 字段 所属中心代码:") and "S99" in line for line in report)
    assert any(line.startswith("部门 第 4 行: 字段 负责人用户名:") and "nobody" in line for line in report)
    assert any(line.startswith("部门 第 5 行: 字段 代码: 与第 2 行重复") for line in report)
    rows = {(e["row"], e["field"]) for e in r.json["errors"]["rows"]}
    assert (4, "类型") in rows and all(e["line_en"].startswith("departments row ") for e in r.json["errors"]["rows"])
    assert count(session, Department) == before  # nothing half-imported
    assert session.execute(select(Department).where(Department.code == "PARK")).scalar_one_or_none() is None


def test_a_late_database_problem_rolls_back_every_row(client, session, admin, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    before = count(session, Category)

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(admin_import, "_apply_grids", boom)
    data = workbook({"类别": [["代码", "名称"], ["tree", "树木倒伏"]],
                     "网格": [["代码", "名称", "区域代码"], ["G09", "九号网格", "other"]]})
    with pytest.raises(RuntimeError):
        upload(client, admin, "all", data, "all.xlsx")
    session.rollback()
    assert count(session, Category) == before


def test_existing_codes_are_updated(client, session, admin, world) -> None:  # type: ignore[no-untyped-def]
    csv_text = "代码,名称,分管领域,受理范围内,责任部门代码,默认分级\r\n" \
               "garbage,暴露垃圾（更新）,city,是,ROAD,complex\r\n" \
               "tree,树木倒伏,city,否,,simple\r\n"
    r = upload(client, admin, "categories", csv_text.encode("utf-8"), "categories.csv")  # no BOM
    assert r.status_code == 200, r.json
    assert r.json["created"] == {"categories": 1} and r.json["updated"] == {"categories": 1}
    session.expire_all()
    garbage = session.get(Category, world.cat_garbage.id)
    assert garbage.name == "暴露垃圾（更新）" and garbage.responsible_department_id == world.roads.id
    assert garbage.default_tier == "complex"
    tree = session.execute(select(Category).where(Category.code == "tree")).scalar_one()
    assert tree.in_scope is False and tree.responsible_department_id is None


def test_csv_with_bom_and_english_headers(client, session, admin, world) -> None:  # type: ignore[no-untyped-def]
    text = "code,name,area,center,leader\r\nG03,三号网格,main_urban,S01,san_head\r\n"
    r = upload(client, admin, "grids", b"\xef\xbb\xbf" + text.encode("utf-8"), "grids.csv")
    assert r.status_code == 200, r.json
    grid = session.execute(select(Grid).where(Grid.code == "G03")).scalar_one()
    assert grid.leader_id == world.people["san_head"].id and grid.area.code == "main_urban"


def test_bad_files_name_the_problem(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = upload(client, admin, "grids", "代码,名称\r\nG1,一\r\n".encode("gbk"), "grids.csv")
    assert r.status_code == 422 and "file" in r.json["errors"] and "UTF-8" in r.json["message"]
    r = upload(client, admin, "grids", "编号,名称\r\n".encode(), "grids.csv")
    assert r.status_code == 422 and "编号" in r.json["message"] and "区域代码" in r.json["message"]
    r = upload(client, admin, "all", b"code,name\r\n", "x.csv")
    assert r.status_code == 422 and "kind" in r.json["errors"]
    r = client.post("/api/admin/import/people", headers=admin, data={}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.json["errors"]


def test_dry_run_checks_without_writing(client, session, admin) -> None:  # type: ignore[no-untyped-def]
    data = workbook({"类别": [["代码", "名称"], ["tree", "树木倒伏"]]})
    r = upload(client, admin, "categories", data, "c.xlsx", "?dry_run=true")
    assert r.status_code == 200 and r.json["created"] == {"categories": 1} and r.json["dry_run"] is True
    assert session.execute(select(Category).where(Category.code == "tree")).scalar_one_or_none() is None


def test_only_administrators(client, session, world) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(session, "disp", person=world.people["dispatcher"])
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/admin/export/people.xlsx", headers=headers).status_code == 403
    r = upload(client, headers, "categories", workbook({"类别": [["代码", "名称"], ["x", "y"]]}), "c.xlsx")
    assert r.status_code == 403
    assert count(session, AccessDenial) == 2


def _snapshot(session) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The imported kinds as plain data, by code."""
    session.expire_all()
    return {kind: admin_import.export_rows(session, kind) for kind in admin_import.KINDS}


def test_round_trip_export_then_import_into_an_empty_database(app, client, session, admin, world) -> None:  # type: ignore[no-untyped-def]
    world.grid_main.shape = {"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.1, 31.0], [121.1, 31.1],
                                                                  [121.0, 31.0]]]}
    world.sanitation.working_hours = "08:30-12:00,13:30-17:30"
    world.people["road_handler"].phone = "013800000000"  # a leading zero must survive
    world.people["duty_officer"].active = False
    session.commit()
    exported = client.get("/api/admin/export/all.xlsx", headers=admin)
    assert exported.status_code == 200
    before = _snapshot(session)
    assert before["departments"][1]["action_group_leader"] == "san_group_leader"

    session.close()  # release the session's connection before the tables are emptied
    _empty_tables(app)  # a new installation: only its centers and areas exist
    session.expire_all()
    session.add_all([Center(code="D01", name="区中心", level="district"),
                     Center(code="S01", name="街道中心", level="street"),
                     Area(code="main_urban", name="主城区", kind="main_urban"),
                     Area(code="other", name="其它", kind="other")])
    session.commit()
    imported = admin_import.import_rows(session, admin_import.read_upload("all.xlsx", exported.data, "all"))
    assert imported.created == {"departments": 2, "people": 13, "categories": 3, "grids": 2}
    assert len(imported.passwords) == 13  # none exported, so each new person got one
    assert _snapshot(session) == before
    head = session.execute(select(Department).where(Department.code == "SAN")).scalar_one().head
    assert head is not None and head.username == "san_head"
    group = session.execute(select(ActionGroup)).scalar_one()
    assert group.leader.username == "san_group_leader"
    person = session.execute(select(Person).where(Person.username == "admin")).scalar_one()
    password = next(p["password"] for p in imported.passwords if p["username"] == "admin")
    assert verify_password(person.password_hash, password)


def test_csv_export_reimports_unchanged(client, session, admin) -> None:  # type: ignore[no-untyped-def]
    before = _snapshot(session)
    for kind in admin_import.KINDS:
        r = client.get(f"/api/admin/export/{kind}.csv", headers=admin)
        assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
        again = upload(client, admin, kind, r.data, f"{kind}.csv")
        assert again.status_code == 200, again.json
        assert again.json["created"] == {} and sum(again.json["updated"].values()) == len(before[kind])
    assert _snapshot(session) == before


def sign_in(client, person) -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as s:
        s["person_id"] = person.id


def test_console_page_reports_rows_and_shows_passwords_once(client, session, world) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, world.people["admin"])
    page = client.get("/admin/import/")
    assert page.status_code == 200 and "批量导入与导出" in page.get_data(as_text=True)
    assert "/api/admin/templates/people.xlsx" in page.get_data(as_text=True)
    # The console session downloads the template through the API.
    assert client.get("/api/admin/templates/people.xlsx").status_code == 200
    bad = "用户名,姓名,角色\r\nli.si,李四,巡逻员\r\n".encode()
    r = client.post("/admin/import/", data={"kind": "people", "file": (io.BytesIO(bad), "p.csv")},
                    content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and "人员 第 2 行: 字段 角色: 未知的角色 巡逻员" in body
    assert session.execute(select(Person).where(Person.username == "li.si")).scalar_one_or_none() is None
    good = "用户名,姓名,角色\r\nli.si,李四,值班员\r\n".encode()
    r = client.post("/admin/import/", data={"kind": "people", "file": (io.BytesIO(good), "p.csv")},
                    content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="generated-passwords"' in body
    password = body.split("<code>")[1].split("</code>")[0]
    assert authenticate(session, "li.si", password) is not None
    assert "<code>" not in client.get("/admin/import/").get_data(as_text=True)  # shown that once only


def test_console_page_is_for_administrators(client, world) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, world.people["dispatcher"])
    assert client.get("/admin/import/").status_code == 403
    r = client.post("/admin/import/", data={"kind": "people", "file": (io.BytesIO(b"x"), "p.csv")},
                    content_type="multipart/form-data")
    assert r.status_code == 403
