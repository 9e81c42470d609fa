"""A patrol inspector on a 375-pixel phone reports a problem with a photo, sees it waiting for
review in their list, and adds another photo to it; nothing is wider than the screen."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import select

from caseflow.models import Attachment, Case

from .pages import sign_in, watch_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SMALL_PHONE = {"width": 375, "height": 667}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP4z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==")


def no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth") <= SMALL_PHONE["width"]


def test_patrol_reports_and_adds_a_photo_from_a_small_phone(open_browser, session, world, shot) -> None:  # type: ignore[no-untyped-def]
    page = open_browser(viewport=SMALL_PHONE, is_mobile=True, has_touch=True)
    problems = watch_problems(page)
    sign_in(page, "san_handler")
    with page.expect_navigation():
        page.click('header nav a[href="/patrol/"]')
    assert page.locator("h1").inner_text() == "巡查上报"
    form = page.locator("#report-form")
    assert form.is_visible()  # nothing reported yet: the form is open
    no_sideways_scroll(page)
    shot(page, "form")

    form.locator('input[name="title"]').fill("人行道井盖缺失")
    form.locator('select[name="category_id"]').select_option(label="道路破损")
    form.locator('select[name="grid_id"]').select_option(label="一号网格")
    form.locator('input[name="address"]').fill("和平路 8 号")
    form.locator('textarea[name="description"]').fill("井口无遮挡，行人易跌落")
    photo = form.locator('input[type=file][name=photo]')
    assert photo.get_attribute("capture") == "environment"
    photo.set_input_files({"name": "site.png", "mimeType": "image/png", "buffer": PNG})
    submit = form.locator('[data-action="report"]')
    assert submit.bounding_box()["height"] >= 44  # a button a thumb can hit
    with page.expect_navigation():
        submit.click()
    assert "已上报，等待受理" in page.locator(".flash.ok").inner_text()
    assert page.locator("#state").inner_text() == "待审核"
    img = page.locator("#photos img")
    img.wait_for()
    assert page.evaluate("img => img.complete && img.naturalWidth", img.element_handle()) == 2
    no_sideways_scroll(page)
    shot(page, "case")

    photo = page.locator('#photo-form input[type=file][name=photo]')
    photo.set_input_files({"name": "more.png", "mimeType": "image/png", "buffer": PNG})
    with page.expect_navigation():
        page.click('#photo-form [data-action="add-photos"]')
    assert "照片已补充" in page.locator(".flash.ok").inner_text()
    assert page.locator("#photos img").count() == 2

    with page.expect_navigation():
        page.click(f'a[href="/patrol/"] >> nth=-1')
    card = page.locator("#my-cases li.work-card").first
    assert "人行道井盖缺失" in card.inner_text() and "待审核" in card.inner_text() and "2 张照片" in card.inner_text()
    no_sideways_scroll(page)
    shot(page)

    assert problems == []  # nothing refused by the CSP, no script errors
    session.expire_all()
    case = session.execute(select(Case).where(Case.title == "人行道井盖缺失")).scalar_one()
    assert (case.channel, case.reporter_id, case.category.code) == ("patrol", world.people["san_handler"].id, "road")
    kept = session.execute(select(Attachment.original_name).where(
        Attachment.item_type == "case", Attachment.item_id == case.id).order_by(Attachment.id)).scalars().all()
    assert kept == ["site.png", "more.png"]
