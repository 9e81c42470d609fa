"""The reporter's page (巡查员上报), made for a phone: a patrol inspector or grid worker reports a
problem with its location and photos (ticking 紧急 when it must be commanded at once), follows
every case they reported (also before it is registered or dispatched, and the original a
duplicate of theirs was merged into), and adds photos to their own case.

Reporting goes through the intake service (channel ``patrol``) and every photo through the
attachments service, so size and type limits, content sniffing and checksums are theirs. A
case the person did not report is "not found" here (404, and the attempt is audited), even
when their department may see it on its own pages.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from caseflow.errors import DomainError, NotFound, PayloadTooLarge, ValidationFailed
from caseflow.extensions import db
from caseflow.models import Case, Category
from caseflow.security.actor import Actor
from caseflow.services import attachments
from caseflow.services.access import deny, person_reported_case, record_audit, reported_by_clause
from caseflow.services.active_records import offered, offered_grids
from caseflow.services.cases import intake
from caseflow.workflow.engine import get_catalog

from .console_forms import explain, flag, new_form_token, submit_once, text, whole
from .guards import PATROL_ROLES, login_required
from .i18n import t
from .work import me

bp = Blueprint("patrol", __name__, url_prefix="/patrol")
bp.add_app_template_global(new_form_token, "form_token")

CHANNEL = "patrol"
MAX_PHOTOS = 6
LIMIT = 100


def my_cases(person_id: int) -> list[Any]:
    """The cases the person reported (merged originals included), newest first, as page rows."""
    from .pages import rows_for

    items = list(db.session.execute(
        select(Case).where(reported_by_clause(person_id)).order_by(Case.reported_at.desc(), Case.id.desc())
        .limit(LIMIT)).scalars())
    return rows_for(items)


def photo_counts(case_ids: list[int]) -> dict[int, int]:
    """How many photos each case has (any uploader)."""
    from sqlalchemy import func

    from caseflow.models import Attachment

    if not case_ids:
        return {}
    rows = db.session.execute(select(Attachment.item_id, func.count()).where(
        Attachment.item_type == "case", Attachment.item_id.in_(case_ids), Attachment.kind == "photo")
        .group_by(Attachment.item_id)).all()
    return {item_id: count for item_id, count in rows}


def _own_case(case_id: int, action: str) -> Case:
    """The case when the signed-in person reported it; 404 otherwise (the attempt is audited)."""
    _, actor = me()
    session = db.session()
    case = session.get(Case, case_id)
    if case is None:
        abort(404)
    if not person_reported_case(session, actor, case_id):
        err = deny(actor, action, f"case {case_id}", "not reported by this person", NotFound("case not found"))
        session.rollback()
        record_audit(session, err)
        abort(404)
    return case


def _choices() -> dict[str, Any]:
    """A new report chooses from active in-scope categories and grids of active areas."""
    session = db.session()
    return {
        "categories": [c for c in offered(session, Category) if c.in_scope],
        "grids": offered_grids(session),
        "max_photos": MAX_PHOTOS,
    }


@bp.get("/")
@login_required(roles=PATROL_ROLES)
def index() -> str:
    """The report form and the cases I reported, with their state."""
    person, _ = me()
    rows = my_cases(person.id)
    return render_template("patrol/index.html", cases=rows, photos=photo_counts([r.item.id for r in rows]),
                           **_choices())


@bp.get("/cases/<int:case_id>")
@login_required(roles=PATROL_ROLES)
def case(case_id: int) -> str:
    """One case I reported: its state and steps so far, its photos, and a form to add more."""
    from .dispatch_case import evidence, history
    from .pages import final_states, rows_for

    item = _own_case(case_id, "open patrol case page")
    merged_into = None
    if (item.data or {}).get("merged_into"):
        merged_into = db.session.get(Case, item.data["merged_into"])
    steps = [h for h in history(item.id)
             if h.changed_state or h.trigger in ("absorb_duplicate", "reclassify", "set_urgent")]
    return render_template("patrol/case.html", item=item, row=rows_for([item])[0], steps=steps,
                           evidence=evidence(item.id), merged_into=merged_into,
                           can_add=item.state not in final_states("case"), max_photos=MAX_PHOTOS)


def _photos() -> list[FileStorage]:
    """The photos sent with the form (empty file fields skipped: the camera was not used)."""
    try:
        files = [f for f in request.files.getlist("photo") if f and f.filename]
    except RequestEntityTooLarge:
        raise PayloadTooLarge(t("patrol.too_large"), field="photo") from None
    if len(files) > MAX_PHOTOS:
        raise ValidationFailed(t("patrol.too_many", n=MAX_PHOTOS), field="photo")
    return files


def store_photos(case_id: int, actor: Actor, files: list[FileStorage]) -> tuple[int, list[str]]:
    """Store each photo through the attachments service; returns (stored, messages of refused ones).

    One refused photo (too big, not an image) does not lose the others.
    """
    stored, refused = 0, []
    for upload in files:
        try:
            attachments.store(db.session(), item_type="case", item_id=case_id, actor=actor,
                              filename=upload.filename, stream=upload.stream)
        except DomainError as exc:
            db.session.rollback()
            refused.append(t("patrol.photo_error", name=upload.filename, message=explain(exc, named=False)))
            continue
        stored += 1
    return stored, refused


def _coordinate(name: str, limit: float) -> float | None:
    raw = (request.form.get(name) or "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(t("form.not_number"), field=name) from None
    if not -limit <= value <= limit:
        raise ValidationFailed(t("form.out_of_range", low=-limit, high=limit), field=name)
    return value


@bp.post("/report")
@login_required(roles=PATROL_ROLES)
def report() -> Response:
    """File a new report (channel ``patrol``) with its location and photos; then open its page.

    An urgent report (紧急) is commanded at once: the intake service tells its commanders.
    """
    _, actor = me()

    def call() -> Any:
        files = _photos()  # refuse too many photos before a case exists
        case, _created = intake.report(
            db.session(), get_catalog(), channel=CHANNEL, actor=actor, title=text("title", required=True, max_len=200),
            description=text("description", max_len=4000), category_id=whole("category_id", required=True),
            lat=_coordinate("lat", 90.0), lon=_coordinate("lon", 180.0), address=text("address", max_len=200),
            grid_id=whole("grid_id"), urgent=flag("urgent"))
        stored, refused = store_photos(case.id, actor, files)
        return case.id, stored, refused

    def done(result: Any) -> Response:
        if result is None:
            return redirect(url_for("patrol.index") + "#report")
        case_id, _stored, refused = result
        for message in refused:
            flash(message, "error")
        return redirect(url_for("patrol.case", case_id=case_id))

    return submit_once(call, t("flash.done.patrol.report"), done)


@bp.post("/cases/<int:case_id>/photos")
@login_required(roles=PATROL_ROLES)
def add_photos(case_id: int) -> Response:
    """Add photos to a case I reported."""
    _own_case(case_id, "add patrol photos")
    _, actor = me()

    def call() -> Any:
        files = _photos()
        if not files:
            raise ValidationFailed(t("patrol.no_photo"), field="photo")
        stored, refused = store_photos(case_id, actor, files)
        if not stored:  # nothing kept: say why, and let the form be sent again
            raise ValidationFailed("; ".join(refused), field="photo")
        return stored, refused

    def done(result: Any) -> Response:
        if result is not None:
            for message in result[1]:
                flash(message, "error")
        return redirect(url_for("patrol.case", case_id=case_id) + "#photos")

    return submit_once(call, t("flash.done.patrol.photos"), done)
