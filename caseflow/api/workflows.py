"""The loaded workflow definitions and their diagrams."""
from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from caseflow.errors import NotFound
from caseflow.workflow.diagram import render
from caseflow.workflow.engine import get_catalog

from .auth import current_actor

blp = Blueprint("workflows", __name__, url_prefix="/api/workflows", description="Workflow definitions")


@blp.route("")
class WorkflowList(MethodView):
    @blp.response(200)
    def get(self) -> list[dict[str, Any]]:
        """Every loaded (workflow, version) with its states and triggers."""
        current_actor()
        return [
            {"name": d.name, "version": d.version, "item": d.item, "title": d.title, "initial": d.initial,
             "states": [{"name": s.name, "label": s.label, "final": s.final} for s in d.states.values()],
             "triggers": sorted({t.trigger for t in d.transitions})}
            for d in get_catalog().all()
        ]


@blp.route("/<string:name>/<int:version>/diagram")
class WorkflowDiagram(MethodView):
    @blp.response(200, content_type="text/plain")
    def get(self, name: str, version: int) -> Response:
        """The state diagram as SVG (Graphviz present) or Mermaid text."""
        current_actor()
        try:
            d = get_catalog().definition(name, version)
        except KeyError:
            raise NotFound(f"no workflow {name} version {version}") from None
        kind, text = render(d)
        return Response(text, mimetype="image/svg+xml" if kind == "svg" else "text/plain")
