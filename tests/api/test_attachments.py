"""Evidence upload and download: sniffing, checksum, size/type limits, department scope."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import struct
import zipfile
import zlib

import pytest
from sqlalchemy import func, select

from caseflow.models import AccessDenial, Attachment
from caseflow.security.tokens import issue_token
from caseflow.services import attachments, transition
from caseflow.services.cases import intake
from caseflow.services.sniff import sniff

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 56
SHELL = b"#!/bin/sh\necho pwned\n"


def png_bytes(width: int = 2, height: int = 2) -> bytes:
    """A real, valid RGB PNG (every pixel red)."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<document/>")
    return buf.getvalue()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def files_on_disk(app) -> set[str]:  # type: ignore[no-untyped-def]
    root = app.config["UPLOAD_DIR"]
    return {os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs}


def rows(session) -> int:  # type: ignore[no-untyped-def]
    session.rollback()
    return session.execute(select(func.count(Attachment.id))).scalar_one()


@pytest.fixture
def case(session, catalog, world):  # type: ignore[no-untyped-def]
    """A general garbage case dispatched to sanitation."""
    dispatcher = world.actor("dispatcher")
    c, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("liaison"), title="垃圾堆放",
                         category_id=world.cat_garbage.id, lat=31.2, lon=121.5, address="示范路1号")
    transition.fire(session, catalog, "case", c.id, "register", actor=dispatcher)
    transition.fire(session, catalog, "case", c.id, "dispatch", actor=dispatcher,
                    data={"department_id": world.sanitation.id})
    return c


@pytest.fixture
def tokens(session, world):  # type: ignore[no-untyped-def]
    return {name: issue_token(session, name, person=world.people[name])
            for name in ("san_handler", "road_handler", "dispatcher")}


def upload(client, case, token, data: bytes, name: str = "photo.png"):  # type: ignore[no-untyped-def]
    return client.post(f"/api/items/case/{case.id}/attachments", headers=bearer(token),
                       data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def download(client, url: str, token: str):  # type: ignore[no-untyped-def]
    """GET a file and close the response (it holds the open file)."""
    with client.get(url, headers=bearer(token)) as response:
        response.get_data()
    return response


def test_png_upload_sniffed_hashed_and_downloaded_intact(app, client, session, case, tokens) -> None:  # type: ignore[no-untyped-def]
    png = png_bytes()
    r = upload(client, case, tokens["san_handler"], png, "现场照片.png")
    assert r.status_code == 201, r.json
    body = r.json
    assert body["sha256"] == hashlib.sha256(png).hexdigest()
    assert (body["content_type"], body["kind"], body["size"]) == ("image/png", "photo", len(png))
    assert body["original_name"] == "现场照片.png"
    row = session.get(Attachment, body["id"])
    assert row.uploaded_by_id is not None and row.stored_path.count("/") == 3
    with open(os.path.join(app.config["UPLOAD_DIR"], row.stored_path), "rb") as fh:
        assert fh.read() == png
    assert row.stored_path.split("/")[2] == body["sha256"][:2]

    listed = client.get(f"/api/items/case/{case.id}/attachments", headers=bearer(tokens["dispatcher"]))
    assert listed.status_code == 200 and [a["id"] for a in listed.json] == [body["id"]]

    d = download(client, body["url"], tokens["dispatcher"])
    assert d.status_code == 200
    assert d.mimetype == "image/png"
    assert d.headers["X-Content-Type-Options"] == "nosniff"
    assert d.headers["Content-Disposition"].startswith("attachment;")
    assert hashlib.sha256(d.data).hexdigest() == row.sha256
    assert d.headers["Repr-Digest"] == "sha-256=:" + base64.b64encode(hashlib.sha256(d.data).digest()).decode() + ":"
    assert attachments.verify(row)


def test_name_does_not_decide_the_type(client, session, case, tokens) -> None:  # type: ignore[no-untyped-def]
    r = upload(client, case, tokens["san_handler"], PDF, "not-really.png")
    assert r.status_code == 201, r.json
    assert (r.json["content_type"], r.json["kind"]) == ("application/pdf", "document")
    d = download(client, r.json["url"], tokens["san_handler"])
    assert d.mimetype == "application/pdf"
    assert "not-really.png.pdf" in d.headers["Content-Disposition"]

    r = upload(client, case, tokens["san_handler"], docx_bytes(), "report.bin")
    assert r.status_code == 201 and r.json["content_type"].endswith("wordprocessingml.document")


@pytest.mark.parametrize("payload,name", [(ELF, "tool.png"), (SHELL, "run.sh"),
                                          (b"PK\x03\x04" + b"\x00" * 40, "plain.zip")])
def test_wrong_type_is_415_and_nothing_is_stored(app, client, session, case, tokens, payload, name) -> None:  # type: ignore[no-untyped-def]
    before = files_on_disk(app)
    r = upload(client, case, tokens["san_handler"], payload, name)
    assert r.status_code == 415, r.json
    assert r.json["status"] == "unsupported_media_type" and "file" in r.json["errors"]
    assert files_on_disk(app) == before
    assert rows(session) == 0


def test_disallowed_kind_is_415(app, client, session, case, tokens, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "UPLOAD_ALLOWED_KINDS", "photo")
    r = upload(client, case, tokens["san_handler"], PDF, "doc.pdf")
    assert r.status_code == 415 and r.json["errors"]["allowed_kinds"] == ["photo"]
    assert upload(client, case, tokens["san_handler"], png_bytes()).status_code == 201


def test_oversize_is_413_and_nothing_is_stored(app, client, session, case, tokens, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(app.config, "UPLOAD_MAX_BYTES", 1024)
    before = files_on_disk(app)
    # Just over the limit: refused while streaming to the temp file.
    r = upload(client, case, tokens["san_handler"], png_bytes() + b"\x00" * 1100)
    assert r.status_code == 413, r.json
    assert r.json["status"] == "payload_too_large" and r.json["errors"]["max_bytes"] == 1024
    # Far over: refused from the request size before the body is parsed.
    r = upload(client, case, tokens["san_handler"], png_bytes() + b"\x00" * 200_000)
    assert r.status_code == 413 and r.json["status"] == "payload_too_large"
    assert files_on_disk(app) == before
    assert rows(session) == 0
    # Exactly at the limit is fine.
    exact = png_bytes() + b"\x00" * (1024 - len(png_bytes()))
    assert upload(client, case, tokens["san_handler"], exact).status_code == 201


def test_other_department_gets_404_on_upload_list_and_download(client, session, case, tokens) -> None:  # type: ignore[no-untyped-def]
    ok = upload(client, case, tokens["san_handler"], png_bytes())
    assert ok.status_code == 201
    road = tokens["road_handler"]
    assert upload(client, case, road, png_bytes()).status_code == 404
    assert client.get(f"/api/items/case/{case.id}/attachments", headers=bearer(road)).status_code == 404
    r = client.get(ok.json["url"], headers=bearer(road))
    assert r.status_code == 404 and r.json["status"] == "not_found"
    assert rows(session) == 1
    denials = session.execute(select(AccessDenial.action)).scalars().all()
    assert "attach" in denials and f"read attachment {ok.json['id']}" in denials
    assert client.get(ok.json["url"]).status_code == 401


def test_missing_file_and_read_only_case(client, session, catalog, world, tokens) -> None:  # type: ignore[no-untyped-def]
    c, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("liaison"), title="重复上报",
                         category_id=world.cat_garbage.id, address="示范路2号")
    r = client.post(f"/api/items/case/{c.id}/attachments", headers=bearer(tokens["dispatcher"]),
                    data={"note": "x"}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.json["errors"]
    transition.fire(session, catalog, "case", c.id, "void", actor=world.actor("dispatcher"),
                    data={"reason": "duplicate"})
    r = upload(client, c, tokens["dispatcher"], png_bytes())
    assert r.status_code == 409 and "read-only" in r.json["message"]


def test_failed_commit_removes_the_file(app, session, case, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    before = files_on_disk(app)

    def broken_commit() -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(session, "commit", broken_commit)
    with pytest.raises(RuntimeError):
        attachments.store(session, item_type="case", item_id=case.id, actor=world.actor("san_handler"),
                          filename="a.png", stream=io.BytesIO(png_bytes()))
    monkeypatch.undo()
    assert files_on_disk(app) == before
    assert rows(session) == 0


def test_sniffing_table() -> None:
    ftyp = lambda brand: b"\x00\x00\x00\x18ftyp" + brand + b"\x00" * 8  # noqa: E731
    cases = {
        b"\xff\xd8\xff\xe0\x00\x10JFIF": "image/jpeg",
        b"RIFF\x00\x00\x00\x00WEBPVP8 ": "image/webp",
        ftyp(b"heic"): "image/heic",
        b"ID3\x04\x00": "audio/mpeg",
        b"\xff\xfb\x90\x00": "audio/mpeg",
        ftyp(b"M4A "): "audio/mp4",
        b"#!AMR\n\x3c": "audio/amr",
        ftyp(b"isom"): "video/mp4",
        ftyp(b"qt  "): "video/quicktime",
        b"%PDF-1.7": "application/pdf",
    }
    for head, expected in cases.items():
        found = sniff(head)
        assert found is not None and found.content_type == expected, head
    assert sniff(SHELL) is None and sniff(ELF) is None and sniff(b"<html><script>") is None
