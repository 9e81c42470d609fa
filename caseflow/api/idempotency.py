"""``Idempotency-Key`` on POSTs from machine clients (110, sensors, hotline, Open311, uploads, case steps).

A client that sends ``Idempotency-Key: <key>`` may retry the same POST safely:

* same client, same key, same request -> the first response (status, body, content type) is
  replayed with ``Idempotent-Replayed: true``; the operation does not run again;
* same client, same key, a different request (method, path, query or body) -> 422 naming the
  ``Idempotency-Key`` header;
* while the first request still runs, a retry gets 409 (try again shortly);
* a request that failed (an error response) is not stored: a retry runs again;
* keys are kept 24 hours (``IDEMPOTENCY_TTL_S``); expired ones are ignored, and purged as new
  keys are claimed (indexed on ``created_at``, so the purge stays cheap).

"Client" is the API token (or, for the console, the signed-in person); two clients may use
the same key independently.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Response, current_app, has_app_context, make_response, request, session
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from caseflow.errors import Conflict, ValidationFailed
from caseflow.extensions import db
from caseflow.models import ApiToken, IdempotencyKey, utcnow
from caseflow.security.tokens import digest

F = TypeVar("F", bound=Callable[..., Any])

HEADER = "Idempotency-Key"
DEFAULT_TTL_S = 24 * 3600
# A first request that has not finished after this long died with its worker: a retry takes over.
ABANDONED_AFTER = timedelta(minutes=5)
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as the IETF draft suggests
# Response headers that belong to the stored response.
_REPLAYED_HEADERS = ("Location", "X-Pagination", "ETag")

HEADER_PARAMETER = {
    "in": "header", "name": HEADER, "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"^[!-~]+$"},
    "description": "Retry safely: the same key with the same request replays the first response (kept 24 h); "
                   "the same key with a different request is refused (422).",
}


def ttl() -> timedelta:
    """How long keys are kept."""
    return timedelta(seconds=int(current_app.config.get("IDEMPOTENCY_TTL_S") or DEFAULT_TTL_S))


def idempotent(fn: F) -> F:
    """Decorate a POST view (outermost, above flask-smorest's decorators) to honour ``Idempotency-Key``."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(HEADER)
        if key is None:
            return fn(*args, **kwargs)
        if not _KEY_RE.match(key):
            raise ValidationFailed(f"{HEADER} must be 1-255 visible ASCII characters", field=HEADER)
        # Hash first: it caches the raw body, which reading a form (api_key) would consume.
        req_hash = request_hash()
        client = client_id()
        if client is None:  # not authenticated: the view answers 401/403 itself
            return fn(*args, **kwargs)
        row_id, replay = claim(db.session(), client, key, req_hash)
        if replay is not None:
            return replay
        try:
            response = make_response(fn(*args, **kwargs))
        except BaseException:
            release(db.session(), row_id)
            raise
        if response.status_code >= 400 or response.is_streamed or response.direct_passthrough:
            release(db.session(), row_id)  # errors and files are not replayed
        else:
            store(db.session(), row_id, response)
        return response

    # Documented as a header parameter by caseflow.api.openapi.CommonErrorsPlugin.
    doc = dict(getattr(wrapper, "_apidoc", {}))
    doc["manual_doc"] = {**doc.get("manual_doc", {}), "x-idempotency-key": True}
    wrapper._apidoc = doc  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def client_id() -> str | None:
    """``token:<id>`` for a live API token (bearer or Open311 ``api_key``), ``person:<id>`` for the console."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.startswith("Bearer ") else ""
    if not token:
        # Open311 sends api_key in the form or the query; never parse a multipart upload here.
        form = request.form if request.mimetype == "application/x-www-form-urlencoded" else {}
        token = (form.get("api_key") or request.args.get("api_key") or "").strip()
    if token:
        token_id = db.session.execute(select(ApiToken.id).where(
            ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))).scalar()
        return f"token:{token_id}" if token_id is not None else None
    person_id = session.get("person_id")
    return f"person:{int(person_id)}" if person_id is not None else None


def request_hash() -> str:
    """SHA-256 of what makes two requests the same: method, path, query and body.

    JSON is compared as data (key order and spacing do not matter); a multipart body with its
    boundary replaced, since clients pick a new boundary for every attempt.
    """
    h = hashlib.sha256()
    h.update(f"{request.method} {request.path}?{request.query_string.decode('latin-1')}\n".encode())
    if request.mimetype == "application/x-www-form-urlencoded":
        # Read as a form: a before_request hook (Open311's jurisdiction check) may have parsed it already.
        raw = json.dumps(sorted(request.form.items(multi=True)), ensure_ascii=False).encode()
    elif request.mimetype.startswith("multipart/") and "form" in request.__dict__:
        raw = _parsed_multipart()
    else:
        raw = request.get_data(cache=True)
        if request.mimetype == "application/json":
            try:
                raw = json.dumps(json.loads(raw or b"null"), sort_keys=True, ensure_ascii=False).encode()
            except ValueError:
                pass  # malformed JSON: the view refuses it; the raw bytes still identify it
        elif request.mimetype.startswith("multipart/"):
            boundary = request.mimetype_params.get("boundary", "")
            if boundary:
                raw = raw.replace(boundary.encode("latin-1"), b"BOUNDARY")
    h.update(raw)
    return h.hexdigest()


def _parsed_multipart() -> bytes:
    """A multipart body someone already parsed: its fields and each file's name and SHA-256."""
    parts: list[list[str]] = [[k, v] for k, v in sorted(request.form.items(multi=True))]
    for name, upload in sorted(request.files.items(multi=True), key=lambda item: item[0]):
        digest_ = hashlib.sha256()
        for chunk in iter(lambda: upload.stream.read(65536), b""):
            digest_.update(chunk)
        upload.stream.seek(0)
        parts.append([name, upload.filename or "", digest_.hexdigest()])
    return json.dumps(parts, ensure_ascii=False).encode()


def claim(session: Session, client: str, key: str, req_hash: str) -> tuple[int | None, Response | None]:
    """Reserve ``key`` for this request: ``(row id, None)``; or ``(None, stored response)`` to replay.

    Raises ``ValidationFailed`` (422) for a different request under the same key and
    ``Conflict`` (409) while the first request with this key is still running. Commits.
    """
    now = utcnow()
    row = session.execute(select(IdempotencyKey).where(
        IdempotencyKey.client == client, IdempotencyKey.key == key)).scalar_one_or_none()
    if row is not None and _expired(row, now):
        session.delete(row)
        session.flush()
        row = None
    if row is not None:
        if row.request_hash != req_hash:
            session.rollback()
            raise ValidationFailed(f"{HEADER} {key!r} was already used for a different request", field=HEADER)
        if row.status is not None:
            response = _replay(row)
            session.rollback()
            return None, response
        if now - row.created_at < ABANDONED_AFTER:
            session.rollback()
            raise Conflict(f"a request with {HEADER} {key!r} is still being processed; retry shortly",
                           field=HEADER)
        session.delete(row)  # its worker died; this retry runs it
        session.flush()
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < now - ttl()))
    fresh = IdempotencyKey(client=client, key=key, request_hash=req_hash, created_at=now)
    session.add(fresh)
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key won the insert.
        session.rollback()
        raise Conflict(f"a request with {HEADER} {key!r} is still being processed; retry shortly",
                       field=HEADER) from None
    return fresh.id, None


def store(session: Session, row_id: int | None, response: Response) -> None:
    """Keep the response of a finished first request. Commits."""
    session.rollback()  # whatever the view left open is not ours to commit
    row = session.get(IdempotencyKey, row_id)
    if row is None:
        return
    row.status = response.status_code
    row.body = response.get_data(as_text=True)
    row.content_type = response.content_type or ""
    row.headers = "\n".join(f"{name}: {response.headers[name]}" for name in _REPLAYED_HEADERS
                            if name in response.headers)
    session.commit()


def release(session: Session, row_id: int | None) -> None:
    """Forget the reservation of a request that failed, so a retry runs again. Commits."""
    session.rollback()
    session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
    session.commit()


def purge_expired(session: Session, now: datetime) -> int:
    """Delete keys past the retention; returns how many. Commits."""
    cutoff = now - (ttl() if has_app_context() else timedelta(seconds=DEFAULT_TTL_S))
    result = session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff))
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _expired(row: IdempotencyKey, now: datetime) -> bool:
    return now - row.created_at >= ttl()


def _replay(row: IdempotencyKey) -> Response:
    response = Response(row.body, status=row.status, content_type=row.content_type or None)
    for line in (row.headers or "").splitlines():
        name, _, value = line.partition(": ")
        if name:
            response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response
