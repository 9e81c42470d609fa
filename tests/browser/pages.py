"""Steps every browser test takes: sign in and out through the real forms."""
from __future__ import annotations

from typing import Any

PASSWORD = "browser-pass-1"


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """Sign in through the form (with its CSRF token) and wait for the landing page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert "/login" not in page.url, f"{username} could not sign in: {page.content()[:500]}"


def sign_out(page: Any) -> None:
    """Sign out with the top bar's button (a CSRF-protected POST)."""
    with page.expect_navigation():
        page.click("header form button[type=submit]")
    assert "/login" in page.url


def watch_problems(page: Any) -> list[str]:
    """Collect script errors, CSP refusals (console errors) and failed loads (favicon aside)."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    return problems
