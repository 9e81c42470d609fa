"""Browser tests: the app under a real HTTP server, driven by Debian's Chromium through Playwright.

The server is werkzeug's, in a thread, on an ephemeral port, serving the suite's app with CSRF
switched ON (the suite's app has it off for brevity). Data is the test street of
``tests/factories.py`` with a password for everybody. Playwright's own browser downloads are
never used: Chromium is launched from /usr/bin/chromium (CI installs it with apt). Each test
saves screenshots under ``test-artifacts/screenshots/``.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .pages import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without Chromium the browser tests are skipped, saying why; in CI (``CI=true``), which
    installs it, a missing Chromium fails the run instead of passing it without them."""
    if os.path.exists(CHROMIUM):
        return
    if os.environ.get("CI", "").lower() == "true":
        raise pytest.UsageError(f"{CHROMIUM} is missing in CI: .ci/run should have installed it")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


class LiveServer:
    """The app served over HTTP in a thread; ``url(path)`` builds addresses on it."""

    def __init__(self, app: Any) -> None:
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=False)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)

    def url(self, path: str) -> str:
        """The absolute address of ``path``."""
        return self.base + path

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def people(session, world):  # type: ignore[no-untyped-def]
    """Everybody in the test street can sign in with PASSWORD (set by the people service)."""
    from caseflow.services.people import set_password

    for person in world.people.values():
        set_password(session, person, PASSWORD, commit=False)
    session.commit()
    return world.people


@pytest.fixture
def live_server(app, session, people, monkeypatch) -> Iterator[LiveServer]:  # type: ignore[no-untyped-def]
    """The suite's app on an ephemeral port, CSRF on, throttle counters of 127.0.0.1 cleared after."""
    from caseflow.web import throttle

    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    session.commit()  # the server's thread has its own session: leave nothing open here
    with LiveServer(app) as server:
        yield server
    for username in people:
        throttle.clear(username, "127.0.0.1")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium under Playwright (one browser for the run; a context per test)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Shots:
    """Saves ``test-artifacts/screenshots/<test>.png`` (and ``<test>-<step>.png`` for more pages)."""

    def __init__(self, test_name: str) -> None:
        self.name = test_name
        self.taken: list[Path] = []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, page: Any, step: str = "") -> Path:
        path = SCREENSHOTS / (f"{self.name}-{step}.png" if step else f"{self.name}.png")
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    """Screenshot saver named after the test."""
    return Shots(request.node.name)


@pytest.fixture
def open_browser(chromium, live_server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """``open_browser(viewport=...)`` gives a fresh context's page; every context is closed after."""
    contexts: list[Any] = []

    def _open(viewport: dict[str, int] | None = None, **kw: Any) -> Any:
        ctx = chromium.new_context(viewport=viewport or DESK, locale="zh-CN", base_url=live_server.base, **kw)
        ctx.set_default_timeout(15000)
        contexts.append(ctx)
        return ctx.new_page()

    yield _open
    for ctx in contexts:
        ctx.close()
