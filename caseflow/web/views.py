"""Console pages."""
from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console-static")


@bp.get("/")
def index() -> str:
    """The landing page."""
    return render_template("index.html")
