"""PROXY_FIX_HOPS: behind nginx the app sees the client's address and scheme (X-Forwarded-*);
with 0 it trusts no such header. The sign-in throttle keys by that address."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, request

from caseflow import create_app
from caseflow.security.passwords import hash_password
from caseflow.web import throttle

PASSWORD = "correct-horse"
NGINX = "10.9.8.7"  # the peer gunicorn sees: the proxy


def _probe(app: Flask) -> None:
    @app.get("/_test/whoami")
    def whoami() -> dict[str, Any]:
        return {"addr": request.remote_addr, "scheme": request.scheme, "host": request.host,
                "root": request.script_root}


@pytest.fixture
def proxied(app_config: dict[str, Any], app_ctx: Flask) -> Iterator[Flask]:
    """A second app on the same database and Redis, configured for one proxy hop."""
    behind = create_app({**app_config, "PROXY_FIX_HOPS": 1})
    _probe(behind)
    yield behind
    behind.extensions["caseflow.engine"].dispose()


@pytest.fixture
def people(session, world):  # type: ignore[no-untyped-def]
    world.people["liaison"].password_hash = hash_password(PASSWORD)
    session.commit()
    return world.people


def _client_ip() -> str:
    return f"203.0.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"


def _headers(forwarded_for: str) -> dict[str, str]:
    return {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "caseflow.example",
            "X-Forwarded-Prefix": "/cf"}


def test_one_hop_takes_address_scheme_host_from_the_proxy(proxied) -> None:  # type: ignore[no-untyped-def]
    client = proxied.test_client()
    client.environ_base["REMOTE_ADDR"] = NGINX
    # nginx appends the address it saw to whatever the client sent: only that last entry counts.
    seen = client.get("/_test/whoami", headers=_headers("6.6.6.6, 198.51.100.4")).json
    assert seen == {"addr": "198.51.100.4", "scheme": "https", "host": "caseflow.example", "root": "/cf"}
    # No headers (someone on the internal network): the peer's address.
    assert client.get("/_test/whoami").json["addr"] == NGINX


def test_default_trusts_no_forwarded_header(app_config) -> None:  # type: ignore[no-untyped-def]
    direct = create_app(dict(app_config))
    assert direct.config["PROXY_FIX_HOPS"] == 0
    _probe(direct)
    try:
        client = direct.test_client()
        client.environ_base["REMOTE_ADDR"] = NGINX
        seen = client.get("/_test/whoami", headers=_headers("198.51.100.4")).json
        assert seen == {"addr": NGINX, "scheme": "http", "host": "localhost", "root": ""}
    finally:
        direct.extensions["caseflow.engine"].dispose()


@pytest.mark.parametrize("raw", ["two", -1])
def test_bad_hops_refuse_to_start(app_config, raw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="PROXY_FIX_HOPS"):
        create_app({**app_config, "PROXY_FIX_HOPS": raw})


def _fail_until_throttled(client, forwarded_for: str, limit: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(limit):
        r = client.post("/login", data={"username": "liaison", "password": "wrong"},
                        headers={"X-Forwarded-For": forwarded_for})
        assert r.status_code == 401


def test_throttle_counts_per_client_behind_the_proxy(proxied, people) -> None:  # type: ignore[no-untyped-def]
    client = proxied.test_client()
    client.environ_base["REMOTE_ADDR"] = NGINX
    limit = int(proxied.config["LOGIN_MAX_FAILURES"])
    guesser, colleague = _client_ip(), _client_ip()
    try:
        _fail_until_throttled(client, guesser, limit)
        r = client.post("/login", data={"username": "liaison", "password": PASSWORD},
                        headers={"X-Forwarded-For": guesser})
        assert r.status_code == 429
        # A client-made first entry changes nothing: nginx's last entry is the address.
        r = client.post("/login", data={"username": "liaison", "password": PASSWORD},
                        headers={"X-Forwarded-For": f"{colleague}, {guesser}"})
        assert r.status_code == 429
        # Another desk behind the same nginx still signs in.
        r = client.post("/login", data={"username": "liaison", "password": PASSWORD},
                        headers={"X-Forwarded-For": colleague})
        assert r.status_code == 302
    finally:
        with proxied.app_context():
            for address in (guesser, colleague, NGINX):
                throttle.clear("liaison", address)


def test_without_proxy_fix_every_client_shares_the_proxys_count(client, people) -> None:  # type: ignore[no-untyped-def]
    peer = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    client.environ_base["REMOTE_ADDR"] = peer
    limit = int(client.application.config["LOGIN_MAX_FAILURES"])
    try:
        _fail_until_throttled(client, _client_ip(), limit)
        # The header is not believed: a "different" client is the same peer, and throttled.
        r = client.post("/login", data={"username": "liaison", "password": PASSWORD},
                        headers={"X-Forwarded-For": _client_ip()})
        assert r.status_code == 429
    finally:
        throttle.clear("liaison", peer)
