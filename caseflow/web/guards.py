"""Who is signed in to the console, and which pages their roles open."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, redirect, request, session, url_for

from caseflow.extensions import db
from caseflow.models import Person

F = TypeVar("F", bound=Callable[..., Any])

# Each role's landing page (endpoint), in the order used when a person holds several roles.
LANDING: dict[str, str] = {
    "liaison": "pages.liaison",
    "dispatcher": "pages.dispatch",
    "handler": "pages.handler",
    "duty_lead": "pages.duty",
    "duty_officer": "pages.duty",
    "leader": "pages.leader",
    "admin": "pages.admin",
}


def current_person() -> Person | None:
    """The signed-in, active person of this request, or None.

    Cached per request in the WSGI environ, not on ``g``: an app context (tests, CLI) can
    outlive a request, and a sign-out must not leave the old person behind.
    """
    if "caseflow.console_person" in request.environ:
        return request.environ["caseflow.console_person"]  # type: ignore[no-any-return]
    person = None
    person_id = session.get("person_id")
    if person_id is not None:
        person = db.session.get(Person, person_id)
        if person is not None and not person.active:
            person = None  # deactivated people lose their session at once
    request.environ["caseflow.console_person"] = person
    return person


# Roles that open the period reports (/reports): the reports pages and the navigation use this one set.
REPORT_ROLES: frozenset[str] = frozenset({"leader", "admin", "dispatcher"})
ADMIN_ROLES: frozenset[str] = frozenset({"admin"})
# Roles that see the notification outbox's dead letters (as GET /api/notifications does).
OUTBOX_ROLES: frozenset[str] = frozenset({"admin", "duty_lead"})
# Roles that open the emergency-linkage ledger (应急处置台账, /ledger/instructions).
LEDGER_ROLES: frozenset[str] = frozenset({"liaison", "duty_lead", "duty_officer", "leader", "admin"})
# Roles that report problems from the field or the phone and follow them (巡查员上报, /patrol/):
# patrol inspectors and grid workers (handlers), duty staff and dispatchers taking them down.
PATROL_ROLES: frozenset[str] = frozenset({"handler", "dispatcher", "duty_officer", "duty_lead"})
# Roles that see the escalated and joint-handling queues (/dispatch/queues/...).
QUEUE_ROLES: frozenset[str] = frozenset({"dispatcher", "leader"})
# Roles that open the duty watch desk (/duty/watch/): duty staff write the log; leaders and
# administrators also act on emergency mode, swaps and special periods there.
DUTY_WATCH_ROLES: frozenset[str] = frozenset({"duty_lead", "duty_officer", "leader", "admin"})
# Roles that read the case time-limit table (处置时限表, /admin/time-limits): dispatchers grade cases
# by it; only administrators change it (the page shows them the forms).
TIME_LIMIT_ROLES: frozenset[str] = ADMIN_ROLES | {"dispatcher"}
# Pages that are nobody's landing page: endpoint -> (label key, roles that open it).
MORE_PAGES: dict[str, tuple[str, frozenset[str]]] = {
    "patrol.index": ("page.patrol", PATROL_ROLES),
    "dispatch_queues.index": ("page.queues", QUEUE_ROLES),
    "instruction_ledger.page": ("page.ledger", LEDGER_ROLES),
    "reports_console.index": ("page.reports", REPORT_ROLES),
    "admin_import.page": ("page.admin_import", ADMIN_ROLES),
    "returns_admin.report": ("page.returns_report", ADMIN_ROLES),
    "outbox_console.dead": ("dead.title", OUTBOX_ROLES),
    # Administration one record at a time (caseflow/web/admin_records.py), linked from /admin.
    "admin_records.areas": ("adm.title.areas", ADMIN_ROLES),
    "admin_records.departments": ("adm.title.departments", ADMIN_ROLES),
    "admin_records.categories": ("adm.title.categories", ADMIN_ROLES),
    "admin_records.people": ("adm.title.people", ADMIN_ROLES),
    "admin_records.grids": ("adm.title.grids", ADMIN_ROLES),
    # The working calendar (caseflow/web/calendar_admin.py), linked from /admin's tools.
    "calendar_admin.page": ("cal.title", ADMIN_ROLES),
    # The case time-limit table (caseflow/web/time_limits_admin.py), linked from /admin's tools.
    "time_limits_admin.page": ("tl.title", TIME_LIMIT_ROLES),
    # The duty watch desk (caseflow/web/duty.py): emergency mode, rota and swaps, special periods, the log.
    "duty_console.watch": ("page.duty_watch", DUTY_WATCH_ROLES),
}
# Of those, the ones the navigation bar offers (the admin's tools are linked from /admin; the
# time-limit table is in the bar too, since dispatchers grade cases by it and have no /admin).
NAV_MORE = ("instruction_ledger.page", "reports_console.index", "outbox_console.dead", "patrol.index",
            "dispatch_queues.index", "duty_console.watch", "time_limits_admin.page")


def may_open(roles: Iterable[str], endpoint: str) -> bool:
    """Whether ``roles`` open the page ``endpoint`` of :data:`MORE_PAGES` (same check as its route)."""
    entry = MORE_PAGES.get(endpoint)
    return entry is not None and bool(set(roles) & entry[1])


def more_pages_for(roles: Iterable[str], endpoints: Iterable[str]) -> list[tuple[str, str]]:
    """(endpoint, label key) of each of ``endpoints`` that ``roles`` may open, in that order."""
    held = set(roles)
    return [(e, MORE_PAGES[e][0]) for e in endpoints if may_open(held, e)]


def landing_endpoint(roles: Iterable[str]) -> str:
    """The endpoint a person with ``roles`` lands on after sign-in."""
    held = set(roles)
    for role, endpoint in LANDING.items():
        if role in held:
            return endpoint
    return "web.index"


def pages_for(roles: Iterable[str]) -> list[tuple[str, str]]:
    """(endpoint, page key) of every landing page the roles open, then the reports when allowed,
    for the navigation bar."""
    out: list[tuple[str, str]] = []
    held = set(roles)
    for role, endpoint in LANDING.items():
        if role in held and endpoint not in [e for e, _ in out]:
            out.append((endpoint, "page." + endpoint.split(".", 1)[1]))
    return out + more_pages_for(held, NAV_MORE)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site; never an absolute URL (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def login_required(roles: Iterable[str] | None = None) -> Callable[[F], F]:
    """Require a signed-in person; with ``roles``, one of them (else 403).

    Not signed in: a redirect to the sign-in page that comes back here afterwards.
    """
    allowed = frozenset(roles or ())

    def deco(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            person = current_person()
            if person is None:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if allowed and not (person.roles & allowed):
                from caseflow.security.actor import Actor
                from caseflow.services.access import deny, record_audit

                err = deny(Actor.from_person(person), "open page", request.path,
                           f"page needs one of {', '.join(sorted(allowed))}")
                record_audit(db.session(), err)  # every denial is kept for audit
                abort(403)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return deco
