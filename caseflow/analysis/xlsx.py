"""A report as an XLSX workbook (openpyxl): the same numbers as the report data, one sheet per table.

Rates are stored as fractions formatted as percentages, durations in minutes, so the
cells compare equal to the report data (rates exactly; minutes = seconds / 60).
"""
from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.worksheet.worksheet import Worksheet

from .labels import CASE_COLUMNS, INSTRUCTION_COLUMNS, SLICES, STAGES

SHEET_SUMMARY = "概要"
SHEET_TREND = "趋势"
SHEET_STAGES = "环节用时"
SHEET_INSTRUCTIONS = "应急指令"
SHEET_RECURRING = "反复问题"
SHEET_ASSESSMENT = "考核排名"
BOLD = Font(bold=True)


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


def _slice_sheet(wb: Workbook, title: str, rows: list[dict[str, Any]],
                 columns: tuple[tuple[str, str, str, str], ...]) -> None:
    ws = wb.create_sheet(title)
    _header(ws, ["名称", *[zh for _, zh, _, _ in columns], "平均用时（分钟，上报→结案）"])
    for row in rows:
        total = (row.get("stages") or {}).get("total") or {}
        ws.append([row["label"], *[row.get(k) for k, _, _, _ in columns], _minutes(total.get("mean_s"))])
    _format(ws, columns, 2)
    ws.column_dimensions["A"].width = 22
    ws.freeze_panes = "B2"


def to_xlsx(data: dict[str, Any]) -> bytes:
    """The report ``data`` (from :func:`caseflow.analysis.reports.build_report`) as XLSX bytes."""
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_SUMMARY
    ws.append([f"{data['title']}（{data['period']['label']}）"])
    ws["A1"].font = Font(bold=True, size=14)
    ws.append(["统计期间", f"{data['period']['start']} 至 {data['period']['end']}"])
    ws.append(["数据截至", data["as_of"]])
    ws.append(["生成时间", data.get("generated_at", "")])
    ws.append([])
    _header(ws, ["指标", "数值"])
    total = data["cases"]["total"]
    for key, zh, _, kind in CASE_COLUMNS:
        ws.append([zh, total.get(key)])
        if kind == "rate":
            ws.cell(row=ws.max_row, column=2).number_format = "0.0%"
    for key, zh, _, kind in INSTRUCTION_COLUMNS:
        ws.append([f"应急指令·{zh}", data["instructions"]["total"].get(key)])
        if kind == "rate":
            ws.cell(row=ws.max_row, column=2).number_format = "0.0%"
    ws.append([])
    _header(ws, ["研判要点"])
    for line in data.get("highlights", []):
        ws.append([line])
    ws.column_dimensions["A"].width = 28
    ws.column_dimensions["B"].width = 30

    st = wb.create_sheet(SHEET_STAGES)
    _header(st, ["环节", "件数", "平均（分钟）", "中位数（分钟）"])
    for key, (zh, _) in STAGES.items():
        stage = total["stages"].get(key)
        if stage:
            st.append([zh, stage["n"], _minutes(stage["mean_s"]), _minutes(stage["median_s"])])
    for key, stage in data["instructions"]["total"]["stages"].items():
        st.append([f"应急指令·{STAGES[key][0] if key in STAGES else key}", stage["n"], _minutes(stage["mean_s"]),
                   _minutes(stage["median_s"])])
    st.column_dimensions["A"].width = 20

    for dim, rows in data["cases"]["by"].items():
        _slice_sheet(wb, SLICES[dim][0], rows, CASE_COLUMNS)

    tr = wb.create_sheet(SHEET_TREND)
    _header(tr, ["时间", "上报", "结案"])
    for row in data.get("trend", []):
        tr.append([row["bucket"], row["reported"], row["closed"]])

    ins = wb.create_sheet(SHEET_INSTRUCTIONS)
    for dim, rows in data["instructions"]["by"].items():
        _header(ins, [SLICES[dim][0], *[zh for _, zh, _, _ in INSTRUCTION_COLUMNS]])
        for row in rows:
            ins.append([row["label"], *[row.get(k) for k, _, _, _ in INSTRUCTION_COLUMNS]])
            for idx, (_, _, _, kind) in enumerate(INSTRUCTION_COLUMNS, start=2):
                if kind == "rate":
                    ins.cell(row=ins.max_row, column=idx).number_format = "0.0%"
        ins.append([])
    ins.column_dimensions["A"].width = 22

    rec = wb.create_sheet(SHEET_RECURRING)
    _header(rec, ["类型", "问题类型", "网格 / 时段", "次数", "天数", "首次", "最近"])
    for row in data["recurring"]["by_grid"]:
        rec.append(["同类同地", row["category"], row["grid"], row["count"], row["days"], row["first_at"], row["last_at"]])
    for row in data["recurring"]["by_hour"]:
        rec.append(["同类同时段", row["category"], row["hour_label"], row["count"], row["days"], row["first_at"],
                    row["last_at"]])
    rec.column_dimensions["B"].width = 18

    ranking = data["assessment"]["ranking"]
    asm = wb.create_sheet(SHEET_ASSESSMENT)
    codes = [r["code"] for r in data["assessment"]["rules"]]
    _header(asm, ["名次", "部门", "基础分", "加减分", "得分", "街道权重", "折算分",
                  *[f"{c}（次）" for c in codes]])
    for row in ranking:
        per = {d["code"]: d["count"] for d in row["rules"]}
        asm.append([row["rank"], row["name"], row["base_score"], row["points"], row["score"], row["street_share"],
                    row["weighted"], *[per.get(c, 0) for c in codes]])
    asm.column_dimensions["B"].width = 20

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
