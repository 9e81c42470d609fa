"""The console's 应急处置台账 page: filters (date range, area, unit, severity, on time, state), paging,
export links carrying the same filters, who may open it, and bad input named."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import update

from caseflow.models import Deadline, Instruction, utcnow
from caseflow.services import instructions as svc
from caseflow.web import instruction_ledger
from caseflow.web.guards import LEDGER_ROLES, may_open

from .test_navigation import nav
from .test_work_pages import as_person

SH = ZoneInfo("Asia/Shanghai")
PAGE = "/ledger/instructions"


def _make(session, catalog, world, number, received, *, category="garbage", grid="G01", severity="ordinary",  # type: ignore[no-untyped-def]
          what="received") -> Instruction:
    liaison = world.actor("liaison")
    item, _ = svc.receive(session, catalog, actor=liaison, number=number, category=category, grid=grid,
                          severity=severity, received_at=received, address="人民路 1 号")
    if what == "received":
        return item
    svc.sign(session, catalog, item.id, actor=liaison)
    svc.dispatch(session, catalog, item.id, actor=liaison)
    if what in ("overdue", "arrived_late"):
        session.execute(update(Deadline).where(Deadline.item_type == "instruction", Deadline.item_id == item.id,
                                               Deadline.key == "arrival").values(due_at=utcnow() - timedelta(minutes=1)))
        session.commit()
    if what in ("arrived", "arrived_late"):
        handler = world.actor("san_handler" if category == "garbage" else "road_handler")
        svc.arrive(session, catalog, item.id, actor=handler, situation="到场")
    return item


@pytest.fixture
def ledger(session, catalog, world):  # type: ignore[no-untyped-def]
    """Five instructions on 10-11 March 2026 (Shanghai), of two units, both areas, three severities."""
    return {
        "110-A": _make(session, catalog, world, "110-A", datetime(2026, 3, 10, 8, 0, tzinfo=SH), what="arrived"),
        "110-B": _make(session, catalog, world, "110-B", datetime(2026, 3, 10, 22, 0, tzinfo=SH), grid="G02",
                       severity="larger", what="overdue"),
        "110-C": _make(session, catalog, world, "110-C", datetime(2026, 3, 10, 23, 30, tzinfo=SH),
                       what="arrived_late"),
        # 00:10 on the 11th in Shanghai is still the 10th in UTC: the date filter is by local day.
        "110-D": _make(session, catalog, world, "110-D", datetime(2026, 3, 11, 0, 10, tzinfo=SH), category="road",
                       severity="major", what="running"),
        "110-E": _make(session, catalog, world, "110-E", datetime(2026, 3, 11, 9, 0, tzinfo=SH), category="road",
                       grid="G02"),
    }


def numbers(body: str) -> list[str]:
    """The instruction numbers of the table's rows, in order."""
    return re.findall(r'<td data-col="number">(?:<a [^>]*>)?([^<]+)', body)


def row_of(body: str, item: Instruction) -> str:
    start = body.index(f'data-instruction="{item.id}"')
    return body[start:body.index("</tr>", start)]


def cell(row: str, key: str) -> str:
    m = re.search(rf'<td data-col="{key}">(.*?)</td>', row, re.S)
    assert m, key
    return re.sub(r"<[^>]+>", "", m.group(1)).strip()


def export_link(body: str, kind: str) -> str:
    m = re.search(rf'<a href="([^"]+)" data-export="{kind}">', body)
    assert m, f"no {kind} export link"
    return html.unescape(m.group(1))


def test_liaison_sees_every_instruction_newest_first_in_shanghai_time(client, world, ledger) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    r = client.get(PAGE)
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "<h1>应急处置台账" in body and "共 5 条" in body
    assert numbers(body) == ["110-E", "110-D", "110-C", "110-B", "110-A"]
    headers = re.findall(r'<th data-col="(\w+)">([^<]+)</th>', body)
    assert headers[:3] == [("number", "指令编号"), ("received_at", "接收时间"), ("signed_at", "签收时间")]
    assert ("on_time", "按时到场") in headers and ("late_reason", "迟到原因") in headers
    b = row_of(body, ledger["110-B"])
    assert cell(b, "received_at") == "2026-03-10 22:00"  # stored 14:00 UTC, shown Beijing time
    assert cell(b, "on_time") == "否" and 'class="late"' in b  # not on site, deadline passed
    assert cell(b, "area") == "其它区域" and cell(b, "severity") == "较大" and cell(b, "state") == "已派遣"
    assert cell(row_of(body, ledger["110-A"]), "on_time") == "是"
    assert cell(row_of(body, ledger["110-D"]), "on_time") == ""  # still running
    assert cell(row_of(body, ledger["110-D"]), "unit") == "市政养护所"
    # The liaison's numbers open the instruction page.
    assert f'href="/liaison/{ledger["110-A"].id}"' in body
    english = client.get(PAGE + "?lang=en").get_data(as_text=True)
    assert "<h1>Emergency-linkage ledger" in english and '<th data-col="number">Instruction number</th>' in english
    assert cell(row_of(english, ledger["110-B"]), "on_time") == "no"


@pytest.mark.parametrize("query,expected", [
    ("from=2026-03-10&to=2026-03-10", ["110-C", "110-B", "110-A"]),  # both ends whole local days
    ("from=2026-03-11", ["110-E", "110-D"]),
    ("area_kind=other", ["110-E", "110-B"]),
    ("severity=major", ["110-D"]),
    ("on_time=no", ["110-C", "110-B"]),  # arrived late, and not arrived past the deadline
    ("on_time=yes", ["110-A"]),
    ("state=received", ["110-E"]),
    ("area_kind=main_urban&on_time=no", ["110-C"]),
])
def test_filters(client, world, ledger, query, expected) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    body = client.get(f"{PAGE}?{query}").get_data(as_text=True)
    assert numbers(body) == expected
    assert f"共 {len(expected)} 条" in body


def test_unit_filter_and_the_form_keeps_the_choices(client, world, ledger) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["duty_officer"])
    body = client.get(f"{PAGE}?department_id={world.roads.id}&severity=major").get_data(as_text=True)
    assert numbers(body) == ["110-D"]
    assert f'<option value="{world.roads.id}" selected>市政养护所</option>' in body
    assert '<option value="major" selected>重大</option>' in body
    # Not linked for a duty officer (the liaison's page is the liaison's).
    assert '<a href="/liaison/' not in body


def test_export_links_carry_the_same_filters(client, world, ledger) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["deputy"])
    query = f"from=2026-03-10&to=2026-03-11&on_time=no&area_kind=main_urban&department_id={world.sanitation.id}"
    body = client.get(f"{PAGE}?{query}").get_data(as_text=True)
    assert numbers(body) == ["110-C"]
    xlsx, csv_url = export_link(body, "xlsx"), export_link(body, "csv")
    assert xlsx.startswith("/api/instructions/ledger.xlsx?") and csv_url.startswith("/api/instructions/ledger.csv?")
    expected = {"from": ["2026-03-10T00:00:00+08:00"], "to": ["2026-03-12T00:00:00+08:00"],  # the whole 11th
                "on_time": ["false"], "area_kind": ["main_urban"], "department_id": [str(world.sanitation.id)]}
    assert parse_qs(urlsplit(xlsx).query) == parse_qs(urlsplit(csv_url).query) == expected
    # The signed-in console session opens the export, with the page's rows.
    r = client.get(xlsx)
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    rows = list(openpyxl.load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == ["110-C"]
    assert dict(zip(rows[0], rows[1], strict=True))["接收时间"] == datetime(2026, 3, 10, 23, 30)
    lines = list(csv.reader(io.StringIO(client.get(csv_url).data.decode("utf-8-sig"))))
    assert [ln[0] for ln in lines[1:]] == ["110-C"]
    # Severity and state go along too.
    body = client.get(f"{PAGE}?severity=larger&state=dispatched").get_data(as_text=True)
    lines = list(csv.reader(io.StringIO(client.get(export_link(body, "csv")).data.decode("utf-8-sig"))))
    assert numbers(body) == [ln[0] for ln in lines[1:]] == ["110-B"]


def test_paging_keeps_the_filters(client, world, ledger, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(instruction_ledger, "PER_PAGE", 2)
    as_person(client, world.people["admin"])
    body = client.get(f"{PAGE}?from=2026-03-10").get_data(as_text=True)
    assert numbers(body) == ["110-E", "110-D"] and "第 1 / 3 页" in body and 'rel="prev"' not in body
    nxt = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', body).group(1))
    assert "from=2026-03-10" in nxt and "page=2" in nxt
    body = client.get(nxt).get_data(as_text=True)
    assert numbers(body) == ["110-C", "110-B"] and "第 2 / 3 页" in body and 'rel="prev"' in body
    body = client.get(f"{PAGE}?from=2026-03-10&page=3").get_data(as_text=True)
    assert numbers(body) == ["110-A"] and 'rel="next"' not in body
    # Past the last page: the last page.
    assert numbers(client.get(f"{PAGE}?from=2026-03-10&page=9").get_data(as_text=True)) == ["110-A"]


@pytest.mark.parametrize("who", ["liaison", "duty_lead", "duty_officer", "deputy", "admin"])
def test_roles_that_open_it_have_it_in_the_top_bar(client, world, who) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people[who])
    assert f'<a href="{PAGE}" >应急处置台账</a>' in nav(client.get("/").get_data(as_text=True))
    page = client.get(PAGE + "?lang=en")
    assert page.status_code == 200
    assert f'<a href="{PAGE}" class="active">Emergency ledger</a>' in nav(page.get_data(as_text=True))
    client.get("/?lang=zh")


@pytest.mark.parametrize("who", ["san_handler", "dispatcher"])
def test_other_roles_neither_see_nor_open_it(client, world, who) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people[who])
    assert PAGE not in nav(client.get("/").get_data(as_text=True))
    assert client.get(PAGE).status_code == 403
    assert not may_open({"handler", "dispatcher"}, "instruction_ledger.page")
    assert LEDGER_ROLES == {"liaison", "duty_lead", "duty_officer", "leader", "admin"}


def test_signed_out_goes_to_sign_in(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get(PAGE)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.parametrize("query,named", [
    ("from=2026-13-01", "接收日期自 (from)"), ("from=2026-03-11&to=2026-03-10", "接收日期至 (to)"),
    ("area_kind=suburb", "区域类型 (area_kind)"), ("severity=huge", "事件等级 (severity)"),
    ("on_time=maybe", "按时到场 (on_time)"), ("state=nowhere", "状态 (state)"),
    ("department_id=999", "部门 (department_id)"), ("department_id=x", "部门 (department_id)"),
    ("page=0", "页码 (page)"),
])
def test_bad_input_is_a_400_naming_the_field(client, world, ledger, query, named) -> None:  # type: ignore[no-untyped-def]
    as_person(client, world.people["liaison"])
    r = client.get(f"{PAGE}?{query}")
    body = r.get_data(as_text=True)
    assert r.status_code == 400
    error = re.search(r'<p class="flash error" role="alert" id="ledger-error">([^<]+)</p>', body)
    assert error and named in html.unescape(error.group(1)), body[:2000]
    assert numbers(body) == [] and 'data-export="xlsx"' not in body
