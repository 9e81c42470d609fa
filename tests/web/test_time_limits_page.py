"""The case time-limit table page (/admin/time-limits): the limits in force with where each comes
from, a category filter, set and "恢复默认" forms for administrators (the service checks, ledgers
and commits), refusals naming the field, Chinese with English; dispatchers read it without forms."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from caseflow.models import LedgerEntry, TimeLimit
from caseflow.services.cases import time_limits as svc

from .test_work_pages import as_person, flashes


@pytest.fixture
def admin(client, world):  # type: ignore[no-untyped-def]
    as_person(client, world.people["admin"])
    return client


def row(body: str, tier: str, stage: str, category: str = "") -> str:
    """The table row of a tier, stage and category code ('' for the tier's own limit)."""
    found = re.search(rf'<tr data-tier="{tier}" data-stage="{stage}" data-category="{category}".*?</tr>', body, re.S)
    assert found, (tier, stage, category)
    return found.group(0)


def cells(tr: str) -> list[str]:
    """The text of a row's cells, tags stripped."""
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", tr, re.S)]


def test_the_page_lists_defaults_and_an_override_with_its_source(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    svc.set_override(session, actor=world.actor("admin"), tier="complex", stage="handle", duration="3d")
    body = admin.get("/admin/time-limits").get_data(as_text=True)
    assert "<h1>处置时限表</h1>" in body and 'id="set-limit"' in body and "时限表由管理员维护" not in body
    assert f'action="/admin/time-limits/{session.execute(select(TimeLimit.id)).scalar_one()}/remove"' in body
    assert cells(row(body, "general", "sign"))[:6] == ["一般", "签收", "全部类别", "1h", "工作时间", "默认"]
    assert cells(row(body, "difficult", "check"))[:6] == ["疑难", "核查", "全部类别", "1d", "工作时间", "默认"]
    override = row(body, "complex", "handle")
    assert cells(override)[:6] == ["复杂", "处置", "全部类别", "3d", "工作时间", "分级设定"]
    assert 'data-source="tier_override"' in override and "恢复默认" in override
    assert "恢复默认" not in row(body, "general", "sign")  # a default has nothing to restore
    # 暴露垃圾 handles within 4 working hours by nature (a built-in category limit).
    urgent = row(body, "general", "handle", "garbage")
    assert cells(urgent)[2:6] == ["暴露垃圾 (garbage)", "4h", "工作时间", "类别默认"]
    # The filter: every tier and stage as one category gets it, the tier's override marked as such.
    road = admin.get("/admin/time-limits?category=road").get_data(as_text=True)
    assert "现行时限 · 道路破损 (road)" in road and 'data-source="category_default"' not in road
    assert cells(row(road, "complex", "handle", "road"))[3:6] == ["3d", "工作时间", "分级设定"]
    assert cells(row(road, "simple", "handle", "road"))[3:6] == ["4h", "工作时间", "默认"]
    assert re.search(r'<option value="road" selected>道路破损 \(road\)</option>', road)
    # An unknown code shows the whole table rather than an error.
    assert admin.get("/admin/time-limits?category=nope").status_code == 200


def test_an_admin_sets_a_limit_and_it_is_in_force(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/time-limits/set", data={"tier": "general", "stage": "handle", "duration": "2d",
                                                   "clock": "wall", "category": "road", "view_category": "road"})
    assert r.status_code == 302 and r.headers["Location"] == "/admin/time-limits?category=road"
    body = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert flashes(body) == ["时限已设定，此后开始计时的案件按新时限执行"]
    assert cells(row(body, "general", "handle", "road"))[:6] == ["一般", "处置", "道路破损 (road)", "2d", "自然时间",
                                                                 "类别设定"]
    session.expire_all()
    limits = {(e.tier, e.stage): e for e in svc.effective_limits(session, "road")}
    assert (limits["general", "handle"].duration, limits["general", "handle"].clock,
            limits["general", "handle"].source) == ("2d", "wall", "override")
    assert limits["general", "sign"].source == "default"  # nothing else moved
    entry = session.execute(select(LedgerEntry).where(LedgerEntry.item_type == "time_limits")).scalar_one()
    assert entry.trigger == "set_time_limit" and entry.payload["category_code"] == "road"
    # Setting it again changes the same row (no second override).
    admin.post("/admin/time-limits/set", data={"tier": "general", "stage": "handle", "duration": "1d4h",
                                               "clock": "working", "category": "road"})
    session.expire_all()
    assert session.execute(select(TimeLimit.duration, TimeLimit.clock)).all() == [("1d4h", "working")]


@pytest.mark.parametrize("data, label", [
    ({"duration": "soon"}, "时限 (duration)"),
    ({"duration": "0h"}, "时限 (duration)"),
    ({"duration": "400d"}, "时限 (duration)"),
    ({"duration": ""}, "时限 (duration)"),
    ({"duration": "4h", "tier": "urgent"}, "分级 (tier)"),
    ({"duration": "4h", "stage": ""}, "环节 (stage)"),
    ({"duration": "4h", "clock": "lunar"}, "计时方式 (clock)"),
    ({"duration": "4h", "category": "nope"}, "类别 (category)"),
])
def test_a_refused_limit_names_the_field_and_changes_nothing(admin, session, world, data, label) -> None:  # type: ignore[no-untyped-def]
    svc.set_override(session, actor=world.actor("admin"), tier="general", stage="handle", duration="6h")
    before = [(e.tier, e.stage, e.duration, e.source) for e in svc.effective_limits(session)]
    form = {"tier": "general", "stage": "handle", "clock": "working", **data}
    r = admin.post("/admin/time-limits/set", data=form, follow_redirects=True)
    assert r.request.path == "/admin/time-limits"
    errors = flashes(r.get_data(as_text=True))
    assert errors and errors[0].startswith(label), errors
    session.expire_all()
    assert [(e.tier, e.stage, e.duration, e.source) for e in svc.effective_limits(session)] == before
    assert session.execute(select(LedgerEntry.trigger).where(LedgerEntry.item_type == "time_limits")).scalars().all() \
        == ["set_time_limit"]  # only the fixture's change


def test_a_bad_duration_is_explained_in_english_too(admin) -> None:  # type: ignore[no-untyped-def]
    r = admin.post("/admin/time-limits/set?lang=en", data={"tier": "general", "stage": "sign", "duration": "1.5h",
                                                           "clock": "working"}, follow_redirects=True)
    errors = flashes(r.get_data(as_text=True))
    assert errors and errors[0].startswith("Limit (duration): must be longer than zero, like 4h"), errors


def test_removing_an_override_falls_back(admin, session, world) -> None:  # type: ignore[no-untyped-def]
    tier = svc.set_override(session, actor=world.actor("admin"), tier="general", stage="handle", duration="6h")
    own = svc.set_override(session, actor=world.actor("admin"), tier="general", stage="handle", duration="2h",
                           category_code="road")
    r = admin.post(f"/admin/time-limits/{own.limit_id}/remove", data={"view_category": "road"})
    assert r.headers["Location"] == "/admin/time-limits?category=road"
    body = admin.get(r.headers["Location"]).get_data(as_text=True)
    assert flashes(body) == ["已恢复默认时限"]
    assert cells(row(body, "general", "handle", "road"))[3:6] == ["6h", "工作时间", "分级设定"]  # the tier's limit
    r = admin.post(f"/admin/time-limits/{tier.limit_id}/remove", data={}, follow_redirects=True)
    body = r.get_data(as_text=True)
    assert cells(row(body, "general", "handle"))[3:6] == ["1d", "工作时间", "默认"]  # the built-in default
    session.expire_all()
    assert session.execute(select(TimeLimit)).first() is None
    assert svc.effective_limits(session, "road")[4].duration == "1d"  # general / handle
    triggers = session.execute(select(LedgerEntry.trigger).where(LedgerEntry.item_type == "time_limits")
                               .order_by(LedgerEntry.seq)).scalars().all()
    assert triggers == ["set_time_limit", "set_time_limit", "remove_time_limit", "remove_time_limit"]
    # Removing it again: explained, not an error page.
    r = admin.post(f"/admin/time-limits/{tier.limit_id}/remove", data={}, follow_redirects=True)
    assert r.request.path == "/admin/time-limits"
    assert flashes(r.get_data(as_text=True)) == ["该设定已不存在（可能已被恢复默认），请刷新"]


def test_dispatchers_read_the_table_without_forms(client, session, world) -> None:  # type: ignore[no-untyped-def]
    own = svc.set_override(session, actor=world.actor("admin"), tier="simple", stage="sign", duration="30m")
    as_person(client, world.people["dispatcher"])
    body = client.get("/admin/time-limits").get_data(as_text=True)
    assert "<h1>处置时限表</h1>" in body and cells(row(body, "simple", "sign"))[3] == "30m"
    assert 'action="/admin/time-limits/' not in body and 'id="set-limit"' not in body
    assert "恢复默认" not in body and "时限表由管理员维护" in body
    assert client.post("/admin/time-limits/set", data={"tier": "simple", "stage": "sign", "duration": "1h",
                                                       "clock": "working"}).status_code == 403
    assert client.post(f"/admin/time-limits/{own.limit_id}/remove").status_code == 403
    session.expire_all()
    assert session.execute(select(TimeLimit.duration)).scalars().all() == ["30m"]
    as_person(client, world.people["deputy"])  # a leader: neither reads nor changes it here
    assert client.get("/admin/time-limits").status_code == 403


def test_the_admin_tools_link_the_page_and_it_reads_in_english(admin) -> None:  # type: ignore[no-untyped-def]
    tools = admin.get("/admin").get_data(as_text=True)
    tools = tools[tools.index('id="admin-tools"'):]
    assert 'href="/admin/time-limits" data-page="time_limits_admin.page">处置时限表</a>' in tools
    english = admin.get("/admin/time-limits?lang=en").get_data(as_text=True)
    assert "<h1>Case time limits</h1>" in english and "Restore default" not in english  # no override yet
    assert cells(row(english, "difficult", "handle"))[:6] == ["difficult", "handle", "All categories", "10d",
                                                              "working time", "default"]
    assert "Set a limit" in english and "category default" in english
