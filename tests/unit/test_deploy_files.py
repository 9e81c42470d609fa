"""deploy/: the compose file, systemd units, gunicorn and nginx configs hang together.

Docker is not available here (no engine), so the compose file is checked by parsing it:
every service it links to exists, the roles are all there, files it mounts exist.
"""
from __future__ import annotations

import configparser
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "compose"


@pytest.fixture(scope="module")
def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((COMPOSE / "docker-compose.yml").read_text())


def _replicas(service: dict) -> int:  # type: ignore[type-arg]
    return int((service.get("deploy") or {}).get("replicas", 1))


def _command(service: dict) -> str:  # type: ignore[type-arg]
    cmd = service.get("command") or []
    return " ".join(cmd) if isinstance(cmd, list) else str(cmd)


def test_compose_has_every_role(compose) -> None:  # type: ignore[no-untyped-def]
    services = compose["services"]
    by_cmd = {name: _command(s) for name, s in services.items()}
    web = [n for n, c in by_cmd.items() if c.startswith("gunicorn")]
    workers = sum(_replicas(services[n]) for n, c in by_cmd.items() if c.startswith("caseflow worker"))
    sweepers = [n for n, c in by_cmd.items() if c.startswith("caseflow sweep")]
    sentinels = [n for n, c in by_cmd.items() if "redis-sentinel" in c]
    assert len(web) >= 2 and workers >= 2 and sweepers
    assert len(sentinels) == 3
    # Workers leave sweeping to the sweeper service.
    assert all("--no-sweeper" in c for c in by_cmd.values() if c.startswith("caseflow worker"))
    assert services["postgres-primary"]["image"].startswith("postgres:")
    assert "wal_level=replica" in _command(services["postgres-primary"])
    assert "nginx" in services and services["nginx"]["image"].startswith("nginx:")


def test_compose_links_point_at_real_services(compose) -> None:  # type: ignore[no-untyped-def]
    services = compose["services"]
    for name, svc in services.items():
        deps = svc.get("depends_on") or []
        for dep in (deps if isinstance(deps, list) else deps.keys()):
            assert dep in services, f"{name} depends on unknown service {dep}"
            assert dep != name
    app_services = [s for s in services.values() if "CASEFLOW_DATABASE_URL" in (s.get("environment") or {})]
    assert len(app_services) >= 5
    for svc in app_services:
        env = svc["environment"]
        host = re.match(r".*@([^:/]+):5432/", env["CASEFLOW_DATABASE_URL"]).group(1)  # type: ignore[union-attr]
        assert host == "postgres-primary"  # writes go to the primary, never the replica
        for node in env["CASEFLOW_REDIS_SENTINELS"].split(","):
            assert node.split(":")[0] in services
    replica = services["postgres-replica"]
    assert replica["environment"]["PRIMARY_HOST"] in services
    assert "--replicaof redis-primary" in _command(services["redis-replica"])
    sentinel_conf = (COMPOSE / "redis" / "sentinel.conf").read_text()
    monitored = re.search(r"sentinel monitor (\S+) (\S+) 6379 (\d)", sentinel_conf)
    assert monitored and monitored.group(2) in services and int(monitored.group(3)) == 2  # quorum of 3
    assert app_services[0]["environment"]["CASEFLOW_REDIS_SENTINEL_MASTER"] == monitored.group(1)
    # nginx's upstreams are the web services.
    upstreams = re.findall(r"server (\S+):8000", (COMPOSE / "nginx" / "caseflow.conf").read_text())
    assert upstreams and all(u in services and _command(services[u]).startswith("gunicorn") for u in upstreams)


def test_compose_mounts_and_build_exist(compose) -> None:  # type: ignore[no-untyped-def]
    for name, svc in compose["services"].items():
        for volume in svc.get("volumes") or []:
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (COMPOSE / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in (compose.get("volumes") or {}), f"{name}: undeclared volume {source}"
        build = svc.get("build")
        if build:
            context = (COMPOSE / build["context"]).resolve()
            assert context == REPO and (context / build["dockerfile"]).is_file()
    dockerfile = (COMPOSE / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for src in shlex.split(line)[1:-1]:
                assert (REPO / src).exists(), f"Dockerfile copies missing {src}"


def test_systemd_units_run_real_commands() -> None:
    from caseflow.cli import main
    from caseflow.cli.worker import sweep_command, worker_command

    units = {p.name: p for p in (DEPLOY / "systemd").iterdir()}
    assert {"caseflow.target", "caseflow-web.service", "caseflow-worker@.service",
            "caseflow-reports-worker.service", "caseflow-sweeper.service"} <= set(units)
    options = {o for p in worker_command.params for o in getattr(p, "opts", [])}
    for name in ("caseflow-web.service", "caseflow-worker@.service", "caseflow-reports-worker.service",
                 "caseflow-sweeper.service"):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(units[name])
        assert parser["Unit"]["PartOf"] == "caseflow.target"
        assert parser["Install"]["WantedBy"] == "caseflow.target"
        argv = shlex.split(parser["Service"]["ExecStart"])
        if argv[0].endswith("/caseflow"):
            command = {"worker": worker_command, "sweep": sweep_command}[argv[1]]
            assert command.name == argv[1] and main is not None
            assert all(a in options for a in argv[2:] if a.startswith("--")) or command is sweep_command
        else:
            assert argv[0].endswith("/gunicorn") and (REPO / argv[2]).is_file()
    assert "caseflow sweep" in units["caseflow-sweeper.service"].read_text()


def _worker_queues(argv: list[str]) -> list[str]:
    """The logical queues a ``caseflow worker`` command line serves (its --queues, or the default)."""
    from caseflow.cli.worker import DEFAULT_WORKER_QUEUES

    spec = argv[argv.index("--queues") + 1] if "--queues" in argv else DEFAULT_WORKER_QUEUES
    return [q.strip() for q in spec.split(",") if q.strip()]


def _exec_start(unit: str) -> list[str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / unit)
    return shlex.split(parser["Service"]["ExecStart"])


def test_reports_have_a_worker_of_their_own(compose) -> None:  # type: ignore[no-untyped-def]
    """Deadline workers never run a report (a yearly one takes about a minute); one worker serves
    only the reports queue, in systemd, compose and the target's notes."""
    deadline_unit = _exec_start("caseflow-worker@.service")
    reports_unit = _exec_start("caseflow-reports-worker.service")
    assert _worker_queues(deadline_unit) == ["deadlines", "default", "notify"]
    assert _worker_queues(reports_unit) == ["reports"] and "--no-sweeper" in reports_unit
    assert "caseflow-reports-worker.service" in (DEPLOY / "systemd" / "caseflow.target").read_text()

    workers = {n: _command(s).split() for n, s in compose["services"].items()
               if _command(s).startswith("caseflow worker")}
    serving = {n: _worker_queues(argv) for n, argv in workers.items()}
    assert [n for n, q in serving.items() if "reports" in q] == ["reports-worker"]
    assert serving["reports-worker"] == ["reports"]
    assert all("deadlines" in q and "reports" not in q for n, q in serving.items() if n != "reports-worker")
    assert "caseflow-reports-worker" in (DEPLOY / "README.md").read_text()


def test_gunicorn_config_loads() -> None:
    from gunicorn.config import Config

    cfg = Config()
    namespace: dict = {}  # type: ignore[type-arg]
    exec(compile((DEPLOY / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    for key, value in namespace.items():
        if key in cfg.settings:
            cfg.set(key, value)
    assert cfg.workers >= 1 and cfg.preload_app is False and callable(cfg.child_exit)


def test_nginx_body_limit_matches_uploads() -> None:
    from caseflow.api.attachments import FORM_OVERHEAD
    from caseflow.config import DefaultConfig

    text = (DEPLOY / "nginx" / "caseflow.conf").read_text()
    size = re.search(r"client_max_body_size (\d+)m;", text)
    assert size and int(size.group(1)) * 1024 * 1024 >= DefaultConfig.UPLOAD_MAX_BYTES + FORM_OVERHEAD
    assert "X-Forwarded-Proto" in text and "ssl_certificate" in text and "X-Request-Id" in text


@pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
                    reason="nginx not installed")
def test_nginx_example_passes_nginx_t(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`nginx -t` on the example with a throwaway certificate (paths rewritten into tmp)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=t",
                    "-keyout", str(tmp_path / "k.pem"), "-out", str(tmp_path / "c.pem")],
                   check=True, capture_output=True)
    site = (DEPLOY / "nginx" / "caseflow.conf").read_text()
    site = site.replace("/etc/nginx/tls/caseflow.crt", str(tmp_path / "c.pem"))
    site = site.replace("/etc/nginx/tls/caseflow.key", str(tmp_path / "k.pem"))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log; events {{}}\n"
        f"http {{ access_log off; client_body_temp_path {tmp_path}; include {tmp_path}/site.conf; }}\n")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    out = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
