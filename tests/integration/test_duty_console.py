"""Console pages of the duty watch: log form, roll-call answer, checklist, printable record."""
from __future__ import annotations

import re

from flask import g

from caseflow.models import DutyLogEntry
from caseflow.services import transition
from caseflow.services.duty import handover as hs
from caseflow.services.duty import rota

from .duty_support import lead_actor, plan


def _as(client, person):  # type: ignore[no-untyped-def]
    g.pop("console_person", None)
    with client.session_transaction() as s:
        s["person_id"] = person.id


def test_duty_pages(client, session, catalog, world):  # type: ignore[no-untyped-def]
    shifts = plan(session, catalog, world, days=2)
    transition.fire(session, catalog, "duty_shift", shifts[0].id, "start", actor=lead_actor(world, shifts[0]))
    _as(client, world.people["duty_officer"])
    r = client.post("/duty/watch/log", data={"type": "roll_call", "summary": "视频点名"})
    assert r.status_code == 302
    entry = session.query(DutyLogEntry).one()
    g.pop("console_person", None)
    page = client.get("/duty/watch/").get_data(as_text=True)
    assert "视频点名" in page and "应答" in page
    assert 'id="shift-special"' not in page  # an ordinary day says nothing more
    rota.assign(session, shifts[0].id, world.people["deputy"].id, "leader_on_shift", actor=world.actor("admin"))
    rota.mark_special(session, shifts[0].id, "sensitive", None, actor=world.actor("admin"))
    g.pop("console_person", None)
    page = client.get("/duty/watch/").get_data(as_text=True)
    assert "敏感时期 · 最少 3 人 · 带班领导: deputy" in page
    g.pop("console_person", None)
    client.post(f"/duty/watch/log/{entry.id}/answer")
    session.expire_all()
    assert session.get(DutyLogEntry, entry.id).answered_by_id == world.people["duty_officer"].id

    h = hs.open_handover(session, catalog, shifts[0].id, actor=lead_actor(world, shifts[0]))
    hs.submit(session, catalog, h.id, actor=lead_actor(world, shifts[0]))
    hs.complete(session, catalog, h.id, actor=lead_actor(world, shifts[1]))  # no open items: nothing to accept
    _as(client, world.people["principal"])
    r = client.get(f"/duty/watch/handovers/{h.id}/print")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and "已交接" in text and "尚未完成" not in text
    # The CSP (default-src 'self') refuses inline styles, scripts and handlers: all of it is static.
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert not re.search(r"<style|style=|<script>|<script(?![^>]*\bsrc=)|\son[a-z]+=", text, re.I)
    assert "/console-static/print.css" in text and "/console-static/print.js" in text
    css = client.get("/console-static/print.css")
    assert css.status_code == 200 and "@media print" in css.get_data(as_text=True)
    css.close()
    js = client.get("/console-static/print.js")
    assert js.status_code == 200 and "window.print()" in js.get_data(as_text=True)
    js.close()
