"""gunicorn settings for the web process: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``.

Environment: ``CASEFLOW_BIND`` (127.0.0.1:8000), ``CASEFLOW_WEB_WORKERS`` (one per core),
``CASEFLOW_WEB_THREADS`` (4). With ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory,
cleared before each start: the systemd unit does it), /metrics merges every worker's counters
and a dead worker's live gauges are dropped in ``child_exit``. ``CASEFLOW_LOG_FORMAT=json``
makes the access log JSON lines too. Behind nginx set ``CASEFLOW_PROXY_FIX_HOPS=1`` (the
systemd unit and compose do): the app then reads the client's address and scheme from
X-Forwarded-For/-Proto/-Host (werkzeug ProxyFix) instead of seeing nginx's.
"""
import multiprocessing
import os

bind = os.environ.get("CASEFLOW_BIND", "127.0.0.1:8000")
# Web is stateless: scale workers with cores; threads cover slow clients on a duty desk and the
# time a request waits for the database. One worker per core, not two: on the 2-core bench box
# (PostgreSQL on the same cores) 2 workers x 4 threads spent 10-25% less CPU per request than
# 4 x 4 under the same load (bench/api_load.py --cpu; more processes, more cache misses and
# switches), and a worker's threads already overlap its requests' database waits.
workers = int(os.environ.get("CASEFLOW_WEB_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("CASEFLOW_WEB_THREADS", 4))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = os.environ.get("CASEFLOW_ACCESS_LOG", "-") or None
errorlog = "-"
# Each worker builds its own app, so no database connection is shared across a fork.
preload_app = False
# gunicorn 25+ opens a control socket under ~/.gunicorn; a service user may have no home.
control_socket_disable = True

if os.environ.get("CASEFLOW_LOG_FORMAT", "").lower() == "json":
    # One JSON object per line, same keys as the app's logs (request id from X-Request-Id).
    access_log_format = (
        '{"ts": "%(t)s", "level": "INFO", "logger": "gunicorn.access", "message": "%(r)s", '
        '"status": %(s)s, "bytes": "%(B)s", "duration_us": %(D)s, "remote": "%(h)s", '
        '"request_id": "%({x-request-id}o)s", "actor": null, "item": null}'
    )


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    """Drop a dead worker's multi-process gauge files (counters are kept, as Prometheus expects)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
