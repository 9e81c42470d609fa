"""The report pages in the console: English with ``?lang=en`` (headings, columns, labels, buttons,
highlights), the XLSX download in the page's language with the numbers the page shows, the
generate form, and the recurring problems a report lists."""
from __future__ import annotations

import io
import re
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from caseflow.analysis import recurring, reports
from caseflow.analysis.labels import CASE_COLUMNS, INSTRUCTION_COLUMNS, SLICES, pick
from caseflow.analysis.periods import parse_period
from caseflow.models import Category, Department, Grid, Person, StoredReport
from caseflow.security.tokens import issue_token
from tests.integration.analysis_support import Builder, build_month

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")


def _sign_in(client, world, name: str = "deputy") -> None:  # type: ignore[no-untyped-def]
    with client.session_transaction() as s:
        s["person_id"] = world.people[name].id


def _march(session, world) -> StoredReport:  # type: ignore[no-untyped-def]
    build_month(session, world)
    return reports.store_report(session, parse_period("month", "2025-03"))


def _data_names(session) -> list[str]:  # type: ignore[no-untyped-def]
    """Names that are data, not UI text: they stay as entered whatever the language."""
    names: list[str] = []
    for col in (Department.name, Category.name, Grid.name, Person.full_name):
        names += [n for n in session.execute(select(col)).scalars() if n]
    return names


def _table(html: str, table_id: str) -> list[list[tuple[str | None, str]]]:
    """The rows of ``<table id=table_id>`` as lists of (data-key, text) cells, header row included."""
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = re.findall(r'<t[dh](?: [^>]*?data-key="([^"]+)")?[^>]*>(.*?)</t[dh]>', tr, re.S)
        rows.append([(key or None, re.sub(r"<[^>]+>", "", text).strip()) for key, text in cells])
    return rows


def _shown(value: Any, kind: str) -> str:
    """A workbook value as the page prints it (the template's ``cell`` macro)."""
    if value is None:
        return "—"
    if kind == "rate":
        return f"{value * 100:.1f}%"
    if kind == "score":
        return f"{value:.2f}"
    return str(value)


def test_english_report_page(client, session, world) -> None:
    row = _march(session, world)
    _sign_in(client, world)
    r = client.get(f"/reports/{row.id}?lang=en")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html
    assert re.search(r"<h1>Monthly report <span class=\"count\">2025-03</span></h1>", html)
    for heading in ("Highlights", "Trend (reported / closed)", "By category", "By grid", "By hour of day",
                    "Main indicators", "Time per stage (minutes)", "Emergency-linkage instructions",
                    "Recurring problems", "Department assessment ranking",
                    *[en for _, en in SLICES.values() if en not in ("By severity", "By area")]):
        assert f"<h2>{heading}</h2>" in html, heading
    assert "Export XLSX" in html and "All reports" in html and "Data as of 20" in html
    totals = _table(html, "totals")
    assert totals[0] == [(None, "Indicator"), (None, "Value")]
    assert (("closure_rate", "75.0%") in [c for r_ in totals for c in r_]) and \
        [(None, "Closure rate"), ("closure_rate", "75.0%")] in totals
    stages = {r_[0][1] for r_ in _table(html, "stages")[1:]}
    assert {"Review", "Dispatch to sign", "Report to close"} <= stages
    # Enumerated slice keys are named in English; a case without a department is "(not set)".
    assert {r_[0][1] for r_ in _table(html, "by-channel")[1:]} == {"12345 hotline", "Patrol", "Citizen app"}
    assert {r_[0][1] for r_ in _table(html, "by-tier")[1:]} == {"General", "Simple"}
    assert "(not set)" in {r_[0][1] for r_ in _table(html, "by-department")[1:]}
    assert _table(html, "instructions")[1][0] == (None, "Total")
    assert _table(html, "ranking")[0][0] == (None, "Rank")
    highlights = re.findall(r"<li>(.*?)</li>", html.split('id="highlights"')[1].split("</ul>")[0])
    assert highlights[0] == "Reported 6, registered 4, closed 3; closure rate 75.0% (target ≥ 95%), below the target."
    assert any(h.startswith("Most frequent category: 暴露垃圾 (4)") for h in highlights)
    assert '<title>Reported</title>' in html and "No data" not in html
    # No Chinese left but the names that are data (and the switch back to 中文).
    allowed = [*_data_names(session), "中文"]
    leftovers = {run for run in CJK.findall(html) if not any(run in name for name in allowed)}
    assert leftovers == set()

    # The choice is kept: the list (no ?lang) is English too, and the Chinese page is unchanged.
    listing = client.get("/reports/").get_data(as_text=True)
    assert "<h1>Analysis reports" in listing and "Generate the report" in listing and "Generated reports" in listing
    assert re.search(r">Monthly report</a></td>\s*<td>2025-03</td>", listing)
    zh = client.get(f"/reports/{row.id}?lang=zh").get_data(as_text=True)
    assert "<h2>研判要点</h2>" in zh and "<h2>分渠道</h2>" in zh and "<h1>月通报" in zh
    assert any(c == (None, "12345") for r_ in _table(zh, "by-channel") for c in r_)
    assert "本期上报 6 件" in zh


def test_page_and_xlsx_show_the_same_numbers_in_both_languages(client, session, world) -> None:
    row = _march(session, world)
    _sign_in(client, world)
    for lang in ("zh", "en"):
        html = client.get(f"/reports/{row.id}?lang={lang}").get_data(as_text=True)
        r = client.get(f"/reports/{row.id}.xlsx")  # the session's language, set by the page
        assert r.status_code == 200
        wb = load_workbook(io.BytesIO(r.data))
        summary_name, dept_name = ("Summary", "By department") if lang == "en" else ("概要", "分部门")
        assert wb.sheetnames[0] == summary_name and dept_name in wb.sheetnames
        summary = {r_[0]: r_[1] for r_ in wb[summary_name].iter_rows(values_only=True) if r_ and r_[0]}
        page = {key: text for r_ in _table(html, "totals")[1:] for key, text in r_ if key}
        for key, zh, en, kind in CASE_COLUMNS:
            assert _shown(summary[pick((zh, en), lang)], kind) == page[key], (lang, key)
        prefix = "Instructions: " if lang == "en" else "应急指令·"
        page_ins = {key: text for key, text in _table(html, "instructions")[1] if key}
        for key, zh, en, kind in INSTRUCTION_COLUMNS:
            assert _shown(summary[prefix + pick((zh, en), lang)], kind) == page_ins[key], (lang, key)
        sheet = list(wb[dept_name].iter_rows(values_only=True))
        header = list(sheet[0])
        assert header[0] == ("Name" if lang == "en" else "名称")
        book = {r_[0]: dict(zip(header, r_)) for r_ in sheet[1:]}
        page_rows = _table(html, "by-department")[1:]
        assert len(page_rows) == len(book) == 3
        for cells in page_rows:
            label, values = cells[0][1], dict(cells[1:])
            for key, zh, en, kind in CASE_COLUMNS[:8]:
                assert _shown(book[label][pick((zh, en), lang)], kind) == values[key], (lang, label, key)
        if lang == "en":
            assert "(not set)" in book and summary["Closure rate"] == 0.75
            assert [c.value for c in wb["Recurring problems"][1]][:3] == ["Kind", "Category", "Grid / hour"]
            assert wb["Summary"]["A1"].value == "Monthly report (2025-03)"


def test_generate_from_the_console(client, session, world) -> None:
    build_month(session, world)
    _sign_in(client, world, "dispatcher")
    r = client.post("/reports/generate?lang=en", data={"kind": "week", "start": "2025-03-12"})
    assert r.status_code == 302
    stored = session.execute(select(StoredReport)).scalar_one()
    assert (stored.kind, stored.period_start.isoformat()) == ("week", "2025-03-10")
    assert r.headers["Location"].endswith(f"/reports/{stored.id}")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "<h1>Weekly hints <span class=\"count\">2025-03-10 to 2025-03-16</span></h1>" in page
    assert stored.data["cases"]["total"]["reported"] == 5
    bad = client.post("/reports/generate", data={"kind": "decade"}, follow_redirects=True)
    text = bad.get_data(as_text=True)
    assert bad.status_code == 200 and "Report type (period)" in text
    bad = client.post("/reports/generate?lang=zh", data={"kind": "month", "start": "soon"}, follow_redirects=True)
    assert "期间内任一日 (start)" in bad.get_data(as_text=True)
    assert session.execute(select(StoredReport)).scalars().all() == [stored]


def test_recurring_problems_on_the_page(client, session, world) -> None:
    b = Builder(session, world)
    for when in ("2025-04-01 09:10", "2025-04-02 09:20", "2025-04-03 09:05", "2025-04-08 09:40"):
        b.case(reported=when, category=world.cat_garbage, grid=world.grid_main)
    session.commit()
    row = reports.store_report(session, parse_period("month", "2025-04"))
    _sign_in(client, world)
    html = client.get(f"/reports/{row.id}?lang=en").get_data(as_text=True)
    rec = _table(html, "recurring")
    assert [c for _, c in rec[1]] == ["Same category, same grid", "暴露垃圾", "一号网格", "4", "4"]
    assert [c for _, c in rec[2]] == ["Same category, same hour", "暴露垃圾", "09:00-09:59", "4", "4"]
    empty = reports.store_report(session, parse_period("month", "2025-05"))
    html = client.get(f"/reports/{empty.id}").get_data(as_text=True)
    th = recurring.THRESHOLDS["month"]
    assert f"None found (threshold: {th.min_count} times on {th.min_days} days)" in html and "No data" in html


def test_api_xlsx_language(client, session, world) -> None:
    row = _march(session, world)
    headers = {"Authorization": "Bearer " + issue_token(session, "deputy", person=world.people["deputy"])}
    en = client.get(f"/api/reports/{row.id}.xlsx?lang=en", headers=headers)
    assert en.status_code == 200
    wb = load_workbook(io.BytesIO(en.data))
    assert wb.sheetnames[:2] == ["Summary", "Stages"] and "Assessment" in wb.sheetnames
    zh = load_workbook(io.BytesIO(client.get(f"/api/reports/{row.id}.xlsx", headers=headers).data))
    assert zh.sheetnames[:2] == ["概要", "环节用时"]
    # Same numbers, row for row, in both languages.
    assert [r[1:] for r in wb["Stages"].iter_rows(values_only=True)][1:] == \
        [r[1:] for r in zh["环节用时"].iter_rows(values_only=True)][1:]
    stage_names = [r[0] for r in wb["Stages"].iter_rows(min_row=2, values_only=True)]
    assert "Instructions: Receipt to sign" in stage_names
    bad = client.get(f"/api/reports/{row.id}.xlsx?lang=fr", headers=headers)
    assert bad.status_code == 422 and "lang" in bad.get_json()["errors"]["query"]
