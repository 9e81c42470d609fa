"""The console's page of undelivered (dead) notifications: admins and duty leads see channel,
recipient, last error, attempts and time, and retry through the outbox service."""
from __future__ import annotations

from sqlalchemy import select, update

from caseflow.api.escalations import OUTBOX_ROLES as API_OUTBOX_ROLES
from caseflow.deadlines import escalation
from caseflow.models import AccessDenial, Notification
from caseflow.web.guards import OUTBOX_ROLES, may_open
from tests.integration.test_escalation import late_instruction
from tests.web.test_work_pages import as_person, flashes


def _dead_one(session, catalog, world) -> Notification:  # type: ignore[no-untyped-def]
    world.people["san_head"].channels = ["wecom:https://qyapi.example.test/send?key=SECRET"]
    session.commit()
    _, run = late_instruction(session, catalog, world)
    escalation.advance(session, catalog, run.id)
    row = session.execute(select(Notification).order_by(Notification.id)).scalars().first()
    session.execute(update(Notification).where(Notification.id == row.id)
                    .values(status="dead", attempts=8, last_error="HTTP 503 from qyapi"))
    session.commit()
    return row


def test_admin_sees_dead_notifications_and_retries_one(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    row = _dead_one(session, catalog, world)
    as_person(client, world.people["admin"])
    admin_page = client.get("/admin").get_data(as_text=True)
    tools = admin_page[admin_page.index('id="admin-tools"'):]
    assert 'href="/admin/notifications/dead" data-page="outbox_console.dead">发送失败的通知</a>' in tools
    page = client.get("/admin/notifications/dead").get_data(as_text=True)
    assert f'data-notification="{row.id}"' in page
    body = page[page.index(f'data-notification="{row.id}"'):]
    body = body[:body.index("</tr>")]
    assert "企业微信" in body and "san_head" in body and "https://qyapi.example.test/send" in body
    assert "HTTP 503 from qyapi" in body and "<td>8</td>" in body and 'data-action="retry"' in body
    assert "SECRET" not in page
    assert ">Undelivered notifications" in client.get("/admin/notifications/dead?lang=en").get_data(as_text=True)
    client.get("/admin/notifications/dead?lang=zh")  # the choice sticks to the session: back to Chinese

    r = client.post(f"/admin/notifications/{row.id}/retry", follow_redirects=True)
    assert "已重新排队发送" in flashes(r.get_data(as_text=True))
    session.expire_all()
    got = session.get(Notification, row.id)
    assert (got.status, got.attempts) == ("pending", 0)
    assert f'data-notification="{row.id}"' not in r.get_data(as_text=True)
    # Not dead any more: the service's conflict is shown, nothing changes.
    r = client.post(f"/admin/notifications/{row.id}/retry", follow_redirects=True)
    assert r.status_code == 200 and flashes(r.get_data(as_text=True)) and session.get(Notification, row.id).status == "pending"


def test_duty_lead_may_open_it_others_may_not(client, session, catalog, world) -> None:  # type: ignore[no-untyped-def]
    row = _dead_one(session, catalog, world)
    as_person(client, world.people["duty_lead"])
    page = client.get("/duty").get_data(as_text=True)
    assert 'href="/admin/notifications/dead"' in page  # in the navigation bar
    assert f'data-notification="{row.id}"' in client.get("/admin/notifications/dead").get_data(as_text=True)
    for who in ("san_head", "deputy", "liaison"):
        as_person(client, world.people[who])
        assert client.get("/admin/notifications/dead").status_code == 403
        assert client.post(f"/admin/notifications/{row.id}/retry").status_code == 403
        assert "/admin/notifications/dead" not in client.get("/").get_data(as_text=True)
    session.expire_all()
    assert session.get(Notification, row.id).status == "dead"
    assert session.execute(select(AccessDenial)).scalars().all()


def test_console_and_api_share_the_outbox_roles() -> None:
    assert OUTBOX_ROLES == set(API_OUTBOX_ROLES)
    assert may_open({"duty_lead"}, "outbox_console.dead") and not may_open({"leader"}, "outbox_console.dead")
