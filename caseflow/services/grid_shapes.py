"""A grid's boundary (边界): a GeoJSON Polygon or MultiPolygon in WGS 84 longitude/latitude.

The leader's map draws the outer rings and an instruction's location is matched against them,
so a shape must be one they can read: closed rings of at least four ``[lon, lat]`` positions
within range. A shape is checked before it is stored, and :func:`centre` gives the point a page
shows for it (the mean of the outer rings' corners: right enough to find a street's grid).
"""
from __future__ import annotations

import json
import math
from typing import Any

from caseflow.errors import ValidationFailed

SHAPE_TYPES = ("Polygon", "MultiPolygon")
# A street's grid needs a few dozen corners; this bounds what one form or request may store.
MAX_POSITIONS = 5000


def _bad(message: str, field: str) -> ValidationFailed:
    return ValidationFailed(f"{field}: {message}", field=field)


def _position(value: Any, field: str) -> list[float]:
    if not isinstance(value, (list, tuple)) or len(value) < 2:
        raise _bad("each position must be [longitude, latitude]", field)
    lon, lat = value[0], value[1]
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) for v in (lon, lat)):
        raise _bad("longitude and latitude must be numbers", field)
    if not -180 <= lon <= 180 or not -90 <= lat <= 90:
        raise _bad(f"[{lon}, {lat}] is not a longitude (-180..180) and latitude (-90..90)", field)
    return [float(lon), float(lat)]


def _polygon(value: Any, field: str) -> list[list[list[float]]]:
    if not isinstance(value, (list, tuple)) or not value:
        raise _bad("a polygon is a list of rings, the outer ring first", field)
    rings = []
    for ring in value:
        if not isinstance(ring, (list, tuple)) or len(ring) < 4:
            raise _bad("a ring needs at least 4 positions (the first repeated at the end)", field)
        points = [_position(p, field) for p in ring]
        if points[0] != points[-1]:
            raise _bad("a ring must end where it starts", field)
        rings.append(points)
    return rings


def check_shape(value: Any, field: str = "shape") -> dict[str, Any] | None:
    """The shape as stored (``{"type", "coordinates"}``), or None for no shape (None, ``{}`` or blank
    text). JSON text is read first. ``ValidationFailed`` on ``field`` saying what is wrong."""
    if value is None or value == {} or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad("is not valid JSON", field) from None
    if not isinstance(value, dict) or value.get("type") not in SHAPE_TYPES:
        raise _bad("must be a GeoJSON Polygon or MultiPolygon", field)
    coords = value.get("coordinates")
    if value["type"] == "Polygon":
        checked: Any = _polygon(coords, field)
        count = sum(len(r) for r in checked)
    else:
        if not isinstance(coords, (list, tuple)) or not coords:
            raise _bad("a MultiPolygon is a list of polygons", field)
        checked = [_polygon(p, field) for p in coords]
        count = sum(len(r) for p in checked for r in p)
    if count > MAX_POSITIONS:
        raise _bad(f"at most {MAX_POSITIONS} positions", field)
    return {"type": value["type"], "coordinates": checked}


def outer_rings(shape: dict[str, Any] | None) -> list[list[list[float]]]:
    """The outer ring of each polygon of a stored shape (none for no shape)."""
    if not shape:
        return []
    coords = shape.get("coordinates") or []
    polygons = [coords] if shape.get("type") == "Polygon" else coords
    return [p[0] for p in polygons if p]


def centre(shape: dict[str, Any] | None) -> tuple[float, float] | None:
    """``(lon, lat)`` the mean of the outer rings' corners (the closing repeat left out), or None."""
    points = [p for ring in outer_rings(shape) for p in ring[:-1]]
    if not points:
        return None
    return (round(sum(p[0] for p in points) / len(points), 6), round(sum(p[1] for p in points) / len(points), 6))
