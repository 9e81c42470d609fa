"""Administration: bulk import and export of departments, people, categories and grids.

``GET  /api/admin/templates/<kind>.xlsx|.csv``  the empty template (``kind``: a kind or ``all``);
``POST /api/admin/import/<kind>``               multipart ``file`` (XLSX or UTF-8 CSV); ``?dry_run=1``
                                                 checks only. 422 with a row-by-row report, nothing written;
``GET  /api/admin/export/<kind>.xlsx|.csv``     the records in the template format.
One record at a time (list, create, change, deactivate, history) of areas, grids, departments,
categories and people: :mod:`caseflow.api.admin_records`. Administrators only.
"""
from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields
from werkzeug.exceptions import RequestEntityTooLarge

from caseflow.errors import PayloadTooLarge, ValidationFailed
from caseflow.extensions import db
from caseflow.security.actor import Actor
from caseflow.services import admin_import as svc
from caseflow.services.access import deny, record_audit

from .admin_records import register as register_records
from .auth import current_actor

blp = Blueprint("admin_api", __name__, url_prefix="/api/admin",
                description="Administration: areas, grids, departments, categories and people one by one (ledgered); "
                            "bulk import and export (departments, people, categories, grids)")

KIND = "<any(departments, people, categories, grids, all):kind>"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def require_admin(action: str) -> Actor:
    """The calling administrator; anyone else gets 403 (kept for audit)."""
    actor = current_actor()
    assert actor is not None
    if "admin" not in actor.roles:
        err = deny(actor, action, "admin data", "only administrators import and export organisation data")
        db.session.rollback()
        record_audit(db.session(), err)
        raise err
    return actor


class ImportArgsSchema(Schema):
    """Options of an import."""

    dry_run = fields.Boolean(load_default=False, metadata={"description": "check every row, write nothing"})


class ImportResultSchema(Schema):
    """What an import wrote; ``passwords`` are the generated ones, shown this once."""

    created = fields.Dict(keys=fields.String(), values=fields.Integer())
    updated = fields.Dict(keys=fields.String(), values=fields.Integer())
    passwords = fields.List(fields.Dict(keys=fields.String(), values=fields.String()))
    dry_run = fields.Boolean()


def _xlsx(data: bytes, name: str) -> Response:
    return Response(data, mimetype=XLSX, headers={"Content-Disposition": f"attachment; filename={name}"})


def _csv(text: str, name: str) -> Response:
    return Response("\ufeff" + text, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


def _one_kind(kind: str) -> str:
    if kind == "all":
        raise ValidationFailed("a CSV file holds one kind: departments, people, categories or grids", field="kind")
    return kind


@blp.route(f"/templates/{KIND}.xlsx")
class TemplateXlsx(MethodView):
    @blp.response(200, content_type=XLSX)
    def get(self, kind: str) -> Response:
        """The empty XLSX template (``all``: one sheet per kind)."""
        require_admin("download template")
        return _xlsx(svc.to_xlsx(svc.template(kind)), f"caseflow-{kind}-template.xlsx")


@blp.route(f"/templates/{KIND}.csv")
class TemplateCsv(MethodView):
    @blp.response(200, content_type="text/csv")
    def get(self, kind: str) -> Response:
        """The empty CSV template of one kind (UTF-8 with BOM)."""
        require_admin("download template")
        return _csv(svc.to_csv(_one_kind(kind), []), f"caseflow-{kind}-template.csv")


@blp.route(f"/export/{KIND}.xlsx")
class ExportXlsx(MethodView):
    @blp.response(200, content_type=XLSX)
    def get(self, kind: str) -> Response:
        """Every record of the kind (``all``: every kind) in the template format."""
        require_admin("export")
        return _xlsx(svc.to_xlsx(svc.export(db.session(), kind)), f"caseflow-{kind}.xlsx")


@blp.route(f"/export/{KIND}.csv")
class ExportCsv(MethodView):
    @blp.response(200, content_type="text/csv")
    def get(self, kind: str) -> Response:
        """Every record of one kind as CSV (UTF-8 with BOM)."""
        require_admin("export")
        kind = _one_kind(kind)
        return _csv(svc.to_csv(kind, svc.export_rows(db.session(), kind)), f"caseflow-{kind}.csv")


@blp.route(f"/import/{KIND}")
class Import(MethodView):
    @blp.arguments(ImportArgsSchema, location="query")
    @blp.response(200, ImportResultSchema)
    def post(self, args: dict[str, Any], kind: str) -> dict[str, Any]:
        """Import multipart ``file`` (XLSX or UTF-8 CSV, with or without BOM) in the template format.

        Every row is checked first; any problem -> 422 with ``errors.rows`` (kind, row, field, message)
        and ``errors.report`` (``第 N 行: 字段 X: 问题``), and nothing is written. Existing codes
        (usernames) are updated. New people without a password get one, returned once.
        """
        actor = require_admin("import")
        try:
            upload = _file()
        except RequestEntityTooLarge:
            raise PayloadTooLarge("the file is too large", field="file") from None
        data = svc.read_upload(upload.filename or "", upload.read(), kind)
        return svc.import_rows(db.session(), data, dry_run=args["dry_run"], actor=actor).to_dict()


def _file() -> Any:
    upload = request.files.get("file")
    if upload is None:
        raise ValidationFailed("file is required (multipart/form-data field 'file')", field="file")
    return upload


register_records(blp, require_admin)
