"""An instruction posted with a location and no area takes its area kind from the grid whose
GeoJSON polygon contains the point (``services.instructions.grid_at``), and so its arrival
deadline: 30 minutes in the main urban area, 60 in other areas (workflows/instruction.yaml).
Outside every grid shape it falls back to main urban, the stricter deadline."""
from __future__ import annotations

import pytest

from caseflow.models import Grid, Instruction
from caseflow.security.tokens import issue_token
from caseflow.services import instructions as svc

# An L-shaped grid in the "other" area: the notch at its top right lies inside the bounding box
# but outside the polygon, so a bounding-box test would get it wrong. Points are (lon, lat).
RIVER_L = [[121.50, 31.20], [121.52, 31.20], [121.52, 31.21], [121.51, 31.21], [121.51, 31.22],
           [121.50, 31.22], [121.50, 31.20]]
CORE = [[121.40, 31.20], [121.41, 31.20], [121.41, 31.21], [121.40, 31.21], [121.40, 31.20]]

IN_RIVER = {"lat": 31.215, "lon": 121.505}  # the L's upper arm
IN_NOTCH = {"lat": 31.215, "lon": 121.515}  # inside the L's bounding box, outside the L
IN_CORE = {"lat": 31.205, "lon": 121.405}
NOWHERE = {"lat": 30.0, "lon": 120.0}


@pytest.fixture
def shaped(session, world):  # type: ignore[no-untyped-def]
    """Two grids with shapes: an L in the other area and a square in the main urban area."""
    river = Grid(code="G-RIVER", name="滨江网格", area=world.other_area, center=world.street,
                 shape={"type": "Polygon", "coordinates": [RIVER_L]})
    core = Grid(code="G-CORE", name="老城网格", area=world.main_area, center=world.street,
                shape={"type": "Polygon", "coordinates": [CORE]})
    session.add_all([river, core])
    session.commit()
    return {"river": river, "core": core}


@pytest.fixture
def auth(session, world):  # type: ignore[no-untyped-def]
    return {"110": {"Authorization": "Bearer " + issue_token(session, "city 110", client_kind="linkage_110")},
            "liaison": {"Authorization": "Bearer " + issue_token(session, "liaison",
                                                                  person=world.people["liaison"])}}


def _post(client, auth, number: str, **body):  # type: ignore[no-untyped-def]
    r = client.post("/api/instructions", headers=auth["110"], json={
        "number": number, "category": "garbage", "address": "滨江路", "description": "垃圾堆放", **body})
    assert r.status_code == 201, r.json
    return r.json


def _arrival_minutes(client, session, auth, item_id: int) -> float:  # type: ignore[no-untyped-def]
    """Sign and dispatch through the API; the arrival deadline's length from the dispatch, in minutes."""
    for action in ("sign", "dispatch"):
        r = client.post(f"/api/instructions/{item_id}/{action}", headers=auth["liaison"], json={})
        assert r.status_code == 200, r.json
    session.expire_all()
    item = session.get(Instruction, item_id)
    row = svc.arrival_deadline(session, item)
    assert row is not None and row.status == "pending" and item.state == "dispatched"
    return (row.due_at - item.dispatched_at).total_seconds() / 60


@pytest.mark.parametrize(("where", "area_kind", "grid", "source", "minutes"), [
    (IN_RIVER, "other", "G-RIVER", "grid", 60),
    (IN_NOTCH, "main_urban", None, "default", 30),
    (IN_CORE, "main_urban", "G-CORE", "grid", 30),
    (NOWHERE, "main_urban", None, "default", 30),
])
def test_the_area_and_the_arrival_deadline_come_from_the_grid_shape(
        client, session, world, shaped, auth, where, area_kind, grid, source, minutes) -> None:  # type: ignore[no-untyped-def]
    view = _post(client, auth, "110-GEO-1", **where)
    assert (view["area_kind"], view["grid"], view["lat"], view["lon"]) == (area_kind, grid, where["lat"], where["lon"])
    session.expire_all()
    assert session.get(Instruction, view["id"]).record("area_source") == source
    assert _arrival_minutes(client, session, auth, view["id"]) == pytest.approx(minutes)


def test_a_given_area_or_a_named_grid_wins_over_the_location(client, session, world, shaped, auth) -> None:  # type: ignore[no-untyped-def]
    # In the "other" grid, but 110 says main urban: the given area counts (the grid is still found).
    given = _post(client, auth, "110-GEO-2", area_kind="main_urban", **IN_RIVER)
    assert (given["area_kind"], given["grid"]) == ("main_urban", "G-RIVER")
    assert _arrival_minutes(client, session, auth, given["id"]) == pytest.approx(30)
    # A named grid is taken as named, whatever the location says.
    named = _post(client, auth, "110-GEO-3", grid="G02", **IN_CORE)
    assert (named["area_kind"], named["grid"]) == ("other", "G02")
    assert _arrival_minutes(client, session, auth, named["id"]) == pytest.approx(60)


def test_grid_at_reads_the_polygons(session, world, shaped) -> None:  # type: ignore[no-untyped-def]
    assert svc.grid_at(session, **IN_RIVER).code == "G-RIVER"
    assert svc.grid_at(session, lat=31.205, lon=121.515).code == "G-RIVER"  # the L's lower bar
    assert svc.grid_at(session, **IN_NOTCH) is None
    assert svc.grid_at(session, **IN_CORE).code == "G-CORE"
    assert svc.grid_at(session, **NOWHERE) is None
    # The world's grids have no shape: a point is never placed in them.
    assert world.grid_main.shape is None and world.grid_other.shape is None


def test_grid_at_reads_multipolygons_and_skips_deactivated_grids(session, world, shaped) -> None:  # type: ignore[no-untyped-def]
    island = [[121.60, 31.30], [121.61, 31.30], [121.61, 31.31], [121.60, 31.31], [121.60, 31.30]]
    session.add(Grid(code="G-ISLES", name="群岛网格", area=world.other_area, center=world.street,
                     shape={"type": "MultiPolygon", "coordinates": [[CORE], [island]]}))
    shaped["core"].active = False
    session.commit()
    assert svc.grid_at(session, lat=31.305, lon=121.605).code == "G-ISLES"  # its second polygon
    # The deactivated square no longer places the point; the multipolygon's first part still does.
    assert svc.grid_at(session, **IN_CORE).code == "G-ISLES"
    shaped["core"].active, session.get(Grid, shaped["river"].id).active = True, False
    session.commit()
    assert svc.grid_at(session, **IN_RIVER) is None
