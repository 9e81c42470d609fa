"""Liveness and readiness."""
from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from caseflow.extensions import db, get_redis

blp = Blueprint("health", __name__, url_prefix="/api", description="Health and readiness")


@blp.route("/health")
class Health(MethodView):
    @blp.response(200)
    def get(self) -> dict[str, Any]:
        """The process is up."""
        return {"status": "ok"}


@blp.route("/ready")
class Ready(MethodView):
    @blp.response(200)
    @blp.alt_response(503, description="A dependency is down")
    def get(self) -> Any:
        """The database and Redis both answer; with ``?deep=1`` also a live RQ worker.

        The deep check wants at least one worker serving the deadline queue whose heartbeat
        is fresher than ``READY_WORKER_STALE_S`` (default ``WORKER_TTL_S`` + 10 s).
        """
        checks: dict[str, str] = {}
        try:
            db.session.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:  # readiness reports, it does not raise
            checks["database"] = f"error: {exc.__class__.__name__}"
        try:
            get_redis().ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc.__class__.__name__}"
        body: dict[str, Any] = {"checks": checks}
        if request.args.get("deep") in ("1", "true", "yes"):
            checks["workers"], body["workers_alive"] = _worker_check()
        ok = all(v == "ok" for v in checks.values())
        return {"status": "ok" if ok else "unavailable", **body}, (200 if ok else 503)


def _worker_check() -> tuple[str, int]:
    """("ok", n) when a worker on the deadline queue has a fresh heartbeat, else why not."""
    from datetime import datetime, timezone

    from rq import Worker

    try:
        cfg = current_app.config
        stale_s = float(cfg.get("READY_WORKER_STALE_S") or float(cfg.get("WORKER_TTL_S", 20)) + 10)
        now = datetime.now(timezone.utc)
        fresh = 0
        for worker in Worker.all(connection=get_redis()):
            beat = worker.last_heartbeat
            if beat is None:
                continue
            if beat.tzinfo is None:  # rq stores UTC without an offset
                beat = beat.replace(tzinfo=timezone.utc)
            if (now - beat).total_seconds() <= stale_s and cfg["DEADLINE_QUEUE"] in worker.queue_names():
                fresh += 1
    except Exception as exc:
        return f"error: {exc.__class__.__name__}", 0
    return ("ok" if fresh else "error: no live worker on the deadline queue"), fresh
