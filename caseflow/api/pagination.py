"""The API's two list styles, documented once.

* Registers of work items (``/api/cases``, ``/api/instructions``): ``?page=1&per_page=50``
  (per_page at most 500), newest first; the body is ``{items, total, page, per_page}`` and the
  ``X-Pagination`` header repeats it as flask-smorest does (``total``, ``total_pages``, ``page``,
  ``first_page``, ``last_page``, ``previous_page``, ``next_page``).
* Feeds (escalations, deadlines, notifications, the duty log, reports, return requests):
  ``?limit=N`` of the most relevant first (newest, or soonest due), with filters; no pages.
"""
from __future__ import annotations

import json
import math
from typing import Any


HEADER = "X-Pagination"
HEADERS_DOC = {HEADER: {"description": "Paging as JSON: total, total_pages, page, per_page, first_page, last_page, "
                                       "previous_page, next_page",
                        "schema": {"type": "string"}}}
DESCRIPTION = __doc__.split("\n\n", 1)[1].strip() if __doc__ else ""


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
