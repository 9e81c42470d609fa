"""The leader's dashboard (领导看板): today's figures, overdue work, escalations waiting for
acknowledgement, and open items by grid on a map drawn from the grids' GeoJSON shapes.

The map is an inline SVG rendered on the server (no tile server is reachable from a street
center's network): each grid polygon is projected to the picture and filled by its count of
open items. The page is ``pages.leader`` (/leader) rendering :func:`dashboard_context`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from caseflow.deadlines import escalation
from caseflow.extensions import db
from caseflow.models import ITEM_MODELS, Case, EscalationRun, Grid, Instruction, utcnow
from caseflow.workflow.engine import get_catalog

from .guards import login_required
from .i18n import current_language, t
from .work import attempt, back, me, text

bp = Blueprint("leader_console", __name__, url_prefix="/leader")

WAITING = ("active", "done")  # rounds still running, or all run and nobody took it on
MAP_W, MAP_H, PAD = 720.0, 420.0, 16.0
# Fill by share of the busiest grid: none, few, more, most.
COLOURS = ("#e8f5e9", "#fff3cd", "#f4a261", "#b3261e")


def start_of_today(now: datetime) -> datetime:
    """Local midnight of today (the configured zone), in UTC."""
    zone = ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))
    local = now.astimezone(zone)
    return datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(timezone.utc)


def _count(query: Any) -> int:
    return int(db.session.execute(query).scalar() or 0)


def today_figures(now: datetime) -> list[tuple[str, int]]:
    """(label key, number) of today's intake and closings."""
    since = start_of_today(now)
    return [
        ("leader.fig.instructions_received", _count(select(func.count(Instruction.id)).where(Instruction.received_at >= since))),
        ("leader.fig.instructions_closed", _count(select(func.count(Instruction.id)).where(Instruction.closed_at >= since))),
        ("leader.fig.cases_reported", _count(select(func.count(Case.id)).where(Case.reported_at >= since))),
        ("leader.fig.cases_closed", _count(select(func.count(Case.id)).where(Case.closed_at >= since))),
    ]


@dataclass
class Waiting:
    """An escalation nobody has taken on yet."""

    run: EscalationRun
    item: Any
    chain_label: str
    state_label: str


def waiting_escalations(limit: int = 50) -> list[Waiting]:
    """Escalation runs still waiting for someone to acknowledge them, oldest first."""
    from .pages import state_label

    catalog = get_catalog()
    out = []
    runs = db.session.execute(select(EscalationRun).where(EscalationRun.status.in_(WAITING))
                              .order_by(EscalationRun.started_at).limit(limit)).scalars()
    for run in runs:
        model = ITEM_MODELS.get(run.item_type)
        item = db.session.get(model, run.item_id) if model else None
        if item is None:
            continue
        try:
            raw = catalog.definition(item.workflow, item.workflow_version).raw
        except KeyError:
            raw = {}
        names = ((raw.get("escalations") or {}).get(run.chain) or {}).get("label") or {}
        label = str(names.get(current_language()) or names.get("zh") or run.chain)
        out.append(Waiting(run, item, label, state_label(item)))
    return out


def open_counts_by_grid() -> dict[int, int]:
    """Open cases plus open instructions per grid id."""
    from .pages import open_filter

    counts: dict[int, int] = {}
    for model in (Case, Instruction):
        rows = db.session.execute(select(model.grid_id, func.count(model.id))
                                  .where(model.grid_id.is_not(None), open_filter(model)).group_by(model.grid_id))
        for grid_id, n in rows:
            counts[grid_id] = counts.get(grid_id, 0) + int(n)
    return counts


def _rings(shape: dict[str, Any] | None) -> list[list[tuple[float, float]]]:
    """The outer rings of a GeoJSON Polygon or MultiPolygon as (lon, lat) lists."""
    if not shape:
        return []
    coords = shape.get("coordinates") or []
    try:
        if shape.get("type") == "Polygon" and coords:
            return [[(float(p[0]), float(p[1])) for p in coords[0]]]
        if shape.get("type") == "MultiPolygon":
            return [[(float(p[0]), float(p[1])) for p in poly[0]] for poly in coords if poly]
    except (TypeError, ValueError, IndexError):
        return []  # a malformed shape is left off the map, not a broken page
    return []


def colour(count: int, most: int) -> str:
    """The fill of a grid with ``count`` open items when the busiest has ``most``."""
    if count <= 0 or most <= 0:
        return COLOURS[0]
    share = count / most
    return COLOURS[1] if share <= 1 / 3 else (COLOURS[2] if share <= 2 / 3 else COLOURS[3])


def grid_map() -> dict[str, Any]:
    """Polygons projected into an SVG view box, with their grid, count and fill."""
    grids = list(db.session.execute(select(Grid).order_by(Grid.code)).scalars())
    counts = open_counts_by_grid()
    shaped = [(g, _rings(g.shape)) for g in grids]
    points = [p for _, rings in shaped for ring in rings for p in ring]
    unmapped = [(g, counts.get(g.id, 0)) for g, rings in shaped if not rings]
    if not points:
        return {"polygons": [], "width": MAP_W, "height": MAP_H, "unmapped": unmapped, "colours": COLOURS}
    min_x, max_x = min(p[0] for p in points), max(p[0] for p in points)
    min_y, max_y = min(p[1] for p in points), max(p[1] for p in points)
    # Equirectangular with the longitude shrunk by cos(latitude): right enough for one street.
    kx = math.cos(math.radians((min_y + max_y) / 2))
    span_x = max((max_x - min_x) * kx, 1e-9)
    span_y = max(max_y - min_y, 1e-9)
    scale = min((MAP_W - 2 * PAD) / span_x, (MAP_H - 2 * PAD) / span_y)
    height = span_y * scale + 2 * PAD
    most = max(counts.values(), default=0)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return PAD + (lon - min_x) * kx * scale, PAD + (max_y - lat) * scale

    polygons = []
    for g, rings in shaped:
        n = counts.get(g.id, 0)
        for ring in rings:
            xy = [project(lon, lat) for lon, lat in ring]
            cx = sum(x for x, _ in xy) / len(xy)
            cy = sum(y for _, y in xy) / len(xy)
            polygons.append({"grid": g, "count": n, "fill": colour(n, most), "cx": round(cx, 1), "cy": round(cy, 1),
                             "points": " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)})
    return {"polygons": polygons, "width": MAP_W, "height": round(height, 1), "unmapped": unmapped,
            "colours": COLOURS}


def dashboard_context() -> dict[str, Any]:
    """Everything the dashboard shows."""
    from .pages import open_filter, overdue_deadlines, state_label

    now = utcnow()
    counts = [(item_type, _count(select(func.count(model.id)).where(open_filter(model))))
              for item_type, model in ITEM_MODELS.items()]
    total, overdue = overdue_deadlines(now)
    overdue_rows = [(d, item, state_label(item), (now - d.due_at).total_seconds()) for d, item in overdue]
    return {"figures": today_figures(now), "counts": counts, "overdue_total": total, "overdue": overdue_rows,
            "escalations": waiting_escalations(), "map": grid_map()}


@bp.post("/escalations/<int:run_id>/acknowledge")
@login_required(roles=["leader"])
def acknowledge(run_id: int) -> Response:
    """Take an escalation on: no further rounds are sent (ledgered on the item)."""
    _, actor = me()
    attempt(lambda: escalation.acknowledge(db.session(), run_id, actor, comment=text("comment", max_len=2000)),
            t("flash.done.acknowledge"))
    return back("pages.leader")
