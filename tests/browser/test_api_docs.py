"""Swagger UI at /api/docs renders in Chromium under the page's CSP, with no CDN."""
from __future__ import annotations

import pytest

from .pages import watch_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_swagger_ui_renders_the_api(open_browser, live_server, shot) -> None:  # type: ignore[no-untyped-def]
    page = open_browser()
    problems = watch_problems(page)
    outside: list[str] = []
    page.on("request", lambda req: outside.append(req.url)
            if not req.url.startswith((live_server.base, "data:")) else None)
    page.goto("/api/docs")
    page.wait_for_selector(".opblock-tag-section", timeout=15000)
    assert page.locator(".opblock-summary-path", has_text="/api/cases").count() >= 1
    assert page.locator("button.authorize").is_visible()
    shot(page)
    assert problems == [] and outside == []
