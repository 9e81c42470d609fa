"""``Idempotency-Key`` on the POSTs of machine clients: replay, mismatch, per client, expiry,
in-progress, failures not kept; on cases, instructions, Open311 requests and uploads."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from caseflow.api.idempotency import purge_expired
from caseflow.models import Attachment, Case, IdempotencyKey, Instruction, LedgerEntry, utcnow
from caseflow.security.tokens import issue_token
from caseflow.services.cases import intake

HEADER = "Idempotency-Key"
CASE = {"title": "井盖缺失", "category": "road", "address": "和平路 3 号", "grid": "G01",
        "description": "来电反映井盖缺失"}


@pytest.fixture
def tokens(session, world):  # type: ignore[no-untyped-def]
    return {
        "hotline": issue_token(session, "12345", client_kind="hotline"),
        "sensor": issue_token(session, "gateway", client_kind="sensor"),
        "110": issue_token(session, "110", client_kind="linkage_110"),
        "app": issue_token(session, "citizen app", client_kind="app"),
        "dispatcher": issue_token(session, "d", person=world.people["dispatcher"]),
    }


def headers(token: str, key: str | None = None) -> dict[str, str]:
    out = {"Authorization": f"Bearer {token}"}
    if key is not None:
        out[HEADER] = key
    return out


def count(session, model) -> int:  # type: ignore[no-untyped-def]
    session.expire_all()
    return session.execute(select(func.count()).select_from(model)).scalar_one()


def test_same_key_replays_the_first_response_without_running_again(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    r1 = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "call-0001"))
    assert r1.status_code == 201, r1.json
    ledger_before = count(session, LedgerEntry)
    # The same body, keys in another order: the same request.
    r2 = client.post("/api/cases", data=json.dumps(dict(reversed(list(CASE.items()))), ensure_ascii=False),
                     content_type="application/json", headers=headers(tokens["hotline"], "call-0001"))
    assert r2.status_code == 201
    assert r2.json == r1.json
    assert r2.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in r1.headers
    assert count(session, Case) == 1 and count(session, LedgerEntry) == ledger_before
    # Without a key the hotline files a second case: the key is what made the retry safe.
    r3 = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"]))
    assert r3.status_code == 201 and r3.json["id"] != r1.json["id"]


def test_same_key_with_another_body_is_refused_naming_the_header(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    assert client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "k-1")).status_code == 201
    r = client.post("/api/cases", json={**CASE, "title": "另一件事"}, headers=headers(tokens["hotline"], "k-1"))
    assert r.status_code == 422
    assert HEADER in r.json["errors"] and r.json["code"] == 422
    assert count(session, Case) == 1


def test_keys_belong_to_their_client(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    a = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "shared"))
    b = client.post("/api/cases", json=CASE, headers=headers(tokens["sensor"], "shared"))
    assert a.status_code == b.status_code == 201 and a.json["id"] != b.json["id"]
    assert b.json["channel"] == "sensor"
    clients = session.execute(select(IdempotencyKey.client).order_by(IdempotencyKey.id)).scalars().all()
    assert len(set(clients)) == 2 and all(c.startswith("token:") for c in clients)


def test_a_failed_request_is_not_kept(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    bad = client.post("/api/cases", json={**CASE, "grid": "G99"}, headers=headers(tokens["hotline"], "retry-me"))
    assert bad.status_code == 422 and "grid" in bad.json["errors"]
    assert count(session, IdempotencyKey) == 0
    good = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "retry-me"))
    assert good.status_code == 201 and count(session, Case) == 1


def test_keys_expire_after_24_hours_and_are_purged(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    first = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "old"))
    row = session.execute(select(IdempotencyKey)).scalar_one()
    row.created_at = utcnow() - timedelta(hours=24, minutes=1)
    session.commit()
    again = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "old"))
    assert again.status_code == 201 and again.json["id"] != first.json["id"]  # a fresh request now
    assert "Idempotent-Replayed" not in again.headers
    row = session.execute(select(IdempotencyKey)).scalar_one()
    row.created_at = utcnow() - timedelta(hours=25)
    session.add(IdempotencyKey(client="token:999", key="recent", request_hash="0" * 64, created_at=utcnow()))
    session.commit()
    assert purge_expired(session, utcnow()) == 1
    assert session.execute(select(IdempotencyKey.key)).scalars().all() == ["recent"]


def test_a_retry_while_the_first_still_runs_gets_409(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "slow"))
    row = session.execute(select(IdempotencyKey)).scalar_one()
    row.status = None  # as if the first request were still being processed
    session.commit()
    busy = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "slow"))
    assert busy.status_code == 409 and HEADER in busy.json["errors"]
    row.created_at = utcnow() - timedelta(minutes=10)  # its worker died: a retry takes over
    session.commit()
    taken = client.post("/api/cases", json=CASE, headers=headers(tokens["hotline"], "slow"))
    assert taken.status_code == 201 and taken.json["id"] != r.json["id"]


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "中文"])
def test_a_malformed_key_is_refused(client, tokens, key: str) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/cases", json=CASE, headers={"Authorization": f"Bearer {tokens['hotline']}",
                                                     HEADER: key.encode("utf-8").decode("latin-1")})
    assert r.status_code == 422 and HEADER in r.json["errors"]


def test_instruction_intake_replays_the_first_201(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    body = {"number": "110-0001", "category": "garbage", "grid": "G01", "description": "垃圾起火"}
    r1 = client.post("/api/instructions", json=body, headers=headers(tokens["110"], "110-0001"))
    r2 = client.post("/api/instructions", json=body, headers=headers(tokens["110"], "110-0001"))
    assert r1.status_code == r2.status_code == 201  # without the key the second answer would be 200
    assert r2.json == r1.json and r2.headers["Idempotent-Replayed"] == "true"
    assert count(session, Instruction) == 1


def test_open311_request_with_a_key(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    form = {"api_key": tokens["app"], "jurisdiction_id": "caseflow", "service_code": "garbage",
            "lat": "31.2304", "long": "121.4737", "description": "垃圾堆放"}
    r1 = client.post("/open311/v2/requests.json", data=form, headers={HEADER: "app-42"})
    r2 = client.post("/open311/v2/requests.json", data=form, headers={HEADER: "app-42"})
    assert r1.status_code == 200 and r2.data == r1.data and r2.headers["Idempotent-Replayed"] == "true"
    assert count(session, Case) == 1
    other = client.post("/open311/v2/requests.json", data={**form, "description": "别的"}, headers={HEADER: "app-42"})
    # GeoReport's own error format, which reports bad parameters as 400.
    assert other.status_code == 400 and HEADER in other.json[0]["description"]
    assert count(session, Case) == 1


def test_upload_retried_with_a_new_multipart_boundary_is_stored_once(client, session, catalog, world, tokens) -> None:  # type: ignore[no-untyped-def]
    import io

    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), title="垃圾",
                            category_code="garbage", grid_id=world.grid_main.id)
    pdf = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    url = f"/api/items/case/{case.id}/attachments"
    responses = []
    for boundary in ("aaaaBOUNDARY1", "bbbbBOUNDARY2"):
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"scan.pdf\"\r\n"
                f"Content-Type: application/pdf\r\n\r\n").encode() + pdf + f"\r\n--{boundary}--\r\n".encode()
        responses.append(client.post(url, input_stream=io.BytesIO(body), content_length=len(body),
                                      content_type=f"multipart/form-data; boundary={boundary}",
                                      headers=headers(tokens["dispatcher"], "upload-1")))
    assert responses[0].status_code == 201, responses[0].json
    assert responses[1].status_code == 201 and responses[1].json == responses[0].json
    assert count(session, Attachment) == 1


def test_the_header_is_documented_on_machine_client_posts(client) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/api/openapi.json").json
    for path in ("/api/cases", "/api/cases/{case_id}/{action}", "/api/instructions", "/open311/v2/requests.{fmt}",
                 "/api/items/{item_type}/{item_id}/attachments"):
        names = [p["name"] for p in spec["paths"][path]["post"].get("parameters", []) if p["in"] == "header"]
        assert names == [HEADER], path


def test_case_action_callback_with_a_key_is_recorded_once(client, session, tokens, world) -> None:  # type: ignore[no-untyped-def]
    created = client.post("/api/cases", json={**CASE, "external_ref": "12345-cb"}, headers=headers(tokens["hotline"]))
    cid = created.json["id"]
    for who, action, body in [("dispatcher", "register", {}),
                              ("dispatcher", "dispatch", {"department_id": world.roads.id})]:
        assert client.post(f"/api/cases/{cid}/{action}", json=body,
                           headers=headers(tokens[who])).status_code == 200
    road = issue_token(session, "r", person=world.people["road_handler"])
    for action, body in [("sign", {}), ("result", {"result": "已修复"})]:
        assert client.post(f"/api/cases/{cid}/{action}", json=body, headers=headers(road)).status_code == 200
    assert client.post(f"/api/cases/{cid}/check-pass", json={},
                       headers=headers(tokens["dispatcher"])).status_code == 200
    ledger_before = count(session, LedgerEntry)
    r1 = client.post(f"/api/cases/{cid}/callback", json={"grade": 4, "note": "满意"},
                     headers=headers(tokens["hotline"], "cb-0001"))
    assert r1.status_code == 200, r1.json
    r2 = client.post(f"/api/cases/{cid}/callback", json={"grade": 4, "note": "满意"},
                     headers=headers(tokens["hotline"], "cb-0001"))
    assert r2.status_code == 200 and r2.json == r1.json
    assert r2.headers["Idempotent-Replayed"] == "true"
    assert count(session, LedgerEntry) == ledger_before + 1
    assert len(session.get(Case, cid).data["callbacks"]) == 1
    # The same key on another step of the same client is a different request.
    r3 = client.post(f"/api/cases/{cid}/callback", json={"grade": 1}, headers=headers(tokens["hotline"], "cb-0001"))
    assert r3.status_code == 422 and HEADER in r3.json["errors"]
