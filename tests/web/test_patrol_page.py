"""The reporter's page (巡查员上报): report with location and photos, follow my cases in every state
(also held by another department), add photos to my own case only, once per form."""
from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from caseflow.models import AccessDenial, Attachment, Case, CaseReporter
from caseflow.services.cases import closing, duplicates, handling, intake, review

from .test_work_pages import PNG, as_person, flashes

LAT, LON = 31.2305, 121.4705


def photos(session, case_id: int) -> list[Attachment]:  # type: ignore[no-untyped-def]
    session.expire_all()
    return list(session.execute(select(Attachment).where(
        Attachment.item_type == "case", Attachment.item_id == case_id).order_by(Attachment.id)).scalars())


def form_token(page: str, form_id: str) -> str:
    start = page.index(f'id="{form_id}"')
    return re.search(r'name="form_token" value="([^"]+)"', page[start:]).group(1)


def my_report(session, catalog, world, who: str = "san_handler", **kw):  # type: ignore[no-untyped-def]
    args = {"title": "井盖缺失", "category_code": "road", "grid_id": world.grid_main.id, "address": "三号路"}
    args.update(kw)
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor(who), **args)
    return case


def test_report_with_location_and_photo(client, session, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    page = client.get("/patrol/").get_data(as_text=True)
    assert 'id="report-form"' in page and 'capture="environment"' in page and 'name="lat"' in page
    assert "巡查上报" in page and '<a href="/patrol/" class="active">巡查上报</a>' in page  # in the top bar
    r = client.post("/patrol/report", content_type="multipart/form-data", data={
        "title": "人行道垃圾", "category_id": str(world.cat_garbage.id), "grid_id": str(world.grid_other.id),
        "address": "四号路", "description": "三袋", "lat": str(LAT), "lon": str(LON),
        "photo": (io.BytesIO(PNG), "site.png"), "form_token": "t-report-1"})
    case = session.execute(select(Case).where(Case.title == "人行道垃圾")).scalar_one()
    assert r.status_code == 302 and r.headers["Location"] == f"/patrol/cases/{case.id}"
    assert (case.channel, case.reporter_id, case.state) == ("patrol", world.people["san_handler"].id, "reported")
    assert (case.lat, case.lon, case.grid_id, case.area_kind) == (LAT, LON, world.grid_other.id, "other")
    [photo] = photos(session, case.id)
    assert photo.kind == "photo" and photo.uploaded_by_id == world.people["san_handler"].id
    page = client.get(f"/patrol/cases/{case.id}").get_data(as_text=True)
    assert "已上报，等待受理" in flashes(page)
    assert '<span id="state">待审核</span>' in page and f'/api/attachments/{photo.id}' in page
    # The photo is served to the reporter (the attachments API's own check).
    with client.get(f"/api/attachments/{photo.id}") as download:
        assert download.status_code == 200 and download.data == PNG


def test_a_report_sent_twice_makes_one_case(client, session, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    page = client.get("/patrol/").get_data(as_text=True)
    data = {"title": "树枝折断", "category_id": str(world.cat_road.id), "form_token": form_token(page, "report-form")}
    first = client.post("/patrol/report", data=data)
    second = client.post("/patrol/report", data=data, follow_redirects=True)
    assert "此表单已提交过，操作没有重复执行" in flashes(second.get_data(as_text=True))
    assert session.execute(select(func.count()).select_from(Case).where(Case.title == "树枝折断")).scalar_one() == 1
    assert second.request.path == first.headers["Location"]  # back on the case's page


def test_bad_reports_name_the_field(client, session, world) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["san_handler"])
    r = client.post("/patrol/report", data={"title": "", "category_id": str(world.cat_road.id)}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "标题 (title):不能为空"
    r = client.post("/patrol/report", data={"title": "x"}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "类别 (category_id):请选择一项"
    r = client.post("/patrol/report", data={"title": "x", "category_id": str(world.cat_road.id), "lat": "north"},
                    follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "纬度 (lat):须为数字"
    many = [(io.BytesIO(PNG), f"p{i}.png") for i in range(7)]
    r = client.post("/patrol/report", content_type="multipart/form-data", follow_redirects=True,
                    data={"title": "x", "category_id": str(world.cat_road.id), "photo": many})
    assert flashes(r.get_data(as_text=True))[-1] == "照片 (photo):一次最多 6 张照片"
    assert session.execute(select(func.count()).select_from(Case)).scalar_one() == 0


def test_my_cases_in_every_state_and_held_by_another_department(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    mine = my_report(session, catalog, world)
    someone_elses = my_report(session, catalog, world, who="road_handler", title="别人的")
    as_person(client, world.people["san_handler"])
    page = client.get("/patrol/").get_data(as_text=True)
    assert mine.number in page and "待审核" in page and someone_elses.number not in page
    disp = world.actor("dispatcher")
    review.register(session, catalog, mine.id, actor=disp)
    handling.dispatch(session, catalog, mine.id, actor=disp, department_id=world.roads.id)
    page = client.get("/patrol/").get_data(as_text=True)
    card = page[page.index(f'data-number="{mine.number}"'):]
    assert '<span class="state">已派遣</span>' in card
    # Held by the roads department, yet its reporter (a sanitation handler) adds a photo to it.
    page = client.get(f"/patrol/cases/{mine.id}").get_data(as_text=True)
    assert '<dd id="department">市政养护所</dd>' in page and 'data-trigger="dispatch"' in page
    r = client.post(f"/patrol/cases/{mine.id}/photos", content_type="multipart/form-data",
                    data={"photo": (io.BytesIO(PNG), "more.png")}, follow_redirects=True)
    assert "照片已补充" in flashes(r.get_data(as_text=True))
    assert [a.uploaded_by_id for a in photos(session, mine.id)] == [world.people["san_handler"].id]
    # The department's own pages stay closed to the reporter: only what they reported opens.
    assert client.get(f"/patrol/cases/{someone_elses.id}").status_code == 404


def test_someone_elses_case_is_not_found_and_audited(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = my_report(session, catalog, world, who="road_handler")
    as_person(client, world.people["san_handler"])
    assert client.get(f"/patrol/cases/{case.id}").status_code == 404
    r = client.post(f"/patrol/cases/{case.id}/photos", content_type="multipart/form-data",
                    data={"photo": (io.BytesIO(PNG), "x.png")})
    assert r.status_code == 404 and photos(session, case.id) == []
    denials = session.execute(select(AccessDenial.action).where(
        AccessDenial.person_id == world.people["san_handler"].id, AccessDenial.target == f"case {case.id}")).scalars()
    assert set(denials) == {"open patrol case page", "add patrol photos"}
    as_person(client, world.people["liaison"])  # not a role that reports cases
    assert client.get("/patrol/").status_code == 403


def test_a_refused_photo_stores_nothing_and_says_why(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = my_report(session, catalog, world)
    as_person(client, world.people["san_handler"])
    r = client.post(f"/patrol/cases/{case.id}/photos", content_type="multipart/form-data",
                    data={"photo": (io.BytesIO(b"just some text, not a photo"), "note.txt")}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == ("照片 (photo):照片「note.txt」未保存:"
                                                     "文件类型不支持，只接受照片、文档、音频或视频")
    r = client.post(f"/patrol/cases/{case.id}/photos", data={}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == "照片 (photo):请选择或拍摄照片"
    assert photos(session, case.id) == []
    # One good photo and one bad: the good one is kept, the bad one named.
    r = client.post(f"/patrol/cases/{case.id}/photos", content_type="multipart/form-data", follow_redirects=True,
                    data={"photo": [(io.BytesIO(PNG), "good.png"), (io.BytesIO(b"nope"), "bad.txt")]})
    messages = flashes(r.get_data(as_text=True))
    assert "照片已补充" in messages and any("bad.txt" in m for m in messages)
    assert [a.original_name for a in photos(session, case.id)] == ["good.png"]


def test_photos_sent_twice_are_stored_once(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = my_report(session, catalog, world)
    as_person(client, world.people["san_handler"])
    page = client.get(f"/patrol/cases/{case.id}").get_data(as_text=True)
    token = form_token(page, "photo-form")
    for _ in range(2):
        client.post(f"/patrol/cases/{case.id}/photos", content_type="multipart/form-data",
                    data={"photo": (io.BytesIO(PNG), "p.png"), "form_token": token})
    assert len(photos(session, case.id)) == 1


def test_an_archived_case_takes_no_more_photos(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = my_report(session, catalog, world)
    disp = world.actor("dispatcher")
    review.register(session, catalog, case.id, actor=disp)
    handling.dispatch(session, catalog, case.id, actor=disp, department_id=world.roads.id)
    handling.sign(session, catalog, case.id, actor=world.actor("road_handler"))
    handling.report_result(session, catalog, case.id, actor=world.actor("road_handler"), result="已补装")
    closing.check_pass(session, catalog, case.id, actor=disp)
    closing.archive(session, catalog, case.id, actor=disp)
    as_person(client, world.people["san_handler"])
    page = client.get(f"/patrol/cases/{case.id}").get_data(as_text=True)
    assert 'id="photo-form"' not in page and 'id="read-only"' in page and "已归档" in page
    r = client.post(f"/patrol/cases/{case.id}/photos", content_type="multipart/form-data",
                    data={"photo": (io.BytesIO(PNG), "late.png")}, follow_redirects=True)
    assert flashes(r.get_data(as_text=True))[-1] == ("照片 (photo):照片「late.png」未保存:"
                                                     "案件当前为「已归档」，不能进行此操作")
    assert photos(session, case.id) == []


def test_a_merged_duplicate_leads_to_the_original(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    original = my_report(session, catalog, world, who="road_handler", lat=LAT, lon=LON)
    duplicate = my_report(session, catalog, world, lat=LAT, lon=LON)
    duplicates.merge(session, catalog, duplicate.id, original.id, actor=world.actor("dispatcher"))
    as_person(client, world.people["san_handler"])
    page = client.get("/patrol/").get_data(as_text=True)
    assert original.number in page and duplicate.number in page  # the original now carries my report
    page = client.get(f"/patrol/cases/{duplicate.id}").get_data(as_text=True)
    assert f'<a href="/patrol/cases/{original.id}">{original.number}</a>' in page and "已作废" in page
    assert client.get(f"/patrol/cases/{original.id}").status_code == 200
    reporters = session.execute(select(CaseReporter.person_id).where(CaseReporter.case_id == original.id)).scalars()
    assert world.people["san_handler"].id in set(reporters)


def test_the_reporter_reads_their_case_over_the_api_too(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = my_report(session, catalog, world)
    as_person(client, world.people["san_handler"])
    r = client.get(f"/api/cases/{case.id}")
    assert r.status_code == 200 and r.json["number"] == case.number
    as_person(client, world.people["road_handler"])  # neither reporter nor holder
    assert client.get(f"/api/cases/{case.id}").status_code == 404
