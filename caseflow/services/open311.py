"""Open311 GeoReport v2 on top of the case lifecycle: services are in-scope categories, service
requests are cases.

Our states map to ``open``/``closed``; the detail goes in ``status_notes``; ``expected_datetime``
is the case's earliest pending deadline. Submissions go through the intake service like any
other channel.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from caseflow.config import DefaultConfig
from caseflow.errors import NotFound, PermissionDenied, ValidationFailed
from caseflow.models import Case, Category, Deadline, LedgerEntry, utcnow
from caseflow.security.actor import Actor
from caseflow.services.cases import intake
from caseflow.services.transition import lock_item
from caseflow.workflow.engine import WorkflowCatalog

CLOSED_STATES = ("closed", "archived", "voided")
# API key kinds that may submit, and the intake channel each one reports on.
CHANNEL_FOR_CLIENT = {"app": "app", "hotline": "hotline", "sensor": "sensor", "person": "patrol"}
# Defaults when the app config lacks them (documented in caseflow/config.py and the README).
DEFAULT_JURISDICTION = DefaultConfig.OPEN311_JURISDICTION_ID
DEFAULT_MAX_REQUESTS = DefaultConfig.OPEN311_MAX_REQUESTS
DEFAULT_WINDOW_DAYS = DefaultConfig.OPEN311_WINDOW_DAYS
MAX_DESCRIPTION = 4000

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
    """The categories offered as services: those in the acceptance scope."""
    return list(session.execute(select(Category).where(Category.in_scope.is_(True)).order_by(Category.code)).scalars())


def service(session: Session, code: str | None, field_name: str = "service_code") -> Category:
    """An in-scope category by its code; ``NotFound`` otherwise."""
    if not code:
        raise ValidationFailed(f"{field_name} is required", field=field_name)
    cat = session.execute(select(Category).where(Category.code == code, Category.in_scope.is_(True))).scalar()
    if cat is None:
        raise NotFound(f"service_code '{code}' not found", field=field_name)
    return cat


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
    case, created = intake.report(
        session, catalog, channel=channel, actor=actor, title=title, description=sub.description,
        category_id=cat.id, lat=lat, lon=lon, address=address or sub.address_id, reporter=reporter,
        external_ref=f"open311:{sub.external_id}" if sub.external_id else None,
    )
    if created:
        # The GeoReport answers belong to the case; intake has committed it, so lock and add them.
        row = lock_item(session, "case", case.id)
        row.data = {**(row.data or {}), "open311": {"attributes": answers, "media_url": sub.media_url or None,
                                                    "address_id": sub.address_id or None}}
        session.commit()
        case = row  # type: ignore[assignment]
    return case, created


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
    """Cases of in-scope categories matching ``f``, newest first; the last 90 days by default."""
    q = select(Case).join(Category, Case.category_id == Category.id).where(Category.in_scope.is_(True))
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


def _latest_comments(session: Session, ids: list[int]) -> dict[int, str]:
    last = (select(LedgerEntry.item_id, func.max(LedgerEntry.seq).label("seq"))
            .where(LedgerEntry.item_type == "case", LedgerEntry.item_id.in_(ids), LedgerEntry.comment != "")
            .group_by(LedgerEntry.item_id).subquery())
    rows = session.execute(select(LedgerEntry.item_id, LedgerEntry.comment).join(
        last, (LedgerEntry.item_id == last.c.item_id) & (LedgerEntry.seq == last.c.seq))
        .where(LedgerEntry.item_type == "case"))
    return {item_id: comment for item_id, comment in rows}


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
    comments = _latest_comments(session, ids) if ids else {}
    expected = _expected(session, ids) if ids else {}
    out = []
    for c in cases:
        label = catalog.definition(c.workflow, c.workflow_version).label(c.state, lang)
        notes = f"{label}：{comments[c.id]}" if comments.get(c.id) else label
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
