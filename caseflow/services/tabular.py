"""Reading uploaded tables (a CSV file or a spreadsheet's sheet) whose first row names the columns.

One reader for every import (people, departments, categories and grids; the duty rota):

* :func:`decode` takes UTF-8 with or without the BOM Excel writes, and refuses anything else;
* :func:`csv_lines` / :func:`sheet_lines` number each row by the line (row) it starts on, as the
  person sees it in their editor or spreadsheet; a CSV record spanning lines starts where it starts;
* :func:`read_table` maps the header (Chinese, English or the column key, any case) to column
  keys, skips blank rows, and refuses an unknown or missing column naming the header's line.

Problems are ``ValidationFailed`` on ``file`` whose message names the line; each import checks
the values itself and reports them as :class:`LineError`, one per line and field.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from caseflow.errors import ValidationFailed

Lines = list[tuple[int, list[str]]]  # (line or row number, cells)
Rows = list[tuple[int, dict[str, str]]]  # (line or row number, {column key: text})


@dataclass(frozen=True)
class Column:
    """One column of a table: its key, Chinese and English headers, and whether it is required."""

    key: str
    zh: str
    en: str
    required: bool = False


@dataclass(frozen=True)
class LineError:
    """One problem with one field on one line (the header is line 1).

    ``where`` prefixes the text when a file holds several tables (``("部门 ", "departments ")``);
    ``noun`` is what the English text calls a line (``row`` in a spreadsheet).
    """

    line: int
    field: str  # the column key
    label: str  # the column's Chinese header
    zh: str
    en: str
    where: tuple[str, str] = ("", "")
    noun: str = "line"

    def text(self, lang: str = "zh") -> str:
        """``第 N 行: 字段 X: 问题`` or ``line N: field: problem``."""
        if lang == "en":
            return f"{self.where[1]}{self.noun} {self.line}: {self.field}: {self.en}"
        return f"{self.where[0]}第 {self.line} 行: 字段 {self.label}: {self.zh}"


def decode(data: bytes | str) -> str:
    """The text of an uploaded CSV file: UTF-8, with or without a BOM; ``ValidationFailed`` on ``file``."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed("CSV 文件必须是 UTF-8 编码 (the CSV file must be UTF-8)", field="file") from None
    return data.lstrip("\ufeff")


def csv_lines(text: str) -> Lines:
    """Every CSV record with the line it starts on; ``ValidationFailed`` naming the line it cannot read."""
    reader = csv.reader(io.StringIO(text))
    out: Lines = []
    start = 1
    try:
        for cells in reader:
            out.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ValidationFailed(f"第 {start} 行 (line {start}): 无法按 CSV 读取 (not readable as CSV): {exc}",
                               field="file", details={"line": start}) from None
    return out


def sheet_lines(rows: Iterable[Sequence[Any]]) -> Lines:
    """A sheet's rows (values, from row 1) as text cells numbered by spreadsheet row."""
    return [(number, [cell_text(v) for v in row]) for number, row in enumerate(rows, start=1)]


def cell_text(value: Any) -> str:
    """A spreadsheet value as the text a person typed (Excel turns 8000 into 8000.0; booleans as 是/否)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(lines: Lines, columns: Sequence[Column], *, where: tuple[str, str] = ("", ""),
               max_rows: int = 5000, lang: str = "zh") -> Rows:
    """Map the header (the first non-blank line) to column keys; every later non-blank line becomes
    ``(its number, {key: stripped text})``, a missing cell being ``""``.

    Raises ``ValidationFailed`` on ``file``: an empty table; an unknown or missing required column
    (the message names the header's line, ``details['header']`` lists each problem); more than
    ``max_rows`` rows. ``lang`` picks the language the message leads with.
    """
    by_header = {name.strip().lower(): col.key for col in columns for name in (col.zh, col.en, col.key)}
    body = [(n, cells) for n, cells in lines if any((c or "").strip() for c in cells)]
    if not body:
        raise ValidationFailed(_say(lang, f"{where[0]}文件是空的", f"{where[1]}the file is empty"), field="file")
    header_line, header_cells = body[0]
    header = [by_header.get((c or "").strip().lower()) for c in header_cells]
    unknown = [c.strip() for c, k in zip(header_cells, header) if k is None and (c or "").strip()]
    missing = [c for c in columns if c.required and c.key not in header]
    if unknown or missing:
        zh = ([f"未知的列 {', '.join(unknown)}"] if unknown else []) + \
            ([f"缺少必需的列 {', '.join(c.zh for c in missing)}"] if missing else [])
        en = ([f"unknown column {', '.join(unknown)}"] if unknown else []) + \
            ([f"missing column {', '.join(c.key for c in missing)}"] if missing else [])
        message = _say(lang, f"{where[0]}第 {header_line} 行: 表头: {'；'.join(zh)}（请使用模板的表头）",
                       f"{where[1]}line {header_line}: header: {'; '.join(en)}")
        raise ValidationFailed(message, field="file", details={
            "line": header_line, "header": zh if lang == "zh" else en,
            "report": [f"{where[1]}line {header_line}: header: {p}" for p in en],
            "report_zh": [f"{where[0]}第 {header_line} 行: 表头: {p}" for p in zh]})
    rows: Rows = []
    for number, cells in body[1:]:
        rows.append((number, {key: (cells[i] or "").strip() if i < len(cells) else ""
                              for i, key in enumerate(header) if key}))
    if len(rows) > max_rows:
        raise ValidationFailed(_say(lang, f"{where[0]}每次最多导入 {max_rows} 行", f"{where[1]}at most {max_rows} rows "
                                    "per import"), field="file")
    return rows


def _say(lang: str, zh: str, en: str) -> str:
    """One message in both languages, the chosen one first."""
    return f"{en} ({zh})" if lang == "en" else f"{zh} ({en})"
