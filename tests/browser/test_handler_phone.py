"""A handler on a phone-sized screen opens their work and reports a result with a photo."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from caseflow.models import Attachment, Case, LedgerEntry
from caseflow.services.cases import handling, intake, review

from .conftest import PHONE
from .pages import sign_in, watch_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# A 2x2 red PNG, as a phone camera would hand over (much smaller).
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==")


def dispatched_case(session, catalog, world, title: str = "人行道暴露垃圾") -> Case:  # type: ignore[no-untyped-def]
    """A garbage case reported, registered and dispatched to sanitation."""
    dispatcher = world.actor("dispatcher")
    case, _ = intake.report(session, catalog, channel="patrol", actor=dispatcher, title=title,
                            category_code="garbage", grid_id=world.grid_main.id, address="一号路 12 号门口",
                            description="三袋生活垃圾堆在人行道上")
    review.register(session, catalog, case.id, actor=dispatcher)
    handling.dispatch(session, catalog, case.id, actor=dispatcher, department_id=world.sanitation.id)
    return case


def test_handler_reports_a_result_with_a_photo_from_a_phone(open_browser, session, catalog, world, shot) -> None:  # type: ignore[no-untyped-def]
    case = dispatched_case(session, catalog, world)
    session.commit()
    page = open_browser(viewport=PHONE, is_mobile=True, has_touch=True)
    problems = watch_problems(page)
    sign_in(page, "san_handler")
    assert page.url.endswith("/handler")
    card = page.locator(f'#cases li[data-number="{case.number}"]')
    assert "人行道暴露垃圾" in card.inner_text()
    # Nothing wider than the phone: no sideways scrolling.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "list")

    with page.expect_navigation():
        card.locator("a.button").click()
    button = page.locator('[data-action="sign"]')
    assert button.bounding_box()["height"] >= 44  # a button a thumb can hit
    with page.expect_navigation():
        button.click()
    assert "已签收" in page.locator(".flash.ok").inner_text()
    assert page.locator("#state").inner_text() == "处置中"

    photo = page.locator('#result-form input[type=file][name=photo]')
    assert photo.get_attribute("accept") == "image/*" and photo.get_attribute("capture") == "environment"
    page.fill('#result-form textarea[name=result]', "垃圾已清运，路面已冲洗")
    photo.set_input_files({"name": "site.png", "mimeType": "image/png", "buffer": PNG})
    shot(page, "form")
    with page.expect_navigation():
        page.click('#result-form [data-action="result"]')
    assert "处置结果已提交" in page.locator(".flash.ok").inner_text()
    assert page.locator("#state").inner_text() == "待核查"
    # The photo is shown back from the attachments API on the session cookie.
    img = page.locator("#evidence img")
    img.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth", img.element_handle()) == 2
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page)

    assert problems == []  # nothing refused by the CSP, no script errors
    session.expire_all()
    assert session.get(Case, case.id).state == "checking"
    attachment = session.execute(select(Attachment).where(Attachment.item_type == "case",
                                                          Attachment.item_id == case.id)).scalar_one()
    assert attachment.kind == "photo" and attachment.uploaded_by_id == world.people["san_handler"].id
    report = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "case", LedgerEntry.item_id == case.id,
                                                       LedgerEntry.trigger == "report_result")).scalar_one()
    assert report.payload["evidence_refs"] == [f"attachment:{attachment.id}"]
