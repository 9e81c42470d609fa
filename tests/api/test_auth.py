"""Bearer-token authentication of the API: people's and machine clients' tokens."""
from __future__ import annotations

from sqlalchemy import select

from caseflow.models import ApiToken, Case, CaseReporter, utcnow
from caseflow.security.tokens import issue_token, revoke_token
from caseflow.services import transition


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def new_case(session, catalog, world) -> Case:  # type: ignore[no-untyped-def]
    case = Case(number="AJ-AUTH-1", channel="hotline", tier="general", title="暴露垃圾", category_id=world.cat_garbage.id,
                center_id=world.street.id, reported_at=utcnow())
    transition.start(session, catalog, case, workflow="case_general", actor=world.actor("dispatcher"), role="dispatcher")
    return case


def test_missing_token_is_401_with_a_message(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/workflows")
    assert r.status_code == 401
    assert "authentication required" in r.json["message"]
    r = client.get("/api/workflows", headers={"Authorization": "Basic abc"})
    assert r.status_code == 401


def test_valid_token_is_accepted_and_last_use_recorded(client, session, world) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(session, "admin laptop", person=world.people["admin"])
    assert token.startswith("cf_")
    r = client.get("/api/workflows", headers=bearer(token))
    assert r.status_code == 200
    assert {"case_general", "instruction"} <= {w["name"] for w in r.json}
    row = session.execute(select(ApiToken).where(ApiToken.name == "admin laptop")).scalar_one()
    session.refresh(row)
    assert row.last_used_at is not None
    assert row.token_hash != token and len(row.token_hash) == 64  # only the SHA-256 is stored


def test_unknown_and_revoked_tokens_are_401(client, session, world) -> None:  # type: ignore[no-untyped-def]
    token = issue_token(session, "to revoke", person=world.people["liaison"])
    assert client.get("/api/workflows", headers=bearer(token)).status_code == 200
    row = session.execute(select(ApiToken).where(ApiToken.name == "to revoke")).scalar_one()
    revoke_token(session, row.id)
    r = client.get("/api/workflows", headers=bearer(token))
    assert r.status_code == 401 and "invalid or revoked" in r.json["message"]
    r = client.get("/api/workflows", headers=bearer("cf_" + "x" * 43))
    assert r.status_code == 401 and "invalid or revoked" in r.json["message"]


def test_token_of_a_deactivated_person_is_refused(client, session, world) -> None:  # type: ignore[no-untyped-def]
    person = world.people["road_handler"]
    token = issue_token(session, "old phone", person=person)
    person.active = False
    session.commit()
    assert client.get("/api/workflows", headers=bearer(token)).status_code == 401


def test_person_token_acts_with_that_persons_roles(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world)
    url = f"/api/items/case/{case.id}/transitions"
    liaison = issue_token(session, "liaison", person=world.people["liaison"])
    dispatcher = issue_token(session, "dispatcher", person=world.people["dispatcher"])
    # A liaison may not register a case: 403, and nothing changes.
    r = client.post(url, json={"trigger": "register"}, headers=bearer(liaison))
    assert r.status_code == 403 and r.json["status"] == "forbidden"
    assert session.get(Case, case.id).state == "reported"
    r = client.get(f"/api/items/case/{case.id}", headers=bearer(dispatcher))
    assert "register" in r.json["available_triggers"]
    r = client.post(url, json={"trigger": "register"}, headers=bearer(dispatcher))
    assert r.status_code == 200 and r.json["state"] == "registered"
    ledger = client.get(f"/api/items/case/{case.id}/ledger", headers=bearer(dispatcher)).json
    assert ledger[-1]["trigger"] == "register"
    assert ledger[-1]["actor_id"] == world.people["dispatcher"].id and ledger[-1]["actor_role"] == "dispatcher"


def test_machine_client_token_acts_as_the_client(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = new_case(session, catalog, world)
    token = issue_token(session, "110 center", client_kind="linkage_110")
    # A machine client sees only the cases it reported.
    assert client.get(f"/api/items/case/{case.id}", headers=bearer(token)).status_code == 404
    session.add(CaseReporter(case_id=case.id, channel="linkage_110", external_ref="110-1", client="linkage_110"))
    session.commit()
    r = client.get(f"/api/items/case/{case.id}", headers=bearer(token))
    assert r.status_code == 200
    # The 110 client holds no dispatcher role: it cannot register the case.
    assert r.json["available_triggers"] == []
    r = client.post(f"/api/items/case/{case.id}/transitions", json={"trigger": "register"}, headers=bearer(token))
    assert r.status_code == 403
