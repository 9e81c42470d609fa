"""Bulk import and export of departments, people, categories and grids (XLSX or CSV).

* Templates: one sheet per kind, row 1 holds the column headers (Chinese, as exported; the
  English keys are accepted too). ``template(kind)`` builds an empty one.
* Import validates every row first and reports every problem as
  ``第 N 行: 字段 X: 问题`` (``row N: field X: problem``; N is the spreadsheet row, the
  header being row 1). If any row fails nothing is imported; otherwise everything is written
  in one transaction.
* Duplicates: a row whose code (username for people) already exists UPDATES that record;
  the same code twice in one file is an error. Nothing is ever deleted by an import.
* People: roles by code (``handler``) or Chinese name (``处置部门``), separated by ``,``
  ``，`` ``、`` or ``;``; the department and center by code. A new person without a password
  gets a generated one, returned once in the result (only its argon2 hash is stored); an
  existing person's password changes only when the row gives one.
* Centers and areas are reference data set up with the system; rows name them by code.
* Export writes the same template format (passwords are never exported), so an export
  imports unchanged into another installation: ``export → import → export`` is stable.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.orm import Session

from caseflow.errors import ValidationFailed
from caseflow.models import (
    ROLES,
    TIERS,
    ActionGroup,
    Area,
    Category,
    Center,
    Department,
    Grid,
    Person,
    PersonRole,
    utcnow,
)
from caseflow.security.actor import Actor
from caseflow.security.passwords import hash_password
from caseflow.services import ledger
from caseflow.services.access import admin_role, record_audit
from caseflow.services.people import MIN_PASSWORD_LENGTH, USERNAME_RE, generate_password, normalise_username
from caseflow.services.tabular import Column, LineError, Rows, csv_lines, decode, read_table, sheet_lines

# Order matters: departments before the people who belong to them, people before heads/leaders.
KINDS = ("departments", "people", "categories", "grids")
# The ledger item type of each kind's records (the chains single changes are ledgered on, too).
LEDGER_TYPES = {"departments": "department", "people": "person", "categories": "category", "grids": "grid"}
MAX_ROWS = 5000
DEPARTMENT_KINDS = ("department", "unit")
ROLE_NAMES_ZH = {"liaison": "应急联络员", "dispatcher": "受理派遣员", "handler": "处置部门", "duty_lead": "值班长",
                 "duty_officer": "值班员", "leader": "领导", "admin": "系统管理员"}
_ROLE_BY_NAME = {**{r: r for r in ROLES}, **{zh: r for r, zh in ROLE_NAMES_ZH.items()}}
_YES = {"是", "y", "yes", "true", "1", "√"}
_NO = {"否", "n", "no", "false", "0", "×", ""}
_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")


COLUMNS: dict[str, tuple[Column, ...]] = {
    "departments": (
        Column("code", "代码", "Code", True), Column("name", "名称", "Name", True),
        Column("kind", "类型", "Kind"), Column("center", "所属中心代码", "Center code"),
        Column("head", "负责人用户名", "Head (username)"), Column("working_hours", "工作时间", "Working hours"),
        Column("action_group", "应急行动组名称", "Action group name"),
        Column("action_group_leader", "应急行动组组长用户名", "Action group leader (username)"),
    ),
    "people": (
        Column("username", "用户名", "Username", True), Column("full_name", "姓名", "Full name", True),
        Column("roles", "角色", "Roles", True), Column("department", "部门代码", "Department code"),
        Column("center", "所属中心代码", "Center code"), Column("phone", "电话", "Phone"),
        Column("email", "邮箱", "Email"), Column("active", "启用", "Active"),
        Column("password", "初始密码", "Initial password"),
    ),
    "categories": (
        Column("code", "代码", "Code", True), Column("name", "名称", "Name", True),
        Column("field", "分管领域", "Field"), Column("in_scope", "受理范围内", "In scope"),
        Column("responsible_department", "责任部门代码", "Responsible department code"),
        Column("default_tier", "默认分级", "Default tier"),
    ),
    "grids": (
        Column("code", "代码", "Code", True), Column("name", "名称", "Name", True),
        Column("area", "区域代码", "Area code", True), Column("center", "所属中心代码", "Center code"),
        Column("leader", "网格长用户名", "Grid leader (username)"), Column("shape", "边界 GeoJSON", "Shape (GeoJSON)"),
    ),
}
SHEET_TITLES = {"departments": "部门", "people": "人员", "categories": "类别", "grids": "网格"}
_SHEET_KIND = {**{k: k for k in KINDS}, **{v: k for k, v in SHEET_TITLES.items()}}


@dataclass(frozen=True)
class RowError(LineError):
    """One problem in one row of one kind: ``line`` is the spreadsheet row number (header = 1)."""

    kind: str = ""
    noun: str = "row"

    @property
    def row(self) -> int:
        """The spreadsheet row number."""
        return self.line

    def to_dict(self) -> dict[str, Any]:
        """For the API's error report (``field`` is the column's Chinese header, as in the template)."""
        return {"kind": self.kind, "row": self.line, "field": self.label, "key": self.field, "message": self.zh,
                "message_en": self.en, "line": self.text("zh"), "line_en": self.text("en")}


class ImportRejected(ValidationFailed):
    """Some rows are invalid; nothing was imported. ``errors`` lists every problem."""

    def __init__(self, errors: list[RowError]) -> None:
        first = errors[0].text("zh")
        more = f"（另有 {len(errors) - 1} 处问题）" if len(errors) > 1 else ""
        super().__init__(f"导入未执行，没有写入任何数据: {first}{more}", field="file",
                         details={"rows": [e.to_dict() for e in errors],
                                  "report": [e.text("zh") for e in errors]})
        self.errors = errors


@dataclass
class ImportResult:
    """What an import did: created/updated counts per kind and the generated passwords (shown once)."""

    created: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)
    passwords: list[dict[str, str]] = field(default_factory=list)
    dry_run: bool = False
    # (ledger item type, record, created) of every record written, for the ledger.
    records: list[tuple[str, Any, bool]] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """For the API."""
        return {"created": self.created, "updated": self.updated, "passwords": self.passwords,
                "dry_run": self.dry_run}


# --- reading files ---------------------------------------------------------------------------

def read_upload(filename: str, data: bytes, kind: str | None) -> dict[str, Rows]:
    """The rows of an uploaded XLSX (one or more sheets) or CSV (one kind), by kind.

    ``kind`` names the kind of a CSV or a one-sheet workbook; ``None`` (or ``all``) reads every
    sheet named after a kind. Raises ``ValidationFailed`` naming ``file`` or ``kind``.
    """
    kind = None if kind in (None, "", "all") else kind
    if kind is not None and kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)} or all", field="kind")
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        return _read_xlsx(data, kind)
    if kind is None:
        raise ValidationFailed("a CSV file holds one kind: choose departments, people, categories or grids",
                               field="kind")
    return {kind: _rows(kind, csv_lines(decode(data)))}


def _read_xlsx(data: bytes, kind: str | None) -> dict[str, Rows]:
    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a broken file
        raise ValidationFailed("不是有效的 XLSX 文件 (not a readable XLSX file)", field="file") from None
    try:
        out: dict[str, Rows] = {}
        for ws in wb.worksheets:
            sheet_kind = _SHEET_KIND.get(ws.title.strip())
            if kind is not None and len(wb.worksheets) == 1:
                sheet_kind = kind  # a one-sheet file is the kind asked for, whatever its title
            if sheet_kind is None or (kind is not None and sheet_kind != kind):
                continue
            out[sheet_kind] = _rows(sheet_kind, sheet_lines(ws.iter_rows(values_only=True)))
    finally:
        wb.close()
    if not out:
        wanted = kind or " / ".join(f"{k} ({SHEET_TITLES[k]})" for k in KINDS)
        raise ValidationFailed(f"工作簿中没有名为 {wanted} 的工作表 (no sheet named {wanted})", field="file")
    return out


def _rows(kind: str, lines: list[tuple[int, list[str]]]) -> Rows:
    """The rows of one kind's table, numbered as in the file (the shared reader: header, blanks, limit)."""
    return read_table(lines, COLUMNS[kind], where=(f"{SHEET_TITLES[kind]} ", f"{kind} "), max_rows=MAX_ROWS)


# --- validation ------------------------------------------------------------------------------

class _Checker:
    """Validates rows of every kind against the database and the other rows of the same import."""

    def __init__(self, session: Session, data: dict[str, Rows]) -> None:
        self.s = session
        self.data = data
        self.errors: list[RowError] = []
        self.centers = set(session.execute(select(Center.code)).scalars())
        self.areas = set(session.execute(select(Area.code)).scalars())
        self.departments = set(session.execute(select(Department.code)).scalars()) | \
            {r.get("code", "") for _, r in data.get("departments", [])}
        self.usernames = {u.lower() for u in session.execute(select(Person.username)).scalars()} | \
            {normalise_username(r.get("username", "")) for _, r in data.get("people", [])}
        # Deactivated records keep their history but take no new people, categories or grids.
        self.inactive = {
            "department": set(session.execute(select(Department.code).where(Department.active.is_(False))).scalars()),
            "area": set(session.execute(select(Area.code).where(Area.active.is_(False))).scalars()),
        }

    def bad(self, kind: str, row: int, column: str, zh: str, en: str) -> None:
        label = next(c.zh for c in COLUMNS[kind] if c.key == column)
        self.errors.append(RowError(row, column, label, zh, en, where=(f"{SHEET_TITLES[kind]} ", f"{kind} "),
                                    kind=kind))

    def check(self) -> list[RowError]:
        for kind in KINDS:
            rows = self.data.get(kind)
            if rows is None:
                continue
            seen: dict[str, int] = {}
            key = "username" if kind == "people" else "code"
            for number, row in rows:
                for col in COLUMNS[kind]:
                    if col.required and not row.get(col.key):
                        self.bad(kind, number, col.key, "必填，不能为空", "is required")
                ident = normalise_username(row.get(key, "")) if kind == "people" else row.get(key, "")
                if ident:
                    if ident in seen:
                        self.bad(kind, number, key, f"与第 {seen[ident]} 行重复", f"repeats row {seen[ident]}")
                    seen.setdefault(ident, number)
                getattr(self, f"_{kind}")(number, row)
        return sorted(self.errors, key=lambda e: (KINDS.index(e.kind), e.line))

    def _code(self, kind: str, number: int, row: dict[str, str]) -> None:
        code = row.get("code", "")
        if code and not _CODE_RE.match(code):
            self.bad(kind, number, "code", "只能包含字母、数字和 _ . -，最长 40 个字符",
                     "letters, digits, _ . - only, at most 40 characters")
        if len(row.get("name", "")) > 120:
            self.bad(kind, number, "name", "最长 120 个字符", "at most 120 characters")

    def _ref(self, kind: str, number: int, row: dict[str, str], column: str, known: set[str], what: str,
             what_en: str) -> None:
        value = row.get(column, "")
        if value and (value.lower() if column in ("head", "action_group_leader", "leader") else value) not in known:
            self.bad(kind, number, column, f"找不到{what} {value!r}", f"no {what_en} {value!r}")
        elif value and value in self.inactive.get(what_en, ()):
            self.bad(kind, number, column, f"{what} {value!r} 已停用", f"{what_en} {value!r} is inactive")

    def _departments(self, number: int, row: dict[str, str]) -> None:
        self._code("departments", number, row)
        if row.get("kind") and row["kind"] not in DEPARTMENT_KINDS and row["kind"] not in ("部门", "单位"):
            self.bad("departments", number, "kind", "应为 department(部门) 或 unit(单位)",
                     "must be department or unit")
        self._ref("departments", number, row, "center", self.centers, "中心", "center")
        self._ref("departments", number, row, "head", self.usernames, "用户", "user")
        self._ref("departments", number, row, "action_group_leader", self.usernames, "用户", "user")
        if row.get("action_group_leader") and not row.get("action_group"):
            self.bad("departments", number, "action_group", "填写了组长时必须填写行动组名称",
                     "is required when a leader is given")
        hours = row.get("working_hours", "")
        if hours and not re.match(r"^\d\d:\d\d-\d\d:\d\d(,\d\d:\d\d-\d\d:\d\d)*$", hours):
            self.bad("departments", number, "working_hours", "格式应为 08:30-12:00,13:30-17:30",
                     "format is 08:30-12:00,13:30-17:30")

    def _people(self, number: int, row: dict[str, str]) -> None:
        username = normalise_username(row.get("username", ""))
        if username and not USERNAME_RE.match(username):
            self.bad("people", number, "username", "2-64 个字符：小写字母、数字、_ . -",
                     "2-64 characters: lower-case letters, digits, _ . -")
        roles = split_roles(row.get("roles", ""))
        unknown = [r for r in roles if r not in _ROLE_BY_NAME]
        if unknown:
            self.bad("people", number, "roles", f"未知的角色 {', '.join(unknown)}",
                     f"unknown role {', '.join(unknown)}; roles are {', '.join(ROLES)}")
        self._ref("people", number, row, "department", self.departments, "部门", "department")
        self._ref("people", number, row, "center", self.centers, "中心", "center")
        if "handler" in {_ROLE_BY_NAME.get(r) for r in roles} and not row.get("department"):
            self.bad("people", number, "department", "处置部门人员必须填写部门", "a handler needs a department")
        if row.get("password") and len(row["password"]) < MIN_PASSWORD_LENGTH:
            self.bad("people", number, "password", f"至少 {MIN_PASSWORD_LENGTH} 个字符",
                     f"at least {MIN_PASSWORD_LENGTH} characters")
        if row.get("email") and not re.match(r"^[^@\s]+@[^@\s]+$", row["email"]):
            self.bad("people", number, "email", "不是有效的邮箱地址", "is not an email address")
        if _flag(row.get("active", "")) is None:
            self.bad("people", number, "active", "应为 是 或 否", "must be yes or no")

    def _categories(self, number: int, row: dict[str, str]) -> None:
        self._code("categories", number, row)
        if _flag(row.get("in_scope", "")) is None:
            self.bad("categories", number, "in_scope", "应为 是 或 否", "must be yes or no")
        self._ref("categories", number, row, "responsible_department", self.departments, "部门", "department")
        if row.get("default_tier") and row["default_tier"] not in TIERS:
            self.bad("categories", number, "default_tier", f"应为 {' / '.join(TIERS)} 之一",
                     f"must be one of {', '.join(TIERS)}")

    def _grids(self, number: int, row: dict[str, str]) -> None:
        self._code("grids", number, row)
        self._ref("grids", number, row, "area", self.areas, "区域", "area")
        self._ref("grids", number, row, "center", self.centers, "中心", "center")
        self._ref("grids", number, row, "leader", self.usernames, "用户", "user")
        if row.get("shape"):
            try:
                shape = json.loads(row["shape"])
                ok = isinstance(shape, dict) and shape.get("type") in ("Polygon", "MultiPolygon")
            except ValueError:
                ok = False
            if not ok:
                self.bad("grids", number, "shape", "应为 GeoJSON Polygon 或 MultiPolygon",
                         "must be a GeoJSON Polygon or MultiPolygon")


def split_roles(text: str) -> list[str]:
    """Role names from ``handler, duty_lead`` / ``处置部门、值班长``."""
    return [r.strip() for r in re.split(r"[,，、;；\s]+", text or "") if r.strip()]


def _flag(text: str, default: bool = True) -> bool | None:
    value = (text or "").strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return default if value == "" else False
    return None


# --- import ----------------------------------------------------------------------------------

def import_rows(session: Session, data: dict[str, Rows], *, dry_run: bool = False,
                actor: Actor | None = None) -> ImportResult:
    """Validate every row of every kind, then write them all in one transaction (or nothing).

    Raises ``ImportRejected`` listing every problem (nothing written). Commits unless ``dry_run``.
    With ``actor`` (an administrator; anyone else is refused) every record written is ledgered on
    its own chain (``import_department``, ``import_person``, ...; see :mod:`admin_records`).
    """
    role = None
    if actor is not None:
        try:
            role = admin_role(actor, "import", "admin data", "organisation data")
        except BaseException as exc:
            session.rollback()
            record_audit(session, exc)
            raise
    errors = _Checker(session, data).check()
    if errors:
        session.rollback()
        raise ImportRejected(errors)
    result = ImportResult(dry_run=dry_run)
    try:
        codes = {c.code: c.id for c in session.execute(select(Center)).scalars()}
        _apply_departments(session, data.get("departments", []), codes, result, heads=False)
        _apply_people(session, data.get("people", []), codes, result)
        _apply_departments(session, data.get("departments", []), codes, result, heads=True)
        _apply_categories(session, data.get("categories", []), result)
        _apply_grids(session, data.get("grids", []), codes, result)
        if actor is not None and role is not None and not dry_run:
            _ledger(session, actor, role, result)
        if dry_run:
            session.rollback()
            result.passwords = []  # nothing was stored, so no password exists
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    return result


def _count(result: ImportResult, kind: str, created: bool, record: Any) -> None:
    target = result.created if created else result.updated
    target[kind] = target.get(kind, 0) + 1
    result.records.append((LEDGER_TYPES[kind], record, created))


def _ledger(session: Session, actor: Actor, role: str, result: ImportResult) -> None:
    """One entry per record written, on the record's chain, as single changes are ledgered."""
    session.flush()
    now = utcnow()
    for item_type, record, created in result.records:
        ident = {"username": record.username} if item_type == "person" else {"code": record.code}
        ledger.append(session, item_type=item_type, item_id=record.id, trigger=f"import_{item_type}", actor=actor,
                      role=role, at=now, from_state=None, to_state=None,
                      payload={**ident, "created": created, "source": "import"})


def _department_by_code(session: Session) -> dict[str, Department]:
    return {d.code: d for d in session.execute(select(Department)).scalars()}


def _person_by_username(session: Session) -> dict[str, Person]:
    return {p.username.lower(): p for p in session.execute(select(Person)).scalars()}


def _apply_departments(session: Session, rows: Rows, centers: dict[str, int], result: ImportResult, *,
                       heads: bool) -> None:
    """First pass: the departments themselves; second pass (``heads``): heads and action groups."""
    existing = _department_by_code(session)
    people = _person_by_username(session) if heads else {}
    for _, row in rows:
        dept = existing.get(row["code"])
        if not heads:
            created = dept is None
            if dept is None:
                dept = Department(code=row["code"])
                session.add(dept)
            dept.name = row["name"]
            dept.kind = {"部门": "department", "单位": "unit"}.get(row.get("kind", ""), row.get("kind") or "department")
            dept.center_id = centers.get(row.get("center", "")) if row.get("center") else None
            dept.working_hours = row.get("working_hours", "")
            _count(result, "departments", created, dept)
            continue
        assert dept is not None
        dept.head = people.get(row["head"].lower()) if row.get("head") else None
        group = session.execute(select(ActionGroup).where(ActionGroup.department_id == dept.id)).scalar_one_or_none()
        if row.get("action_group"):
            if group is None:
                group = ActionGroup(department=dept, name=row["action_group"])
                session.add(group)
            group.name = row["action_group"]
            group.leader = people.get(row["action_group_leader"].lower()) if row.get("action_group_leader") else None
    session.flush()


def _apply_people(session: Session, rows: Rows, centers: dict[str, int], result: ImportResult) -> None:
    departments = _department_by_code(session)
    existing = _person_by_username(session)
    for _, row in rows:
        username = normalise_username(row["username"])
        person = existing.get(username)
        created = person is None
        if person is None:
            person = Person(username=username, channels=[], locale="zh")
            session.add(person)
            password = row.get("password") or generate_password()
            if not row.get("password"):
                result.passwords.append({"username": username, "password": password})
            person.password_hash = hash_password(password)
        elif row.get("password"):
            person.password_hash = hash_password(row["password"])
        person.full_name = row["full_name"]
        person.department_id = departments[row["department"]].id if row.get("department") else None
        person.center_id = centers.get(row.get("center", "")) if row.get("center") else None
        person.phone = row.get("phone", "")
        person.email = row.get("email", "")
        person.active = bool(_flag(row.get("active", "")))
        roles = list(dict.fromkeys(_ROLE_BY_NAME[r] for r in split_roles(row["roles"])))
        # Change the rows one by one: replacing the list would insert before deleting (unique person, role).
        for role_row in [r for r in person.role_rows if r.role not in roles]:
            person.role_rows.remove(role_row)
        held = {r.role for r in person.role_rows}
        person.role_rows.extend(PersonRole(role=r) for r in roles if r not in held)
        _count(result, "people", created, person)
    session.flush()


def _apply_categories(session: Session, rows: Rows, result: ImportResult) -> None:
    departments = _department_by_code(session)
    existing = {c.code: c for c in session.execute(select(Category)).scalars()}
    for _, row in rows:
        cat = existing.get(row["code"])
        created = cat is None
        if cat is None:
            cat = Category(code=row["code"])
            session.add(cat)
        cat.name = row["name"]
        cat.field = row.get("field", "")
        cat.in_scope = bool(_flag(row.get("in_scope", "")))
        dept = row.get("responsible_department")
        cat.responsible_department_id = departments[dept].id if dept else None
        cat.default_tier = row.get("default_tier") or "general"
        _count(result, "categories", created, cat)
    session.flush()


def _apply_grids(session: Session, rows: Rows, centers: dict[str, int], result: ImportResult) -> None:
    areas = {a.code: a.id for a in session.execute(select(Area)).scalars()}
    people = _person_by_username(session)
    existing = {g.code: g for g in session.execute(select(Grid)).scalars()}
    for _, row in rows:
        grid = existing.get(row["code"])
        created = grid is None
        if grid is None:
            grid = Grid(code=row["code"])
            session.add(grid)
        grid.name = row["name"]
        grid.area_id = areas[row["area"]]
        grid.center_id = centers.get(row.get("center", "")) if row.get("center") else None
        grid.leader_id = people[row["leader"].lower()].id if row.get("leader") else None
        grid.shape = json.loads(row["shape"]) if row.get("shape") else None
        _count(result, "grids", created, grid)
    session.flush()


# --- export and templates --------------------------------------------------------------------

def export_rows(session: Session, kind: str) -> list[dict[str, str]]:
    """Every record of ``kind`` as template rows (column key -> text), by code."""
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)}", field="kind")
    centers = {c.id: c.code for c in session.execute(select(Center)).scalars()}
    if kind == "departments":
        groups = {g.department_id: g for g in session.execute(select(ActionGroup)).scalars()}
        out = []
        for d in session.execute(select(Department).order_by(Department.code)).scalars():
            g = groups.get(d.id)
            out.append({"code": d.code, "name": d.name, "kind": d.kind, "center": centers.get(d.center_id, ""),
                        "head": d.head.username if d.head else "", "working_hours": d.working_hours or "",
                        "action_group": g.name if g else "",
                        "action_group_leader": g.leader.username if g and g.leader else ""})
        return out
    if kind == "people":
        return [{"username": p.username, "full_name": p.full_name, "roles": ",".join(sorted(p.roles)),
                 "department": p.department.code if p.department else "", "center": centers.get(p.center_id, ""),
                 "phone": p.phone or "", "email": p.email or "", "active": "是" if p.active else "否",
                 "password": ""}
                for p in session.execute(select(Person).order_by(Person.username)).scalars()]
    if kind == "categories":
        return [{"code": c.code, "name": c.name, "field": c.field or "", "in_scope": "是" if c.in_scope else "否",
                 "responsible_department": c.responsible_department.code if c.responsible_department else "",
                 "default_tier": c.default_tier}
                for c in session.execute(select(Category).order_by(Category.code)).scalars()]
    return [{"code": g.code, "name": g.name, "area": g.area.code, "center": centers.get(g.center_id, ""),
             "leader": g.leader.username if g.leader else "",
             "shape": json.dumps(g.shape, ensure_ascii=False, separators=(",", ":")) if g.shape else ""}
            for g in session.execute(select(Grid).order_by(Grid.code)).scalars()]


def to_xlsx(sheets: dict[str, Iterable[dict[str, str]]]) -> bytes:
    """A workbook with one sheet per kind: header row (Chinese), then the rows."""
    wb = Workbook()
    wb.remove(wb.active)
    for kind, rows in sheets.items():
        ws = wb.create_sheet(SHEET_TITLES[kind])
        ws.append([c.zh for c in COLUMNS[kind]])
        for row in rows:
            # Text cells: codes like 007 and phone numbers keep their leading zeros.
            ws.append([row.get(c.key, "") for c in COLUMNS[kind]])
        for cell in ws[1]:
            cell.font = Font(bold=True)
    if not sheets:
        wb.create_sheet("empty")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def to_csv(kind: str, rows: Iterable[dict[str, str]]) -> str:
    """One kind as CSV (header row in Chinese); the caller adds the BOM Excel wants."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([c.zh for c in COLUMNS[kind]])
    for row in rows:
        writer.writerow([row.get(c.key, "") for c in COLUMNS[kind]])
    return buf.getvalue()


def template(kind: str) -> dict[str, list[dict[str, str]]]:
    """The empty template of ``kind`` (``all``: every kind), as sheets for ``to_xlsx``."""
    if kind == "all":
        return {k: [] for k in KINDS}
    if kind not in KINDS:
        raise ValidationFailed(f"kind must be one of {', '.join(KINDS)} or all", field="kind")
    return {kind: []}


def export(session: Session, kind: str) -> dict[str, list[dict[str, str]]]:
    """The records of ``kind`` (``all``: every kind) as sheets for ``to_xlsx``."""
    kinds = KINDS if kind == "all" else (kind,)
    return {k: export_rows(session, k) for k in kinds}


__all__ = ["COLUMNS", "KINDS", "ImportRejected", "ImportResult", "RowError", "export", "import_rows",
           "read_upload", "template", "to_csv", "to_xlsx"]
