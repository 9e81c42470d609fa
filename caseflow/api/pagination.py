"""Paging of the API's lists, documented once.

Every list that grows is paged with ``?page=1&per_page=N`` (pages count from 1), in a stable
order (ties broken by id), and answers with the ``X-Pagination`` header as flask-smorest does:
JSON with ``total``, ``total_pages``, ``page``, ``per_page``, ``first_page``, ``last_page`` and,
where they exist, ``previous_page`` and ``next_page``.

* Registers (``/api/cases``, ``/api/instructions``): per_page 50 by default, at most 500; the body
  is ``{items, total, page, per_page}``.
* Feeds and administration lists (return requests, escalations, deadlines, notifications, the
  duty log, ``/api/admin/people``, departments, categories, areas): the body stays the JSON array
  of the page, the most relevant first (newest, or soonest due); per_page at most 1000, its default
  as each list documents. ``limit`` is the older name of per_page and still accepted.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from marshmallow import Schema, fields, validate
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from caseflow.services.paging import Page, paged

HEADER = "X-Pagination"
HEADERS_DOC = {HEADER: {"description": "Paging as JSON: total, total_pages, page, per_page, first_page, last_page, "
                                       "previous_page, next_page",
                        "schema": {"type": "string"}}}
DESCRIPTION = __doc__.split("\n\n", 1)[1].strip() if __doc__ else ""
MAX_PER_PAGE = 1000


def pagination_header(total: int, page: int, per_page: int) -> dict[str, str]:
    """The ``X-Pagination`` header of one page."""
    pages = max(1, math.ceil(total / per_page)) if per_page else 1
    meta: dict[str, Any] = {"total": total, "total_pages": pages, "page": page, "per_page": per_page,
                            "first_page": 1, "last_page": pages}
    if page > 1:
        meta["previous_page"] = min(page - 1, pages)
    if page < pages:
        meta["next_page"] = page + 1
    return {HEADER: json.dumps(meta)}


class PageQuerySchema(Schema):
    """``page`` and ``per_page`` of a paged feed (``limit``: per_page's older name)."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000),
                          metadata={"description": "page number, from 1"})
    per_page = fields.Integer(validate=validate.Range(min=1, max=MAX_PER_PAGE),
                              metadata={"description": "rows per page (default: the list's own)"})
    limit = fields.Integer(validate=validate.Range(min=1, max=MAX_PER_PAGE),
                           metadata={"description": "older name of per_page (per_page wins when both are given)"})


def page_size(args: dict[str, Any], default: int) -> int:
    """The page size asked for (``per_page``, else ``limit``), else ``default``."""
    return int(args.get("per_page") or args.get("limit") or default)


def page_args(args: dict[str, Any], default: int) -> tuple[int, int]:
    """``(page, per_page)`` of a request's paging arguments (see :class:`PageQuerySchema`)."""
    return int(args.get("page") or 1), page_size(args, default)


def answer(page: Page, views: Callable[[list[Any]], list[Any]] | None = None) -> tuple[list[Any], dict[str, str]]:
    """A feed's body (the page's rows through ``views``, which takes the whole page so it can load
    what the rows name in one query each) and its ``X-Pagination`` header."""
    items = views(page.items) if views is not None else page.items
    return items, pagination_header(page.total, page.page, page.per_page)


def paged_feed(session: Session, query: Select[Any], args: dict[str, Any], *, default: int,
               views: Callable[[list[Any]], list[Any]] | None = None) -> tuple[list[Any], dict[str, str]]:
    """The page a feed's request asks for of ``query`` (ordered, scoped and filtered already), as
    body and header. The shared part of every paged feed (returns, escalations, deadlines, ...)."""
    number, size = page_args(args, default)
    return answer(paged(session, query, number, size), views)


def where_given(query: Select[Any], args: dict[str, Any], columns: dict[str, Any]) -> Select[Any]:
    """``query`` narrowed to ``column == args[name]`` for each filter of ``columns`` the request gives
    (a filter left out, None or empty matches everything)."""
    for name, column in columns.items():
        value = args.get(name)
        if value is not None and value != "":
            query = query.where(column == value)
    return query
