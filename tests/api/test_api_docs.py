"""``/api/docs``: Swagger UI served by the app itself (no CDN), started from a static script so
the page's CSP allows no inline script."""
from __future__ import annotations

import re

from caseflow.api.docs import ASSETS


def test_docs_page_and_everything_it_loads_come_from_the_app(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    refs = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert len(refs) >= 5, refs  # icon, two stylesheets, two bundles, the initializer
    for ref in refs:
        assert ref.startswith("/"), f"{ref} is not served by the app"
        with client.get(ref) as asset:  # file responses hold the file open until closed
            assert asset.status_code == 200 and asset.data, ref
    assert "<script>" not in html  # every script is a file
    assert 'data-spec-url="/api/openapi.json"' in html
    assert client.get("/api/openapi.json").status_code == 200
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp


def test_only_the_ui_files_are_served(client) -> None:  # type: ignore[no-untyped-def]
    assert "swagger-ui-bundle.js" in ASSETS
    for name in ("index.html", "swagger-initializer.js", "swagger-ui-bundle.js.map", "..%2Fpyproject.toml"):
        with client.get(f"/api/docs/assets/{name}") as r:
            assert r.status_code == 404, name
