"""The printable handover record under the console's CSP: its stylesheet and print button are
static files, so Chromium applies them (inline ones would be refused)."""
from __future__ import annotations

import pytest

from caseflow.services import transition
from caseflow.services.duty import handover as hs
from tests.integration.duty_support import lead_actor, plan

from .pages import sign_in, watch_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_print_stylesheet_applies_and_button_prints(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    h = hs.open_handover(session, catalog, shifts[0].id, actor=lead_actor(world, shifts[0]))
    session.commit()

    page = open_browser()
    problems = watch_problems(page)
    sign_in(page, "duty_lead")
    page.goto(f"/duty/watch/handovers/{h.id}/print")
    button = page.locator("#print-button")
    assert button.is_visible()  # shown by the static script
    # Screen media: the stylesheet's table borders apply, the button shows.
    assert page.eval_on_selector(".facts", "t => getComputedStyle(t).borderCollapse") == "collapse"
    assert page.eval_on_selector("p.draft", "p => getComputedStyle(p).fontWeight") == "700"
    shot(page)
    # The button calls window.print() through the static listener.
    page.evaluate("() => { window.__printed = 0; window.print = () => { window.__printed += 1; }; }")
    button.click()
    assert page.evaluate("window.__printed") == 1
    # Print media: the @media print rules hide the button row and drop the body margin.
    page.emulate_media(media="print")
    assert page.eval_on_selector("p.no-print", "p => getComputedStyle(p).display") == "none"
    assert page.eval_on_selector("body", "b => getComputedStyle(b).marginTop") == "0px"
    assert problems == []
