"""Render a workflow as SVG (Graphviz) or Mermaid text, through transitions' diagram extension."""
from __future__ import annotations

import shutil
from typing import Any

from .definition import WorkflowDefinition


def graphviz_available() -> bool:
    """True when the ``graphviz`` Python package and the ``dot`` program are both present."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return shutil.which("dot") is not None


def _machine(d: WorkflowDefinition, engine: str, lang: str) -> Any:
    from transitions.extensions.diagrams import GraphMachine

    # GraphMachine(model=None).get_graph() raises: the diagram machine is its own model,
    # built only for drawing, with plain names (no callbacks: nothing runs here).
    states = [{"name": s.name} for s in d.states.values()]
    transitions = []
    for t in d.transitions:
        label = t.trigger if t.dest else f"{t.trigger} (∅)"
        transitions.append({"trigger": label, "source": "*" if "*" in t.sources else list(t.sources),
                            "dest": t.dest or None})
    title = d.title.get(lang, d.name) if d.title else d.name
    # transitions 0.9.3 writes a Mermaid title block without the "title:" key; set it ourselves.
    return GraphMachine(states=states, transitions=transitions, initial=d.initial, auto_transitions=False,
                        graph_engine=engine, title=title if engine == "graphviz" else "",
                        show_conditions=False)


def render(d: WorkflowDefinition, fmt: str = "auto", lang: str = "zh") -> tuple[str, str]:
    """Return ``(format, text)``: ``svg`` when Graphviz is available (or asked), else ``mermaid``."""
    if fmt == "auto":
        fmt = "svg" if graphviz_available() else "mermaid"
    if fmt == "svg":
        graph = _machine(d, "graphviz", lang).get_graph()
        data = graph.draw(None, format="svg", prog="dot")
        return "svg", data.decode("utf-8") if isinstance(data, bytes) else data
    if fmt == "mermaid":
        body = _machine(d, "mermaid", lang).get_graph().draw(None)
        body = body[body.index("stateDiagram-v2"):]  # drop transitions' malformed title block
        title = d.title.get(lang, d.name) if d.title else d.name
        return "mermaid", f"---\ntitle: {title} (v{d.version})\n---\n{body}"
    raise ValueError(f"unknown diagram format {fmt!r} (svg or mermaid)")
