"""The reference figure: ``pgbench -N -c 2 -T 20`` transactions per second on the same server.

Creates its own database ``pgbench_<random>``, initialises it (scale 10), runs the simple-update
(-N) script with 2 clients for 20 s, drops the database, returns the tps.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess

from sqlalchemy import text
from sqlalchemy.engine import make_url


def pgbench_tps(server_url: str, *, clients: int = 2, seconds: int = 20, scale: int = 10) -> float | None:
    """tps of ``pgbench -N -c clients -T seconds`` (None when pgbench is not installed)."""
    exe = shutil.which("pgbench")
    if exe is None:
        return None
    from caseflow.extensions import make_engine

    url = make_url(server_url)
    name = f"pgbench_{secrets.token_hex(4)}"
    admin = make_engine(server_url, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    env = {**os.environ}
    if url.password:
        env["PGPASSWORD"] = url.password
    conn_args = ["-h", url.host or "127.0.0.1", "-p", str(url.port or 5432), "-U", url.username or "postgres"]
    try:
        subprocess.run([exe, "-i", "-q", "-s", str(scale), *conn_args, name], env=env, check=True,
                       capture_output=True, timeout=300)
        out = subprocess.run([exe, "-N", "-c", str(clients), "-T", str(seconds), *conn_args, name], env=env,
                             check=True, capture_output=True, text=True, timeout=seconds + 120).stdout
    finally:
        with admin.connect() as conn:  # ours: created above
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    match = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)", out)
    return float(match.group(1)) if match else None
