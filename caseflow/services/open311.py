"""Open311 GeoReport v2 on top of the case lifecycle: services are in-scope categories, service
requests are cases.

Our states map to ``open``/``closed``; the detail goes in ``status_notes``; ``expected_datetime``
is the case's earliest pending deadline. Submissions go through the intake service like any
other channel.

The GET endpoints are public (no api_key), so they show only public cases: those submitted
through Open311 (``case.data["public"]`` is set at submission) and those a dispatcher made
public (:func:`set_public`); a hotline caller's or a patrol's case never appears. What they
show is public too: ``status_notes`` is the state's label (and a void's reason code in words),
never a ledger comment, a note or a person's name; ``agency_responsible`` is the department
or center that holds the case.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from caseflow.config import DefaultConfig
from caseflow.errors import NotFound, PermissionDenied, ValidationFailed
from caseflow.models import Case, Category, Deadline, utcnow
from caseflow.security.actor import Actor
from caseflow.services import ledger
from caseflow.services.access import deny
from caseflow.services.active_records import offered, require_active
from caseflow.services.cases import intake
from caseflow.services.cases.guard import ensure_writable
from caseflow.services.transition import lock_item
from caseflow.services.unit_of_work import unit_of_work
from caseflow.workflow.engine import WorkflowCatalog

CLOSED_STATES = ("closed", "archived", "voided")
# API key kinds that may submit, and the intake channel each one reports on.
CHANNEL_FOR_CLIENT = {"app": "app", "hotline": "hotline", "sensor": "sensor", "person": "patrol"}
# Defaults when the app config lacks them (documented in caseflow/config.py and the README).
DEFAULT_JURISDICTION = DefaultConfig.OPEN311_JURISDICTION_ID
DEFAULT_MAX_REQUESTS = DefaultConfig.OPEN311_MAX_REQUESTS
DEFAULT_WINDOW_DAYS = DefaultConfig.OPEN311_WINDOW_DAYS
MAX_DESCRIPTION = 4000
# The key in case.data that puts a case on the public GET endpoints.
PUBLIC_KEY = "public"
# Who may show or hide a case there.
PUBLISHER_ROLES = ("dispatcher", "admin")
# A void's reason code, in words the public may read (the dispatcher's note stays inside).
VOID_REASON_WORDS: dict[str, dict[str, str]] = {
    "duplicate": {"zh": "重复上报，已并入原案件处理", "en": "a duplicate; handled with the original report"},
    "out_of_scope": {"zh": "不属于受理范围", "en": "outside our scope"},
    "not_registrable": {"zh": "经核实不予立案", "en": "not registrable after verification"},
}

# Every service asks the same questions; answers are kept in case.data["open311"]["attributes"].
ATTRIBUTES: tuple[dict[str, Any], ...] = (
    {
        "variable": True, "code": "severity", "datatype": "singlevaluelist", "required": False,
        "datatype_description": "low / normal / high", "order": 1, "description": "问题严重程度",
        "values": [{"key": "low", "name": "轻微"}, {"key": "normal", "name": "一般"}, {"key": "high", "name": "严重"}],
    },
)


def config(name: str, default: Any) -> Any:
    """``OPEN311_<name>`` from the app config (or ``CASEFLOW_OPEN311_<name>``), else ``default``."""
    from flask import current_app

    return current_app.config.get(f"OPEN311_{name}", default)


def check_jurisdiction(jurisdiction_id: str | None) -> None:
    """We serve one jurisdiction: an absent id is fine, another one is not found."""
    ours = str(config("JURISDICTION_ID", DEFAULT_JURISDICTION))
    if jurisdiction_id and jurisdiction_id != ours:
        raise NotFound(f"jurisdiction_id '{jurisdiction_id}' not found", field="jurisdiction_id")


def services(session: Session) -> list[Category]:
    """The categories offered as services: active ones in the acceptance scope."""
    return [c for c in offered(session, Category) if c.in_scope]


def service(session: Session, code: str | None, field_name: str = "service_code") -> Category:
    """An active in-scope category by its code; ``NotFound`` otherwise (a deactivated one is no
    longer offered; requests already filed under it stay readable)."""
    if not code:
        raise ValidationFailed(f"{field_name} is required", field=field_name)
    cat = session.execute(select(Category).where(Category.code == code, Category.in_scope.is_(True))).scalar()
    if cat is None:
        raise NotFound(f"service_code '{code}' not found", field=field_name)
    return require_active(cat, field_name, error=NotFound)


def service_view(cat: Category) -> dict[str, Any]:
    """One entry of the service list."""
    return {"service_code": cat.code, "service_name": cat.name, "description": cat.name,
            "metadata": bool(ATTRIBUTES), "type": "realtime", "keywords": cat.field or "", "group": cat.field or ""}


def definition_view(cat: Category) -> dict[str, Any]:
    """A service definition: its attributes."""
    return {"service_code": cat.code, "attributes": [dict(a) for a in ATTRIBUTES]}


@dataclass
class Submission:
    """A POSTed service request, as read from the form."""

    service_code: str | None
    lat: str | None = None
    long: str | None = None
    address_string: str = ""
    address_id: str = ""
    description: str = ""
    media_url: str = ""
    email: str = ""
    device_id: str = ""
    account_id: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""
    external_id: str = ""  # our extension: a client's own id makes the POST idempotent
    attributes: dict[str, list[str]] = field(default_factory=dict)


def _number(raw: str | None, name: str, limit: float) -> float | None:
    if raw is None or str(raw).strip() == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a number", field=name) from None
    if not math.isfinite(value) or abs(value) > limit:
        raise ValidationFailed(f"{name} must be between -{limit:g} and {limit:g}", field=name)
    return value


def _attributes(cat: Category, given: dict[str, list[str]]) -> dict[str, Any]:
    """Check answers against the service definition; single values stay strings."""
    known = {a["code"]: a for a in ATTRIBUTES}
    answers: dict[str, Any] = {}
    for code, values in given.items():
        spec = known.get(code)
        name = f"attribute[{code}]"
        if spec is None:
            raise ValidationFailed(f"{name} is not an attribute of service {cat.code}", field=name)
        values = [v for v in values if v != ""]
        keys = {v["key"] for v in spec.get("values", [])}
        if keys and any(v not in keys for v in values):
            raise ValidationFailed(f"{name} must be one of {', '.join(sorted(keys))}", field=name)
        if spec["datatype"] == "multivaluelist":
            answers[code] = values
        elif values:
            answers[code] = values[-1]
    for spec in ATTRIBUTES:
        if spec["required"] and spec["code"] not in answers:
            raise ValidationFailed(f"attribute[{spec['code']}] is required", field=f"attribute[{spec['code']}]")
    return answers


def submit(session: Session, catalog: WorkflowCatalog, actor: Actor, sub: Submission) -> tuple[Case, bool]:
    """Create a case from a GeoReport request; returns ``(case, created)``.

    Each POST is a new case, unless ``external_id`` names one the same client sent before.
    Raises ``PermissionDenied`` for an API key that may not submit and ``ValidationFailed``
    naming the parameter.
    """
    kind = actor.client or "person"
    channel = CHANNEL_FOR_CLIENT.get(kind)
    if channel is None:
        raise PermissionDenied(f"an api_key of kind '{kind}' may not submit service requests", field="api_key")
    cat = service(session, sub.service_code)
    lat = _number(sub.lat, "lat", 90)
    lon = _number(sub.long, "long", 180)
    if (lat is None) != (lon is None):
        raise ValidationFailed("lat and long go together", field="long" if lon is None else "lat")
    address = (sub.address_string or "").strip()
    if lat is None and not address and not sub.address_id:
        raise ValidationFailed("lat/long, address_string or address_id is required", field="lat")
    if len(sub.description) > MAX_DESCRIPTION:
        raise ValidationFailed(f"description is longer than {MAX_DESCRIPTION} characters", field="description")
    if sub.media_url and not re.match(r"^https?://[^\s]+$", sub.media_url):
        raise ValidationFailed("media_url must be an http(s) URL", field="media_url")
    answers = _attributes(cat, sub.attributes)
    first_line = (sub.description.strip().splitlines() or [""])[0]
    title = f"{cat.name}：{first_line}"[:200] if first_line else cat.name
    name = " ".join(p for p in (sub.first_name.strip(), sub.last_name.strip()) if p)
    reporter = {"name": name, "phone": sub.phone, "device_id": sub.device_id, "email": sub.email,
                "account_id": sub.account_id, "evidence_refs": [sub.media_url] if sub.media_url else []}
    # The GeoReport answers and the public mark are written with the case, in one transaction.
    extra = {"open311": {"attributes": answers, "media_url": sub.media_url or None,
                         "address_id": sub.address_id or None},
             PUBLIC_KEY: True}
    return intake.report(
        session, catalog, channel=channel, actor=actor, title=title, description=sub.description,
        category_id=cat.id, lat=lat, lon=lon, address=address or sub.address_id, reporter=reporter,
        external_ref=f"open311:{sub.external_id}" if sub.external_id else None, extra_data=extra,
    )


def public_clause() -> ColumnElement[bool]:
    """SQL: the case may be shown on the public GET endpoints (``case.data["public"]`` is true)."""
    return Case.data[PUBLIC_KEY].as_boolean() == true()


def is_public(case: Case) -> bool:
    """True when ``case`` is shown on the public GET endpoints."""
    return (case.data or {}).get(PUBLIC_KEY) is True


def set_public(session: Session, case_id: int, *, actor: Actor, public: bool, reason: str = "") -> Case:
    """Show (``public=True``) or hide a case on the public Open311 GET endpoints, and commit.

    Dispatchers and administrators only (a refusal is audited); an archived case is read-only.
    The change is a ``set_public`` ledger entry with the reason; the state does not change.
    """
    with unit_of_work(session, what="case"):
        case = lock_item(session, "case", case_id)
        assert isinstance(case, Case)
        ensure_writable(case)
        role = next((r for r in PUBLISHER_ROLES if r in actor.roles), None)
        if role is None:
            raise deny(actor, "set_public", f"case {case_id}", "only dispatchers publish cases on Open311")
        before = is_public(case)
        case.data = {**(case.data or {}), PUBLIC_KEY: bool(public)}
        ledger.append(session, item_type="case", item_id=case.id, trigger="set_public", actor=actor, role=role,
                      at=utcnow(), from_state=case.state, to_state=case.state, workflow=case.workflow,
                      workflow_version=case.workflow_version, payload={"public": bool(public), "before": before},
                      comment=reason, item=case)
    return case


@dataclass
class Filters:
    """GET requests parameters, already parsed."""

    numbers: list[str] = field(default_factory=list)
    service_codes: list[str] = field(default_factory=list)
    start: datetime | None = None
    end: datetime | None = None
    statuses: list[str] = field(default_factory=list)


def parse_datetime(raw: str | None, name: str) -> datetime | None:
    """A W3C datetime parameter; without an offset it is taken as local time."""
    if not raw:
        return None
    text = raw.strip()
    if "T" in text and " " in text:  # an unencoded "+08:00" arrives as " 08:00"
        text = text.replace(" ", "+")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationFailed(f"{name} must be a W3C datetime like 2024-05-01T09:00:00+08:00", field=name) from None
    if value.tzinfo is None:
        from flask import current_app

        value = value.replace(tzinfo=ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai")))
    return value


def parse_filters(args: dict[str, str]) -> Filters:
    """Read the GET requests parameters; bad values raise ``ValidationFailed`` naming them."""
    split = lambda raw: [p.strip() for p in (raw or "").split(",") if p.strip()]  # noqa: E731
    f = Filters(numbers=split(args.get("service_request_id")), service_codes=split(args.get("service_code")),
                start=parse_datetime(args.get("start_date"), "start_date"),
                end=parse_datetime(args.get("end_date"), "end_date"), statuses=split(args.get("status")))
    bad = [s for s in f.statuses if s not in ("open", "closed")]
    if bad:
        raise ValidationFailed("status must be open or closed", field="status")
    if f.start and f.end and f.start > f.end:
        raise ValidationFailed("start_date is after end_date", field="start_date")
    return f


def find_requests(session: Session, f: Filters) -> list[Case]:
    """Public cases of in-scope categories matching ``f``, newest first; the last 90 days by default."""
    q = (select(Case).join(Category, Case.category_id == Category.id)
         .where(Category.in_scope.is_(True), public_clause()))
    if f.numbers:  # the spec: with ids, the other filters do not apply
        q = q.where(Case.number.in_(f.numbers))
    else:
        if f.service_codes:
            q = q.where(Category.code.in_(f.service_codes))
        start, end = f.start, f.end
        if start is None and end is None:
            start = utcnow() - timedelta(days=int(config("WINDOW_DAYS", DEFAULT_WINDOW_DAYS)))
        if start is not None:
            q = q.where(Case.created_at >= start)
        if end is not None:
            q = q.where(Case.created_at <= end)
        if f.statuses == ["open"]:
            q = q.where(Case.state.not_in(CLOSED_STATES))
        elif f.statuses == ["closed"]:
            q = q.where(Case.state.in_(CLOSED_STATES))
    q = q.order_by(Case.created_at.desc(), Case.id.desc()).limit(int(config("MAX_REQUESTS", DEFAULT_MAX_REQUESTS)))
    return list(session.execute(q).scalars())


def find_request(session: Session, number: str) -> Case:
    """One request by its id (our case number); ``NotFound`` otherwise."""
    cases = find_requests(session, Filters(numbers=[number]))
    if not cases:
        raise NotFound(f"service_request_id '{number}' not found", field="service_request_id")
    return cases[0]


def status_notes(catalog: WorkflowCatalog, case: Case, lang: str = "zh") -> str:
    """The public status note: the state's label, and for a void its reason code in words.

    Never a ledger comment, a note or a name: those are written for colleagues, not the public.
    """
    label = catalog.definition(case.workflow, case.workflow_version).label(case.state, lang)
    if case.state == "voided":
        words = VOID_REASON_WORDS.get(str((case.data or {}).get("void_reason") or ""), {})
        reason = words.get(lang) or words.get("zh")
        if reason:
            return f"{label}：{reason}" if lang != "en" else f"{label}: {reason}"
    return label


def _expected(session: Session, ids: list[int]) -> dict[int, datetime]:
    rows = session.execute(
        select(Deadline.item_id, func.min(Deadline.due_at)).where(
            Deadline.item_type == "case", Deadline.item_id.in_(ids), Deadline.status == "pending")
        .group_by(Deadline.item_id))
    # min() keeps the column's type, so the values come back as aware UTC on every backend.
    return {item_id: due for item_id, due in rows if due is not None}


def request_views(session: Session, catalog: WorkflowCatalog, cases: list[Case], w3c: Any,
                  lang: str = "zh") -> list[dict[str, Any]]:
    """GeoReport request objects for ``cases`` (``w3c`` formats datetimes)."""
    ids = [c.id for c in cases]
    expected = _expected(session, ids) if ids else {}
    out = []
    for c in cases:
        notes = status_notes(catalog, c, lang)
        extra = (c.data or {}).get("open311") or {}
        agency = c.department.name if c.department else (c.center.name if c.center else "")
        out.append({
            "service_request_id": c.number,
            "status": "closed" if c.state in CLOSED_STATES else "open",
            "status_notes": notes,
            "service_name": c.category.name if c.category else "",
            "service_code": c.category.code if c.category else "",
            "description": c.description,
            "agency_responsible": agency,
            "service_notice": "",
            "requested_datetime": w3c(c.reported_at or c.created_at),
            "updated_datetime": w3c(c.updated_at),
            "expected_datetime": w3c(expected.get(c.id)),
            "address": c.address,
            "address_id": extra.get("address_id"),
            "zipcode": None,
            "lat": c.lat,
            "long": c.lon,
            "media_url": extra.get("media_url"),
        })
    return out
