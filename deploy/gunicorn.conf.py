"""gunicorn settings for the web process: ``gunicorn -c deploy/gunicorn.conf.py wsgi:app``."""
import multiprocessing
import os

bind = os.environ.get("CASEFLOW_BIND", "127.0.0.1:8000")
# Web is stateless: scale workers with cores; threads cover slow clients on a duty desk.
workers = int(os.environ.get("CASEFLOW_WEB_WORKERS", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("CASEFLOW_WEB_THREADS", 4))
timeout = 30
graceful_timeout = 20
keepalive = 5
accesslog = "-"
errorlog = "-"
# Each worker builds its own app, so no database connection is shared across a fork.
preload_app = False
