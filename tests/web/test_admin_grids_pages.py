"""Console pages for grids one at a time (/admin/grids): list, create with a boundary, edit, refused
saves keeping what was typed and naming the field, deactivate; the grid's ledger on its page;
Chinese with English; administrators only."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from caseflow.models import Grid

from .test_work_pages import as_person, flashes

SQUARE = {"type": "Polygon", "coordinates": [[[121.0, 31.0], [121.02, 31.0], [121.02, 31.01], [121.0, 31.01],
                                              [121.0, 31.0]]]}


@pytest.fixture
def admin(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["admin"])
    return client


def test_admin_page_links_the_grid_list(admin, world) -> None:  # type: ignore[no-untyped-def]
    body = admin.get("/admin").get_data(as_text=True)
    links = body[body.index('id="admin-records"'):]
    assert 'href="/admin/grids" data-page="admin_records.grids">网格</a>' in links
    listing = admin.get("/admin/grids").get_data(as_text=True)
    rows = listing[listing.index('id="records"'):]
    assert "G01" in rows and "一号网格" in rows and "主城区" in rows and "共 2 条" in listing
    assert f'href="/admin/grids/{world.grid_main.id}"' in rows
    english = admin.get("/admin/grids?lang=en").get_data(as_text=True)
    assert "<h1>Grids" in english and "Boundary (GeoJSON)" in english and "main urban" in english


def test_create_a_grid_with_a_boundary_then_edit_it(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    form = admin.get("/admin/grids/new").get_data(as_text=True)
    assert '<textarea id="f-shape" name="shape"' in form and f'<option value="{world.main_area.id}"' in form
    leader = world.people["san_handler"]
    r = admin.post("/admin/grids/new", data={
        "code": "G03", "name": "三号网格", "area_id": str(world.main_area.id), "center_id": str(world.street.id),
        "leader_id": str(leader.id), "shape": json.dumps(SQUARE)})
    grid = session.execute(select(Grid).where(Grid.code == "G03")).scalar_one()
    assert r.status_code == 302 and r.headers["Location"] == f"/admin/grids/{grid.id}"
    assert grid.shape == SQUARE and grid.leader_id == leader.id
    page = admin.get(f"/admin/grids/{grid.id}").get_data(as_text=True)
    assert 'id="grid-centre"' in page and "121.01, 31.005" in page
    assert "&#34;Polygon&#34;" in page or '"Polygon"' in page  # the boundary is in the text area, as JSON
    r = admin.post(f"/admin/grids/{grid.id}", data={
        "name": "三号网格", "area_id": str(world.other_area.id), "center_id": str(world.street.id),
        "leader_id": "", "shape": ""}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert "已保存" in flashes(body) and any("60 分钟" in f for f in flashes(body))
    history = body[body.index('id="history"'):]
    assert 'data-trigger="update_grid"' in history and "区域: 主城区 → 其它区域" in history
    assert "网格长: " + leader.full_name + " → —" in history and "边界（GeoJSON）: 1 个多边形，4 个顶点 → —" in history
    session.expire_all()
    grid = session.get(Grid, grid.id)
    assert (grid.area_id, grid.leader_id, grid.shape) == (world.other_area.id, None, None)


def test_a_refused_grid_keeps_what_was_typed(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/grids/new", data={"code": "G04", "name": "四号网格", "area_id": str(world.main_area.id),
                                             "center_id": "", "leader_id": "", "shape": '{"type": "Point"}'})
    body = r.get_data(as_text=True)
    assert r.status_code == 422
    error = re.search(r'id="form-error">([^<]*)<', body).group(1)  # type: ignore[union-attr]
    assert error.startswith("边界（GeoJSON） (shape)") and "Polygon" in error
    assert 'value="四号网格"' in body and "Point" in body
    assert session.execute(select(Grid).where(Grid.code == "G04")).first() is None


def test_deactivate_and_reactivate_a_grid(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    r = admin.post(f"/admin/grids/{world.grid_other.id}/active", data={"active": "0"}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert "已停用" in flashes(body) and 'data-action="reactivate"' in body
    session.expire_all()
    assert session.get(Grid, world.grid_other.id).active is False
    assert "G02" not in admin.get("/admin/grids?active=1").get_data(as_text=True).split('id="records"')[1]
    # Its area now holds no active grid and may be deactivated; the grid then cannot come back.
    r = admin.post(f"/admin/areas/{world.other_area.id}/active", data={"active": "0"}, follow_redirects=True)
    assert "已停用" in flashes(r.get_data(as_text=True))
    r = admin.post(f"/admin/grids/{world.grid_other.id}/active", data={"active": "1"}, follow_redirects=True)
    assert any("inactive" in f for f in flashes(r.get_data(as_text=True)))
    session.expire_all()
    assert session.get(Grid, world.grid_other.id).active is False


def test_grid_pages_are_for_administrators(client, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    assert client.get("/admin/grids").status_code == 403
    assert client.post(f"/admin/grids/{world.grid_main.id}", data={"name": "改名"}).status_code == 403
