"""GeoReport v2 output: the same payload as JSON or XML, errors in the spec's format, W3C times."""
from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, current_app

# Characters XML 1.0 cannot carry at all, even escaped.
_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# In XML a list's children are named after the singular of the list's own element.
_SINGULAR = {"attributes": "attribute", "values": "value", "errors": "error"}


def w3c(value: datetime | None) -> str | None:
    """A stored UTC time as W3C/ISO 8601 with the configured offset, e.g. ``2024-05-01T09:30:00+08:00``."""
    if value is None:
        return None
    zone = ZoneInfo(current_app.config.get("TIMEZONE", "Asia/Shanghai"))
    return value.astimezone(zone).isoformat(timespec="seconds")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _XML_ILLEGAL.sub("", str(value))


def _append(parent: ET.Element, tag: str, value: Any) -> None:
    """Add ``value`` under ``parent`` as element ``tag``; ElementTree escapes the text."""
    el = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, sub in value.items():
            _append(el, key, sub)
    elif isinstance(value, list):
        child = _SINGULAR.get(tag, "item")
        for sub in value:
            _append(el, child, sub)
    else:
        el.text = _text(value)


def to_xml(root: str, item: str | None, payload: list[dict[str, Any]] | dict[str, Any]) -> bytes:
    """``payload`` as an XML document: a list becomes ``<root><item>..</item>..</root>``, a dict ``<root>..</root>``."""
    top = ET.Element(root)
    if isinstance(payload, list):
        for entry in payload:
            _append(top, item or "item", entry)
    else:
        for key, value in payload.items():
            _append(top, key, value)
    return ET.tostring(top, encoding="utf-8", xml_declaration=True)


def render(fmt: str, payload: list[dict[str, Any]] | dict[str, Any], *, root: str, item: str | None = None,
           status: int = 200) -> Response:
    """The response in the format the URL asked for (``.json`` or ``.xml``)."""
    if fmt == "xml":
        return Response(to_xml(root, item, payload), status=status, mimetype="text/xml",
                        content_type="text/xml; charset=utf-8")
    return Response(json.dumps(payload, ensure_ascii=False), status=status,
                    content_type="application/json; charset=utf-8")


def render_error(fmt: str, status: int, description: str) -> Response:
    """``[{"code": 400, "description": ".."}]`` or ``<errors><error><code>..</code>..</error></errors>``."""
    return render(fmt, [{"code": status, "description": description}], root="errors", item="error", status=status)
