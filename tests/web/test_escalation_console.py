"""The console's escalation lists: who was told (position, person, channel, time) and who
acknowledged; acknowledged runs stay listed for a day; the people told may acknowledge from
the console, not leaders only."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select, update

from caseflow.deadlines import escalation
from caseflow.models import EscalationNotice, EscalationRun, LedgerEntry, utcnow
from tests.integration.test_escalation import late_instruction
from tests.web.test_work_pages import as_person, flashes


def _row(page: str, run_id: int) -> str:
    """The HTML of the run's row in the page's (first) escalation table."""
    match = re.search(rf'<tr [^>]*data-run="{run_id}".*?</tr>', page, re.S)
    assert match, page
    return match.group(0)


def test_leader_sees_who_was_told_and_who_acknowledged(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    world.people["san_head"].channels = ["wecom:https://qyapi.example.test/send?key=K", "email"]
    session.commit()
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    as_person(client, world.people["deputy"])
    row = _row(client.get("/leader").get_data(as_text=True), run.id)
    assert 'data-status="active"' in row and 'data-step="0" data-round="0"' in row
    assert re.search(r"单位负责人 san_head\s*\(企业微信, 邮件\)", row), row
    assert re.search(r"应急行动组组长 san_group_leader\s*\(邮件\)", row), row
    assert 'data-action="acknowledge"' in row

    escalation.acknowledge(session, run.id, world.actor("san_head"), comment="已出发")
    page = client.get("/leader").get_data(as_text=True)
    row = _row(page, run.id)  # still listed, now with who took it on and no button
    assert 'data-status="acknowledged"' in row and f'data-ack-by="{world.people["san_head"].id}">san_head' in row
    assert 'data-action="acknowledge"' not in row
    with client.session_transaction() as s:
        s["lang"] = "en"
    row = _row(client.get("/leader").get_data(as_text=True), run.id)
    assert re.search(r"unit head san_head\s*\(WeCom, email\)", row) and "step 1, round 1" in row, row

    # A day later it is off the list.
    session.execute(update(EscalationRun).where(EscalationRun.id == run.id)
                    .values(acknowledged_at=utcnow() - timedelta(hours=25)))
    session.commit()
    assert f'data-run="{run.id}"' not in client.get("/leader").get_data(as_text=True)


def test_the_people_told_acknowledge_from_the_console(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    # Another department's handler does not learn that it exists (as in the API).
    as_person(client, world.people["road_handler"])
    assert client.post(f"/leader/escalations/{run.id}/acknowledge", data={}).status_code == 404
    assert client.post("/leader/escalations/99999/acknowledge", data={}).status_code == 404
    # A handler of the unit who was not told: the route lets handlers in, the service refuses.
    as_person(client, world.people["san_handler"])
    r = client.post(f"/leader/escalations/{run.id}/acknowledge", data={"next": "/handler"}, follow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/handler")
    session.expire_all()
    assert session.get(EscalationRun, run.id).status == "active"
    # The unit head was told (a handler too): acknowledged, back where the form was.
    as_person(client, world.people["san_head"])
    r = client.post(f"/leader/escalations/{run.id}/acknowledge", data={"comment": "我去", "next": "/handler"},
                    follow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"].endswith("/handler")
    session.expire_all()
    got = session.get(EscalationRun, run.id)
    assert (got.status, got.acknowledged_by_id) == ("acknowledged", world.people["san_head"].id)
    assert session.execute(select(LedgerEntry.comment).where(
        LedgerEntry.item_id == ins.id, LedgerEntry.trigger == "acknowledge:late_arrival")).scalar_one() == "我去"


def test_duty_page_lists_escalations_the_person_was_told_about(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    ins, run = late_instruction(session, catalog, world)
    other, quiet = late_instruction(session, catalog, world, number="110-E9")
    escalation.advance(session, catalog, run.id)
    lead = world.people["duty_lead"]
    session.add(EscalationNotice(run_id=run.id, step_index=0, repeat_index=0, target="shift_lead_on_duty",
                                 person_id=lead.id, notified_at=utcnow()))
    session.commit()
    as_person(client, lead)
    page = client.get("/duty").get_data(as_text=True)
    table = page[page.index('id="duty-escalations"'):]
    row = _row(table, run.id)
    assert "值班长 duty_lead" in row and 'data-action="acknowledge"' in row
    assert f'data-run="{quiet.id}"' not in table  # not told about that one
    r = client.post(f"/leader/escalations/{run.id}/acknowledge", data={"next": "/duty"}, follow_redirects=True)
    assert "已确认" in flashes(r.get_data(as_text=True))[0]
    session.expire_all()
    assert session.get(EscalationRun, run.id).acknowledged_by_id == lead.id
