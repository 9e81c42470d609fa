"""Console page of the bulk import/export: templates, upload with a row-by-row report, exports.

Administrators only. The page only translates: :mod:`caseflow.services.admin_import` checks,
writes (all or nothing) and reports. Downloads are the API's (the console session works there).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from caseflow.errors import DomainError, ValidationFailed
from caseflow.extensions import db
from caseflow.security.actor import Actor
from caseflow.services import admin_import as svc

from .guards import ADMIN_ROLES, current_person, login_required
from .i18n import current_language

bp = Blueprint("admin_import", __name__, url_prefix="/admin/import", template_folder="templates")

# This page's strings (zh first; English with ?lang=en).
TEXT: dict[str, dict[str, str]] = {
    "title": {"zh": "批量导入与导出", "en": "Bulk import and export"},
    "templates": {"zh": "下载模板", "en": "Templates"},
    "export": {"zh": "导出现有数据", "en": "Export current data"},
    "import": {"zh": "导入", "en": "Import"},
    "kind": {"zh": "数据类型", "en": "Kind"},
    "all": {"zh": "全部（多工作表 XLSX）", "en": "All (XLSX with one sheet per kind)"},
    "departments": {"zh": "部门", "en": "Departments"},
    "people": {"zh": "人员", "en": "People"},
    "categories": {"zh": "类别", "en": "Categories"},
    "grids": {"zh": "网格", "en": "Grids"},
    "file": {"zh": "文件（XLSX 或 UTF-8 CSV）", "en": "File (XLSX or UTF-8 CSV)"},
    "dry_run": {"zh": "只检查，不写入", "en": "Check only, write nothing"},
    "submit": {"zh": "上传并导入", "en": "Upload and import"},
    "rules": {"zh": "先检查每一行；任何一行有问题则不导入任何数据。代码（人员为用户名）已存在的记录将被更新。"
                    "未填写初始密码的新人员会生成密码，仅在此显示一次。",
              "en": "Every row is checked first; if any row has a problem nothing is imported. Records whose code "
                    "(username for people) exists are updated. New people without a password get a generated "
                    "one, shown here once."},
    "failed": {"zh": "导入未执行，没有写入任何数据。请修改以下问题后重新上传：",
               "en": "Nothing was imported. Fix these problems and upload again:"},
    "done": {"zh": "导入完成", "en": "Imported"},
    "checked": {"zh": "检查通过（未写入）", "en": "Check passed (nothing written)"},
    "created": {"zh": "新增", "en": "created"},
    "updated": {"zh": "更新", "en": "updated"},
    "passwords": {"zh": "生成的初始密码（仅显示这一次，请妥善转交）",
                  "en": "Generated passwords (shown this once; hand them over safely)"},
    "username": {"zh": "用户名", "en": "Username"},
    "password": {"zh": "初始密码", "en": "Password"},
}


def text(key: str) -> str:
    """This page's string in the session's language."""
    entry = TEXT[key]
    return entry.get(current_language(), entry["zh"])


@bp.route("/", methods=["GET", "POST"])
@login_required(roles=ADMIN_ROLES)
def page() -> tuple[str, int] | str:
    """The form; after an upload, the result or the row-by-row report."""
    result: dict[str, Any] | None = None
    report: list[str] = []
    error = ""
    status = 200
    if request.method == "POST":
        kind = request.form.get("kind", "all")
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValidationFailed("请选择文件 (choose a file)", field="file")
            data = svc.read_upload(upload.filename, upload.read(), kind)
            result = svc.import_rows(db.session(), data, dry_run=bool(request.form.get("dry_run")),
                                    actor=Actor.from_person(current_person())).to_dict()  # type: ignore[arg-type]
        except svc.ImportRejected as exc:
            report = [e.text(current_language()) for e in exc.errors]
            status = 422
        except DomainError as exc:
            error, status = exc.message, exc.status
    return render_template("admin/import.html", kinds=svc.KINDS, text=text, result=result, report=report,
                           error=error), status
