"""Console sessions expire: a sign-in makes a permanent session that lives ``PERMANENT_SESSION_LIFETIME``
(8 hours by default) from its last use. A session cookie older than that is refused by the server
(the signed timestamp inside it is checked, whatever the browser does with ``Expires``): the pages
send the person back to sign in and the API answers 401. A session in use is renewed on each request.

The clock is moved by patching the signer's timestamp (itsdangerous), the one clock the session checks."""
from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from itsdangerous.timed import TimestampSigner

from caseflow.security.passwords import hash_password
from caseflow.web import throttle

PASSWORD = "correct-horse"


@pytest.fixture
def web(client, session, world) -> Iterator:  # type: ignore[no-untyped-def]
    """A client from its own address, signed in as the dispatcher through the sign-in form."""
    world.people["dispatcher"].password_hash = hash_password(PASSWORD)
    session.commit()
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    client.environ_base["REMOTE_ADDR"] = address
    r = client.post("/login", data={"username": "dispatcher", "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/dispatch"
    client.login_response = r
    yield client
    throttle.clear("dispatcher", address)


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """From now on the session's clock reads ``seconds`` later than the real one."""
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) + int(seconds))


def test_the_session_cookie_is_permanent_for_the_configured_lifetime(app, web) -> None:  # type: ignore[no-untyped-def]
    lifetime = app.permanent_session_lifetime
    assert lifetime == timedelta(hours=8)
    cookie = next(h for h in web.login_response.headers.getlist("Set-Cookie") if h.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    expires = parsedate_to_datetime(cookie.split("Expires=", 1)[1].split(";", 1)[0])
    assert abs((expires - datetime.now(timezone.utc)) - lifetime) < timedelta(minutes=1)


def test_an_expired_session_is_refused(app, web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lifetime = app.permanent_session_lifetime.total_seconds()
    assert web.get("/dispatch").status_code == 200
    later(monkeypatch, lifetime + 60)
    r = web.get("/dispatch")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/dispatch")
    assert web.get("/api/cases").status_code == 401  # the API reads the same session
    page = web.get("/login").get_data(as_text=True)
    assert 'name="password"' in page  # the sign-in form, not a redirect to the landing page


def test_a_session_within_its_lifetime_is_kept_and_renewed(app, web, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    lifetime = app.permanent_session_lifetime.total_seconds()
    later(monkeypatch, lifetime - 60)
    assert web.get("/dispatch").status_code == 200  # still within its lifetime; the cookie is signed anew
    monkeypatch.undo()
    later(monkeypatch, 2 * lifetime - 120)  # 8 hours after that last use, less a minute
    assert web.get("/dispatch").status_code == 200
    monkeypatch.undo()
    later(monkeypatch, 3 * lifetime)  # idle for longer than the lifetime since
    assert web.get("/dispatch").status_code == 302
