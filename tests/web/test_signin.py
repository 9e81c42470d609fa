"""Console sign-in: passwords, sessions, throttling, landing pages, role guards, CSRF, headers."""
from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import select

from caseflow.models import AccessDenial, Case, Instruction, utcnow
from caseflow.security.passwords import hash_password
from caseflow.services import transition
from caseflow.web import throttle

PASSWORD = "correct-horse"

LANDINGS = {
    "liaison": "/liaison",
    "dispatcher": "/dispatch",
    "san_handler": "/handler",
    "duty_lead": "/duty",
    "duty_officer": "/duty",
    "deputy": "/leader",
    "admin": "/admin",
}


@pytest.fixture
def people(session, world):  # type: ignore[no-untyped-def]
    """The world's people, all with PASSWORD (one hash: argon2 is slow on purpose)."""
    h = hash_password(PASSWORD)
    for p in world.people.values():
        p.password_hash = h
    session.commit()
    return world.people


@pytest.fixture
def web(client):  # type: ignore[no-untyped-def]
    """A client from its own random address, so throttle counters never meet another test's."""
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{secrets.randbelow(250) + 1}"
    client.environ_base["REMOTE_ADDR"] = address
    yield client
    for username in ("liaison", "nobody", "dispatcher"):
        throttle.clear(username, address)


def sign_in(client, username: str, password: str = PASSWORD, **kw):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password}, **kw)


def test_each_role_lands_on_its_page(web, people) -> None:  # type: ignore[no-untyped-def]
    for username, page in LANDINGS.items():
        r = sign_in(web, username)
        assert r.status_code == 302, (username, r.status_code)
        assert r.headers["Location"] == page, username
        r = web.get(page)
        assert r.status_code == 200, (username, page)
        assert people[username].full_name in r.get_data(as_text=True)
        web.post("/logout")


def test_wrong_password_and_unknown_user_are_refused_alike(web, people) -> None:  # type: ignore[no-untyped-def]
    r = sign_in(web, "liaison", "wrong-password")
    assert r.status_code == 401
    assert "用户名或密码错误" in r.get_data(as_text=True)
    r2 = sign_in(web, "nobody", "wrong-password")
    assert r2.status_code == 401 and "用户名或密码错误" in r2.get_data(as_text=True)
    with web.session_transaction() as s:
        assert "person_id" not in s
    assert web.get("/liaison").status_code == 302  # still signed out


def test_logout_ends_the_session(web, people) -> None:  # type: ignore[no-untyped-def]
    assert sign_in(web, "liaison").status_code == 302
    assert web.get("/liaison").status_code == 200
    r = web.post("/logout")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = web.get("/liaison")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/liaison")
    assert web.get("/logout").status_code == 405  # a link cannot sign anyone out


def test_sign_in_starts_a_fresh_session(web, people) -> None:  # type: ignore[no-untyped-def]
    with web.session_transaction() as s:
        s["planted"] = "by an attacker"
        s["lang"] = "en"
    sign_in(web, "dispatcher")
    with web.session_transaction() as s:
        assert "planted" not in s
        assert s["person_id"] == people["dispatcher"].id
        assert s["lang"] == "en"  # the language choice survives
        assert s.permanent


def test_next_goes_back_but_never_off_site(web, people) -> None:  # type: ignore[no-untyped-def]
    r = web.get("/leader")
    assert r.headers["Location"] == "/login?next=/leader"
    r = sign_in(web, "deputy", query_string={"next": "/leader"})
    assert r.headers["Location"] == "/leader"
    web.post("/logout")
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = sign_in(web, "deputy", query_string={"next": evil})
        assert r.headers["Location"] == "/leader", evil
        web.post("/logout")


def test_five_failures_lock_the_pair_out_with_429(web, people) -> None:  # type: ignore[no-untyped-def]
    for _ in range(5):
        assert sign_in(web, "liaison", "wrong-password").status_code == 401
    # Now even the right password is refused, for this username from this address.
    r = sign_in(web, "liaison")
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in r.get_data(as_text=True)
    with web.session_transaction() as s:
        assert "person_id" not in s
    # Another user from the same address is not affected.
    assert sign_in(web, "dispatcher").status_code == 302


def test_success_clears_the_failure_count(web, people) -> None:  # type: ignore[no-untyped-def]
    for _ in range(4):
        sign_in(web, "liaison", "wrong-password")
    assert sign_in(web, "liaison").status_code == 302
    web.post("/logout")
    for _ in range(4):
        assert sign_in(web, "liaison", "wrong-password").status_code == 401
    assert sign_in(web, "liaison").status_code == 302


def test_another_roles_page_is_403_and_audited(web, session, people) -> None:  # type: ignore[no-untyped-def]
    sign_in(web, "san_handler")
    for page in ("/liaison", "/dispatch", "/duty", "/leader", "/admin"):
        r = web.get(page)
        assert r.status_code == 403, page
        assert "无权访问" in r.get_data(as_text=True)
    denials = session.execute(select(AccessDenial).where(AccessDenial.person_id == people["san_handler"].id)).scalars()
    assert {d.target for d in denials} == {"/liaison", "/dispatch", "/duty", "/leader", "/admin"}


def test_security_headers_and_cookie_flags(web, people) -> None:  # type: ignore[no-untyped-def]
    r = web.get("/login")
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = sign_in(web, "admin")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    r = web.get("/admin")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "<script" not in r.get_data(as_text=True)  # nothing inline for the CSP to block


def test_front_page_links_to_sign_in_then_to_own_pages(web, people) -> None:  # type: ignore[no-untyped-def]
    assert 'href="/login"' in web.get("/").get_data(as_text=True)
    sign_in(web, "dispatcher")
    body = web.get("/").get_data(as_text=True)
    assert 'href="/dispatch"' in body and 'href="/admin"' not in body


def test_language_switch(web, people) -> None:  # type: ignore[no-untyped-def]
    assert "用户名" in web.get("/login").get_data(as_text=True)
    body = web.get("/login?lang=en").get_data(as_text=True)
    assert "Username" in body and "用户名" not in body
    assert "Username" in web.get("/login").get_data(as_text=True)  # remembered in the session
    assert "用户名" in web.get("/login?lang=zh").get_data(as_text=True)


def test_handler_page_shows_only_own_department(web, session, catalog, people, world) -> None:  # type: ignore[no-untyped-def]
    numbers = {}
    for dept, number in ((world.sanitation, "AJ-SAN-1"), (world.roads, "AJ-ROAD-1")):
        case = Case(number=number, channel="patrol", tier="simple", title="t", center_id=world.street.id,
                    department_id=dept.id, reported_at=utcnow())
        transition.start(session, catalog, case, workflow="case_simple", actor=world.actor("dispatcher"),
                         role="dispatcher")
        numbers[dept.code] = number
    sign_in(web, "san_handler")
    body = web.get("/handler").get_data(as_text=True)
    assert numbers["SAN"] in body and numbers["ROAD"] not in body


def test_liaison_board_shows_time_left_to_arrival(web, session, catalog, people, world) -> None:  # type: ignore[no-untyped-def]
    ins = Instruction(number="ZL-BOARD-1", received_at=utcnow(), category_id=world.cat_garbage.id,
                      area_kind="main_urban")
    transition.start(session, catalog, ins, workflow="instruction", actor=world.actor("liaison"), role="liaison")
    transition.fire(session, catalog, "instruction", ins.id, "sign", actor=world.actor("liaison"))
    transition.fire(session, catalog, "instruction", ins.id, "dispatch", actor=world.actor("liaison"),
                    data={"department_id": world.sanitation.id})
    sign_in(web, "liaison")
    body = web.get("/liaison").get_data(as_text=True)
    row = body[body.index("ZL-BOARD-1"):]
    row = row[:row.index("</tr>")]
    assert "已派遣" in row
    minutes = re.search(r"risk-(ok|soon)\">(\d+) 分", row)
    assert minutes is not None and 25 <= int(minutes.group(2)) <= 30  # 30 minutes in the main urban area


def test_csrf_is_enforced_when_enabled(app, web, session, people, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The suite's app turns CSRF off for brevity; switch it on here. (A second create_app would
    # rebind the process-wide database handle under the other tests.)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    r = sign_in(web, "liaison")
    assert r.status_code == 400  # no token
    with web.session_transaction() as s:
        assert "person_id" not in s
    page = web.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    r = web.post("/login", data={"username": "liaison", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"] == "/liaison"
    # Sign-out needs the token too.
    assert web.post("/logout").status_code == 400
    assert web.get("/liaison").status_code == 200
    # An API call riding on the session cookie needs it; one with a bearer token does not.
    r = web.post("/api/items/case/1/transitions", json={"trigger": "register"})
    assert r.status_code == 400 and "CSRF" in r.json["message"]
    r = web.post("/api/items/case/1/transitions", json={"trigger": "register"},
                 headers={"Authorization": "Bearer cf_unknown"})
    assert r.status_code == 401  # reached the API's own authentication
    # Sign-in cleared the session, and with it the token of the sign-in form: pages carry a new one.
    assert web.post("/logout", data={"csrf_token": token}).status_code == 400
    page = web.get("/liaison").get_data(as_text=True)
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert web.post("/logout", data={"csrf_token": fresh}).status_code == 302
    assert web.get("/liaison").status_code == 302
