"""The leader's dashboard (领导看板): today's figures, overdue work (each item linked to its
read-only page, :mod:`caseflow.web.leader_items`, where a case can be supervised), escalations
waiting for acknowledgement, and open items by grid on a map drawn from the grids' GeoJSON shapes.

The map is an inline SVG rendered on the server (no tile server is reachable from a street
center's network): each grid polygon is projected to the picture and filled by its count of
open items. The page is ``pages.leader`` (/leader) rendering :func:`dashboard_context`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, time, timezone
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from caseflow.deadlines import escalation
from caseflow.errors import DomainError, NotFound
from caseflow.extensions import db
from caseflow.models import ITEM_MODELS, Case, EscalationRun, Grid, Instruction, utcnow
from caseflow.services.attachments import visible_item
from caseflow.services.escalation_views import WAITING, console_runs, group_notices, runs_view
from caseflow.workflow.engine import get_catalog

from .guards import login_required
from .i18n import current_language, t
from .work import attempt, back, me, text

bp = Blueprint("leader_console", __name__, url_prefix="/leader")

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
    """An escalation on a console list: who was told (by step and round) and who took it on."""

    run: EscalationRun
    item: Any
    chain_label: str
    state_label: str
    view: dict[str, Any] = field(default_factory=dict)  # escalation_views.run_view
    rounds: list[dict[str, Any]] = field(default_factory=list)  # its notices by (step, round)

    @property
    def waiting(self) -> bool:
        """Still waiting for someone to acknowledge it (else acknowledged: shown for a while)."""
        return self.run.status in WAITING


def escalation_rows(runs: list[EscalationRun]) -> list[Waiting]:
    """Runs with their item, labels in the page's language and the API's view of who was told."""
    from caseflow.deadlines.targets import target_label

    from .pages import state_label

    catalog = get_catalog()
    lang = current_language()
    views = {v["id"]: v for v in runs_view(db.session(), runs)}
    out = []
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
        label = str(names.get(lang) or names.get("zh") or run.chain)
        view = views[run.id]
        for n in view["notices"]:
            n["label"] = target_label(n["target"], lang)
        out.append(Waiting(run, item, label, state_label(item), view, group_notices(view)))
    return out


def waiting_escalations(limit: int = 50) -> list[Waiting]:
    """Escalation runs still waiting for someone to acknowledge them, and those acknowledged
    in the last 24 hours (so everyone sees who took them on), oldest first."""
    return escalation_rows(console_runs(db.session(), utcnow(), limit=limit))


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
    from .leader_items import can_supervise

    # Each row links to the item's read-only page (leader_items); a case a leader may supervise
    # in its state also gets the supervise link.
    overdue_rows = [(d, item, state_label(item), (now - d.due_at).total_seconds(), can_supervise(item))
                    for d, item in overdue]
    from .leader_returns import waiting_count

    returns_waiting = waiting_count()
    return {"figures": today_figures(now), "counts": counts, "overdue_total": total, "overdue": overdue_rows,
            "escalations": waiting_escalations(), "map": grid_map(), "returns_waiting": returns_waiting}


# Who may post the acknowledge form: whoever the service accepts, i.e. leaders, duty leads and
# admins, and any person told in the run, whatever their role (a unit head is a handler, a shift
# lead a duty lead or officer...). The service does the real check and records a refusal.
ACKNOWLEDGE_ROLES = ["leader", "duty_lead", "admin", "duty_officer", "handler", "liaison", "dispatcher"]


@bp.post("/escalations/<int:run_id>/acknowledge")
@login_required(roles=ACKNOWLEDGE_ROLES)
def acknowledge(run_id: int) -> Response:
    """Take an escalation on: no further rounds are sent (ledgered on the item). Comes back
    to the page the form was on (``next``), else the leader's dashboard."""
    _, actor = me()
    run = db.session.get(EscalationRun, run_id)
    try:  # as in the API: another department's escalation is not found (audited), not refused
        if run is None:
            raise NotFound(f"escalation {run_id} not found")
        visible_item(db.session(), run.item_type, run.item_id, actor, "acknowledge")
    except DomainError:
        abort(404)
    db.session.rollback()  # the service takes its own locks
    attempt(lambda: escalation.acknowledge(db.session(), run_id, actor, comment=text("comment", max_len=2000)),
            t("flash.done.acknowledge"))
    return back("pages.leader")
