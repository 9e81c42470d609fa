"""A simple case's result carries a site photo (现场照片): through the service, the case API and
the generic transition endpoint; a document, another case's photo or the photo the failed
check already saw does not count."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from caseflow.errors import ValidationFailed
from caseflow.models import Case, Category, LedgerEntry
from caseflow.security.tokens import issue_token
from caseflow.services import attachments
from caseflow.services.cases import closing, handling, intake
from tests.integration.test_cases_lifecycle import PNG

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def simple_case(session, catalog, world, title="小广告"):  # type: ignore[no-untyped-def]
    if session.execute(select(Category).where(Category.code == "fly_posting")).scalar_one_or_none() is None:
        session.add(Category(code="fly_posting", name="乱张贴", field="city", responsible_department=world.sanitation,
                             default_tier="simple"))
        session.commit()
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("san_handler"), title=title,
                            category_code="fly_posting", grid_id=world.grid_main.id)
    assert case.workflow == "case_simple"
    return case


def upload(session, world, case_id, content=PNG, who="san_handler"):  # type: ignore[no-untyped-def]
    row = attachments.store(session, item_type="case", item_id=case_id, actor=world.actor(who),
                            filename="x", stream=io.BytesIO(content))
    return f"attachment:{row.id}"


def ledger_count(session, case_id):  # type: ignore[no-untyped-def]
    return session.execute(select(func.count()).select_from(LedgerEntry).where(
        LedgerEntry.item_type == "case", LedgerEntry.item_id == case_id)).scalar_one()


def refused(session, catalog, world, case_id, refs):  # type: ignore[no-untyped-def]
    before = ledger_count(session, case_id)
    with pytest.raises(ValidationFailed) as info:
        handling.report_result(session, catalog, case_id, actor=world.actor("san_handler"), result="已清除",
                               evidence_refs=refs)
    assert info.value.field == "evidence_refs" and "现场照片" in info.value.message
    session.expire_all()
    assert session.get(Case, case_id).state == "reported" and ledger_count(session, case_id) == before


def test_report_without_a_photo_is_refused_naming_the_field(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = simple_case(session, catalog, world)
    other = simple_case(session, catalog, world, "另一处小广告")
    refused(session, catalog, world, case.id, None)
    refused(session, catalog, world, case.id, ["photo-1", "https://img.example.test/1.jpg"])
    refused(session, catalog, world, case.id, [upload(session, world, case.id, PDF)])  # a document is no photo
    refused(session, catalog, world, case.id, [upload(session, world, other.id)])  # another case's photo
    with pytest.raises(ValidationFailed) as info:
        handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="x",
                               evidence_refs="attachment:1")  # type: ignore[arg-type]
    assert info.value.field == "evidence_refs"


def test_a_new_photo_for_each_report(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = simple_case(session, catalog, world)
    first = upload(session, world, case.id)
    case = handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="已清除",
                                  evidence_refs=["现场", first])
    assert case.state == "checking"
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_id == case.id, LedgerEntry.trigger == "report_result")).scalar_one()
    assert [p["id"] for p in entry.payload["site_photos"]] == [int(first.split(":")[1])]
    assert entry.payload["evidence_refs"] == ["现场", first]
    closing.check_fail(session, catalog, case.id, actor=world.actor("dispatcher"), reason="仍有残留")
    # After rework (返工) the photo the failed check already saw does not count again.
    refused(session, catalog, world, case.id, [first])
    second = upload(session, world, case.id)
    case = handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="已清除干净",
                                  evidence_refs=[first, second])
    assert case.state == "checking"
    entry = session.execute(select(LedgerEntry).where(
        LedgerEntry.item_id == case.id, LedgerEntry.trigger == "report_result").order_by(LedgerEntry.seq.desc())
        .limit(1)).scalar_one()
    assert [p["id"] for p in entry.payload["site_photos"]] == [int(second.split(":")[1])]


def test_api_and_generic_transition_refuse_and_accept(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case = simple_case(session, catalog, world)
    hdr = {"Authorization": f"Bearer {issue_token(session, 's', person=world.people['san_handler'])}"}
    r = client.post(f"/api/cases/{case.id}/result", json={"result": "已清除"}, headers=hdr)
    assert r.status_code == 422 and "evidence_refs" in r.json["errors"], r.json
    r = client.post(f"/api/items/case/{case.id}/transitions", json={"trigger": "report_result",
                                                                    "data": {"result": "已清除"}}, headers=hdr)
    assert r.status_code == 422 and "evidence_refs" in r.json["errors"], r.json
    up = client.post(f"/api/items/case/{case.id}/attachments", headers=hdr,
                     data={"file": (io.BytesIO(PNG), "site.png")}, content_type="multipart/form-data")
    assert up.status_code == 201 and up.json["kind"] == "photo"
    r = client.post(f"/api/cases/{case.id}/result", headers=hdr,
                    json={"result": "已清除", "evidence_refs": [f"attachment:{up.json['id']}"]})
    assert r.status_code == 200 and r.json["state"] == "checking", r.json


def test_a_general_case_needs_no_photo(session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    case, _ = intake.report(session, catalog, channel="patrol", actor=world.actor("dispatcher"), title="垃圾",
                            category_code="garbage")
    from caseflow.services.cases import review

    review.register(session, catalog, case.id, actor=world.actor("dispatcher"))
    handling.dispatch(session, catalog, case.id, actor=world.actor("dispatcher"), department_id=world.sanitation.id)
    handling.sign(session, catalog, case.id, actor=world.actor("san_handler"))
    case = handling.report_result(session, catalog, case.id, actor=world.actor("san_handler"), result="已清理")
    assert case.state == "checking"
