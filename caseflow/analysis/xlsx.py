"""A report as an XLSX workbook (openpyxl): the same numbers as the report data, one sheet per table.

Rates are stored as fractions formatted as percentages, durations in minutes, so the
cells compare equal to the report data (rates exactly; minutes = seconds / 60). Sheet names,
headers and labels are Chinese (``lang="zh"``, the default) or English (``lang="en"``), as the
console page the workbook is downloaded from; the numbers are the same in both.
"""
from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from .labels import CASE_COLUMNS, INSTRUCTION_COLUMNS, INSTRUCTION_STAGES, SLICES, STAGES, pick
from .reports import in_language

# Sheet names and fixed texts, (zh, en).
TEXT: dict[str, tuple[str, str]] = {
    "summary": ("概要", "Summary"),
    "trend": ("趋势", "Trend"),
    "stages": ("环节用时", "Stages"),
    "instructions": ("应急指令", "Instructions"),
    "recurring": ("反复问题", "Recurring problems"),
    "assessment": ("考核排名", "Assessment"),
    "period": ("统计期间", "Period"),
    "period_span": ("{start} 至 {end}", "{start} to {end}"),
    "as_of": ("数据截至", "Data as of"),
    "generated": ("生成时间", "Generated"),
    "indicator": ("指标", "Indicator"),
    "value": ("数值", "Value"),
    "instruction_prefix": ("应急指令·{name}", "Instructions: {name}"),
    "highlights": ("研判要点", "Highlights"),
    "stage": ("环节", "Stage"),
    "count": ("件数", "Count"),
    "mean_min": ("平均（分钟）", "Mean (minutes)"),
    "median_min": ("中位数（分钟）", "Median (minutes)"),
    "name": ("名称", "Name"),
    "mean_total_min": ("平均用时（分钟，上报→结案）", "Mean time (minutes, report to close)"),
    "bucket": ("时间", "Time"),
    "reported": ("上报", "Reported"),
    "closed": ("结案", "Closed"),
    "kind": ("类型", "Kind"),
    "category": ("问题类型", "Category"),
    "place": ("网格 / 时段", "Grid / hour"),
    "times": ("次数", "Times"),
    "days": ("天数", "Days"),
    "first": ("首次", "First"),
    "last": ("最近", "Latest"),
    "same_grid": ("同类同地", "Same category, same grid"),
    "same_hour": ("同类同时段", "Same category, same hour"),
    "rank": ("名次", "Rank"),
    "department": ("部门", "Department"),
    "base_score": ("基础分", "Base score"),
    "points": ("加减分", "Points"),
    "score": ("得分", "Score"),
    "street_share": ("街道权重", "Street share"),
    "weighted": ("折算分", "Weighted score"),
    "rule_count": ("{code}（次）", "{code} (times)"),
}
SHEET_SUMMARY = TEXT["summary"][0]
SHEET_TREND = TEXT["trend"][0]
SHEET_STAGES = TEXT["stages"][0]
SHEET_INSTRUCTIONS = TEXT["instructions"][0]
SHEET_RECURRING = TEXT["recurring"][0]
SHEET_ASSESSMENT = TEXT["assessment"][0]
BOLD = Font(bold=True)


def sheet_name(key: str, lang: str = "zh") -> str:
    """The name of sheet ``key`` (summary, trend, stages, instructions, recurring, assessment) in ``lang``."""
    return pick(TEXT[key], lang)


def _header(ws: Worksheet, values: list[str]) -> None:
    ws.append(values)
    for cell in ws[ws.max_row]:
        cell.font = BOLD


def _format(ws: Worksheet, columns: tuple[tuple[str, str, str, str], ...], first_col: int) -> None:
    for idx, (_, _, _, kind) in enumerate(columns, start=first_col):
        if kind == "rate":
            for (cell,) in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
                cell.number_format = "0.0%"


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 2)


def _cell(value: Any, kind: str) -> Any:
    """A column's value as written: a ``minutes`` column holds seconds in the data."""
    return _minutes(value) if kind == "minutes" else value


def _col(column: tuple[str, str, str, str], lang: str) -> str:
    return column[2] if lang == "en" else column[1]


def _slice_sheet(wb: Workbook, title: str, rows: list[dict[str, Any]],
                 columns: tuple[tuple[str, str, str, str], ...], lang: str) -> None:
    ws = wb.create_sheet(title)
    _header(ws, [pick(TEXT["name"], lang), *[_col(c, lang) for c in columns], pick(TEXT["mean_total_min"], lang)])
    for row in rows:
        total = (row.get("stages") or {}).get("total") or {}
        ws.append([row["label"], *[_cell(row.get(k), kind) for k, _, _, kind in columns],
                   _minutes(total.get("mean_s"))])
    _format(ws, columns, 2)
    ws.column_dimensions["A"].width = 22
    ws.freeze_panes = "B2"


def to_xlsx(data: dict[str, Any], lang: str = "zh") -> bytes:
    """The report ``data`` (from :func:`caseflow.analysis.reports.build_report`) as XLSX bytes in ``lang``."""
    data = in_language(data, lang)

    def say(key: str, **values: Any) -> str:
        text = pick(TEXT[key], lang)
        return text.format(**values) if values else text

    wb = Workbook()
    ws = wb.active
    ws.title = say("summary")
    ws.append([f"{data['title']}（{data['period']['label']}）" if lang != "en"
               else f"{data['title']} ({data['period']['label']})"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append([say("period"), say("period_span", start=data["period"]["start"], end=data["period"]["end"])])
    ws.append([say("as_of"), data["as_of"]])
    ws.append([say("generated"), data.get("generated_at", "")])
    ws.append([])
    _header(ws, [say("indicator"), say("value")])
    total = data["cases"]["total"]
    for column in CASE_COLUMNS:
        ws.append([_col(column, lang), _cell(total.get(column[0]), column[3])])
        if column[3] == "rate":
            ws.cell(row=ws.max_row, column=2).number_format = "0.0%"
    for column in INSTRUCTION_COLUMNS:
        ws.append([say("instruction_prefix", name=_col(column, lang)), data["instructions"]["total"].get(column[0])])
        if column[3] == "rate":
            ws.cell(row=ws.max_row, column=2).number_format = "0.0%"
    ws.append([])
    _header(ws, [say("highlights")])
    for line in data.get("highlights", []):
        ws.append([line])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 30

    st = wb.create_sheet(say("stages"))
    _header(st, [say("stage"), say("count"), say("mean_min"), say("median_min")])
    for key, names in STAGES.items():
        stage = total["stages"].get(key)
        if stage:
            st.append([pick(names, lang), stage["n"], _minutes(stage["mean_s"]), _minutes(stage["median_s"])])
    for key, stage in data["instructions"]["total"]["stages"].items():
        name = pick(INSTRUCTION_STAGES[key], lang) if key in INSTRUCTION_STAGES else key
        st.append([say("instruction_prefix", name=name), stage["n"], _minutes(stage["mean_s"]),
                   _minutes(stage["median_s"])])
    st.column_dimensions["A"].width = 20

    for dim, rows in data["cases"]["by"].items():
        _slice_sheet(wb, pick(SLICES[dim], lang), rows, CASE_COLUMNS, lang)

    tr = wb.create_sheet(say("trend"))
    _header(tr, [say("bucket"), say("reported"), say("closed")])
    for row in data.get("trend", []):
        tr.append([row["bucket"], row["reported"], row["closed"]])

    ins = wb.create_sheet(say("instructions"))
    for dim, rows in data["instructions"]["by"].items():
        _header(ins, [pick(SLICES[dim], lang), *[_col(c, lang) for c in INSTRUCTION_COLUMNS]])
        for row in rows:
            ins.append([row["label"], *[row.get(k) for k, _, _, _ in INSTRUCTION_COLUMNS]])
            for idx, (_, _, _, kind) in enumerate(INSTRUCTION_COLUMNS, start=2):
                if kind == "rate":
                    ins.cell(row=ins.max_row, column=idx).number_format = "0.0%"
        ins.append([])
    ins.column_dimensions["A"].width = 22

    rec = wb.create_sheet(say("recurring"))
    _header(rec, [say("kind"), say("category"), say("place"), say("times"), say("days"), say("first"), say("last")])
    for row in data["recurring"]["by_grid"]:
        rec.append([say("same_grid"), row["category"], row["grid"], row["count"], row["days"], row["first_at"],
                    row["last_at"]])
    for row in data["recurring"]["by_hour"]:
        rec.append([say("same_hour"), row["category"], row["hour_label"], row["count"], row["days"], row["first_at"],
                    row["last_at"]])
    rec.column_dimensions["B"].width = 18

    ranking = data["assessment"]["ranking"]
    asm = wb.create_sheet(say("assessment"))
    codes = [r["code"] for r in data["assessment"]["rules"]]
    _header(asm, [say("rank"), say("department"), say("base_score"), say("points"), say("score"),
                  say("street_share"), say("weighted"), *[say("rule_count", code=c) for c in codes]])
    for row in ranking:
        per = {d["code"]: d["count"] for d in row["rules"]}
        asm.append([row["rank"], row["name"], row["base_score"], row["points"], row["score"], row["street_share"],
                    row["weighted"], *[per.get(c, 0) for c in codes]])
    asm.column_dimensions["B"].width = 20

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
