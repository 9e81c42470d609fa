"""The instruction API: intake from 110, steps, detail, ledger exports, and a real worker end to end."""
from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import select

from caseflow.models import Deadline, Instruction, Notification
from caseflow.security.tokens import issue_token

SH = ZoneInfo("Asia/Shanghai")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def tokens(session, world):  # type: ignore[no-untyped-def]
    return {
        "110": issue_token(session, "city 110", client_kind="linkage_110"),
        "liaison": issue_token(session, "liaison", person=world.people["liaison"]),
        "san": issue_token(session, "san", person=world.people["san_handler"]),
        "road": issue_token(session, "road", person=world.people["road_handler"]),
        "deputy": issue_token(session, "deputy", person=world.people["deputy"]),
    }


BODY = {"number": "110-20260310-0001", "category": "garbage", "address": "人民路 1 号", "grid": "G01",
        "description": "垃圾堆放起火", "caller_contact": "138****0000", "received_at": "2026-03-10T22:00:00+08:00"}


def test_post_is_idempotent_on_number(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    r1 = client.post("/api/instructions", json=BODY, headers=bearer(tokens["110"]))
    assert r1.status_code == 201, r1.json
    assert r1.json["state"] == "received" and r1.json["area_kind"] == "main_urban"
    r2 = client.post("/api/instructions", json={**BODY, "category": "road"}, headers=bearer(tokens["110"]))
    assert r2.status_code == 200 and r2.json["id"] == r1.json["id"] and r2.json["category"] == "garbage"
    assert session.query(Instruction).count() == 1


def test_area_derived_from_grid_and_liaison_may_file(client, tokens) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/instructions", json={**BODY, "number": "110-2", "grid": "G02"},
                    headers=bearer(tokens["liaison"]))
    assert r.status_code == 201 and r.json["area_kind"] == "other"


@pytest.mark.parametrize("change,field", [
    ({"category": "unicorns"}, "category"), ({"number": "no spaces allowed"}, "number"),
    ({"received_at": "yesterday"}, "received_at"), ({"area_kind": "suburb"}, "area_kind"),
    ({"grid": "G99"}, "grid"), ({"category": None}, "category"),
])
def test_malformed_or_unknown_category_names_the_field(client, tokens, change, field) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/instructions", json={**BODY, **change}, headers=bearer(tokens["110"]))
    assert r.status_code == 422, r.json
    errors = r.json["errors"]
    assert field in errors or field in errors.get("json", {}), errors


def test_missing_number_and_handler_cannot_file(client, tokens) -> None:  # type: ignore[no-untyped-def]
    body = {k: v for k, v in BODY.items() if k != "number"}
    r = client.post("/api/instructions", json=body, headers=bearer(tokens["110"]))
    assert r.status_code == 422 and "number" in r.json["errors"]["json"]
    r = client.post("/api/instructions", json=BODY, headers=bearer(tokens["san"]))
    assert r.status_code == 403
    assert client.post("/api/instructions", json=BODY).status_code == 401


def _walk(client, tokens, number="110-W", **extra):  # type: ignore[no-untyped-def]
    r = client.post("/api/instructions", json={**BODY, "number": number, **extra}, headers=bearer(tokens["110"]))
    iid = r.json["id"]
    for action, who, body in [("sign", "liaison", {}), ("dispatch", "liaison", {})]:
        r = client.post(f"/api/instructions/{iid}/{action}", json=body, headers=bearer(tokens[who]))
        assert r.status_code == 200, r.json
    return iid


def test_steps_detail_and_scope(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    iid = _walk(client, tokens)
    detail = client.get(f"/api/instructions/{iid}", headers=bearer(tokens["liaison"])).json
    arrival = [d for d in detail["deadlines"] if d["key"] == "arrival"][0]
    assert arrival["status"] == "pending" and 0 < arrival["seconds_left"] <= 30 * 60
    assert [e["trigger"] for e in detail["ledger"]] == ["receive", "sign", "dispatch"]
    assert [a["kind"] for a in detail["answers_110"]] == ["signed"]
    # The other unit's handler does not see it; the unit's handler does and acts.
    assert client.get(f"/api/instructions/{iid}", headers=bearer(tokens["road"])).status_code == 404
    r = client.post(f"/api/instructions/{iid}/arrive", json={}, headers=bearer(tokens["san"]))
    assert r.status_code == 422 and "situation" in r.json["errors"]
    for action, who, body in [("arrive", "san", {"situation": "明火已扑灭", "place": "人民路口"}),
                              ("severity", "san", {"severity": "major"}),
                              ("report-to-principal", "deputy", {}),
                              ("result", "san", {"result": "清运完毕"}),
                              ("report-to-110", "liaison", {})]:
        r = client.post(f"/api/instructions/{iid}/{action}", json=body, headers=bearer(tokens[who]))
        assert r.status_code == 200, (action, r.json)
    assert r.json["state"] == "closed" and r.json["on_time"] is True
    r = client.post(f"/api/instructions/{iid}/sign", json={}, headers=bearer(tokens["liaison"]))
    assert r.status_code == 409
    listing = client.get("/api/instructions?state=closed&per_page=10", headers=bearer(tokens["liaison"])).json
    assert listing["total"] == 1 and listing["items"][0]["number"] == "110-W"
    assert client.get("/api/instructions", headers=bearer(tokens["road"])).json["total"] == 0


def test_decline_over_api_queues_explanation_to_110(client, session, tokens) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/instructions", json={**BODY, "number": "110-P", "category": "police"},
                    headers=bearer(tokens["110"]))
    iid = r.json["id"]
    r = client.post(f"/api/instructions/{iid}/decline", json={"explanation": "属公安"}, headers=bearer(tokens["liaison"]))
    assert r.status_code == 200 and r.json["state"] == "declined"
    row = session.execute(select(Notification).where(Notification.channel == "linkage_110")).scalar_one()
    assert row.address == "110-P" and row.payload["kind"] == "declined" and row.payload["explanation"] == "属公安"


def test_xlsx_and_csv_ledger_hold_shanghai_times(client, session, tokens, world) -> None:  # type: ignore[no-untyped-def]
    iid = _walk(client, tokens, number="110-X")
    client.post(f"/api/instructions/{iid}/arrive", json={"situation": "到场"}, headers=bearer(tokens["san"]))
    _walk(client, tokens, number="110-Y", category="road")
    item = session.get(Instruction, iid)
    session.refresh(item)
    r = client.get(f"/api/instructions/ledger.xlsx?department_id={world.sanitation.id}",
                   headers=bearer(tokens["liaison"]))
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    ws = openpyxl.load_workbook(io.BytesIO(r.data)).active
    rows = list(ws.iter_rows(values_only=True))
    assert rows[0][:3] == ("指令编号", "接收时间", "签收时间") and len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["指令编号"] == "110-X" and row["接收时间"] == datetime(2026, 3, 10, 22, 0)
    local = item.dispatched_at.astimezone(SH).replace(tzinfo=None)
    assert abs(row["派遣时间"] - local) < timedelta(seconds=1)
    assert abs(row["到场时限"] - (local + timedelta(minutes=30))) < timedelta(seconds=1)
    assert row["按时到场"] == "是" and row["现场情况"] == "到场"
    r = client.get("/api/instructions/ledger.csv?category=road", headers=bearer(tokens["liaison"]))
    text = r.data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text)))
    assert len(lines) == 2 and lines[1][0] == "110-Y" and lines[1][1] == "2026-03-10 22:00:00"
    r = client.get("/api/instructions/ledger.csv?on_time=true", headers=bearer(tokens["liaison"]))
    assert [ln[0] for ln in csv.reader(io.StringIO(r.data.decode("utf-8-sig")))][1:] == ["110-X"]


@pytest.mark.slow
def test_end_to_end_night_instruction_with_real_worker(client, session, tokens, world, app) -> None:  # type: ignore[no-untyped-def]
    """A night-time main-urban instruction: the arrival deadline is fired by `caseflow worker --burst`."""
    from caseflow.services import instructions as svc

    r = client.post("/api/instructions", json={**BODY, "number": "110-E2E"}, headers=bearer(tokens["110"]))
    iid = r.json["id"]
    assert client.post(f"/api/instructions/{iid}/sign", json={}, headers=bearer(tokens["liaison"])).status_code == 200
    # Routing time frozen at 22:00 on a Tuesday: the action group gets it, its leader is told.
    svc.dispatch(session, app.extensions["caseflow.workflows"], iid, actor=world.actor("liaison"),
                 now=datetime(2026, 3, 10, 22, 0, tzinfo=SH))
    item = session.get(Instruction, iid)
    assert item.to_action_group is True and item.area_kind == "main_urban"
    row = session.execute(select(Deadline).where(Deadline.item_id == iid, Deadline.key == "arrival")).scalar_one()
    # Make the deadline due now and re-schedule its job so the worker runs it at once.
    row.due_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    session.commit()
    from caseflow.deadlines.scheduling import schedule_deadline

    schedule_deadline(row.id, row.due_at)
    env = {**os.environ, "CASEFLOW_DATABASE_URL": app.config["DATABASE_URL"],
           "CASEFLOW_REDIS_URL": app.config["REDIS_URL"], "CASEFLOW_DEADLINE_QUEUE": app.config["DEADLINE_QUEUE"],
           "CASEFLOW_DEFAULT_QUEUE": app.config["DEFAULT_QUEUE"], "CASEFLOW_NOTIFY_QUEUE": app.config["NOTIFY_QUEUE"]}
    exe = os.path.join(os.path.dirname(sys.executable), "caseflow")
    proc = subprocess.run([exe, "worker", "--burst", "--queues",
                           app.config["DEADLINE_QUEUE"], "--no-sweeper"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    session.expire_all()
    assert session.get(Instruction, iid).state == "late"
    assert session.get(Deadline, row.id).status == "fired"
    for action, who, body in [("delay", "san", {"reason": "暴雨绕行"}), ("arrive", "san", {"situation": "到场"}),
                              ("result", "san", {"result": "处置完毕"}), ("report-to-110", "liaison", {})]:
        r = client.post(f"/api/instructions/{iid}/{action}", json=body, headers=bearer(tokens[who]))
        assert r.status_code == 200, (action, r.json)
    r = client.get("/api/instructions/ledger.xlsx", headers=bearer(tokens["liaison"]))
    rows = list(openpyxl.load_workbook(io.BytesIO(r.data)).active.iter_rows(values_only=True))
    assert len(rows) == 2
    row_ = dict(zip(rows[0], rows[1], strict=True))
    assert row_["按时到场"] == "否" and row_["迟到原因"] == "暴雨绕行"
    assert row_["区域"] == "主城区" and row_["处置单位"] == "环卫所（应急行动组）"
    # Every time is a real datetime cell holding Shanghai wall time (8 hours ahead of the UTC stored).
    session.expire_all()
    item = session.get(Instruction, iid)
    due = session.get(Deadline, row.id).due_at

    def shanghai(value: datetime) -> datetime:
        return value.astimezone(SH).replace(tzinfo=None)

    assert row_["接收时间"] == datetime(2026, 3, 10, 22, 0)  # received 22:00+08:00
    for column, stored in [("签收时间", item.signed_at), ("派遣时间", item.dispatched_at), ("到场时限", due),
                           ("到场时间", item.arrived_at), ("反馈110时间", item.closed_at)]:
        cell = row_[column]
        assert isinstance(cell, datetime) and cell.tzinfo is None, (column, cell)
        assert abs(cell - shanghai(stored)) < timedelta(seconds=1), (column, cell, stored)
    assert row_["到场时间"] - row_["到场时限"] > timedelta(seconds=1)  # 否: on site after the limit
