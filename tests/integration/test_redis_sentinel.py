"""REDIS_SENTINELS: the app finds the Redis master through real Sentinel processes."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.support.servers import HOST, RedisServer, find_redis_server, free_port

pytestmark = pytest.mark.skipif(find_redis_server() is None, reason="no redis-server binary")


def start_sentinel(tmp_path, master_port: int):  # type: ignore[no-untyped-def]
    port = free_port()
    conf = tmp_path / f"sentinel-{port}.conf"
    conf.write_text(f"port {port}\nbind {HOST}\ndir {tmp_path}\n"
                    f"sentinel monitor caseflow {HOST} {master_port} 1\n")
    proc = subprocess.Popen([find_redis_server(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import redis

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if redis.Redis(host=HOST, port=port).ping():
                return proc, port
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise RuntimeError("sentinel did not start")


def test_app_talks_to_the_master_named_by_sentinel(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from rq import Queue, SimpleWorker

    from caseflow import create_app
    from caseflow.extensions import get_redis

    with RedisServer() as master:
        procs = []
        try:
            procs = [start_sentinel(tmp_path, master.port) for _ in range(2)]
            nodes = ",".join(f"{HOST}:{port}" for _, port in procs)
            app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/s.sqlite3",
                              "REDIS_URL": "redis://127.0.0.1:1/0",  # unused: Sentinel wins
                              "REDIS_SENTINELS": nodes, "REDIS_SENTINEL_MASTER": "caseflow"})
            conn = get_redis(app)
            conn.set("caseflow:sentinel-probe", "yes")
            with master.client() as direct:
                assert direct.get("caseflow:sentinel-probe") == b"yes"
            # RQ works over the Sentinel-managed connection.
            queue = Queue("sentinel-q", connection=conn)
            job = queue.enqueue("operator.add", 2, 3)
            SimpleWorker([queue], connection=conn).work(burst=True)
            assert job.fetch(job.id, connection=conn).return_value() == 5
        finally:
            for proc, _ in procs:
                proc.terminate()
                proc.wait(10)
