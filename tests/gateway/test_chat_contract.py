"""The chat gateway's contract without the assistant: validation, logging, fallback."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.models.grievance import GrievanceRecord
from api.models.ticket import Ticket
from api.services import grievance_log


def _records(db: Session) -> list[GrievanceRecord]:
    db.rollback()
    return list(db.exec(select(GrievanceRecord).order_by(GrievanceRecord.id)).all())


def test_assistant_down_still_answers_records_and_opens_work_order(client: TestClient, db: Session) -> None:
    resp = client.post(
        "/api/chat/messages", json={"session_id": "web-t1", "text": "我要投诉盲道被占", "channel": "web"}
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["handoff"] is True
    assert re.fullmatch(r"\d{12}", body["ticket_number"])
    assert "记录" in body["replies"][0]["text"] and body["ticket_number"] in body["replies"][0]["text"]
    [rec] = _records(db)
    assert rec.id == body["log_id"] and rec.text == "我要投诉盲道被占" and rec.outcome == "fallback"
    assert rec.ticket_number == body["ticket_number"] and rec.handoff is True
    ticket = db.exec(select(Ticket)).one()
    assert ticket.description == "我要投诉盲道被占" and ticket.session_id == "web-t1"
    assert grievance_log.verify(db).ok


def test_empty_text_is_refused_in_chinese_and_english_and_logged(client: TestClient, db: Session) -> None:
    resp = client.post("/api/chat/messages", json={"session_id": "web-t2", "text": "   ", "channel": "web"})
    assert resp.status_code == 422
    err = resp.json()["error"]
    assert err["code"] == "empty_text" and "不能为空" in err["message"] and "empty" in err["message"]
    [rec] = _records(db)
    assert rec.status == "rejected" and rec.error_code == "empty_text" and rec.session_id == "web-t2"


def test_too_long_text_is_refused_but_kept_whole(client: TestClient, db: Session) -> None:
    text = "很长的投诉内容" * 400
    resp = client.post("/api/chat/messages", json={"session_id": "web-t3", "text": text, "channel": "web"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "text_too_long"
    assert "2000" in resp.json()["error"]["message"]
    [rec] = _records(db)
    assert rec.text == text


def test_invalid_json_is_a_400_with_the_raw_body_logged(client: TestClient, db: Session) -> None:
    resp = client.post(
        "/api/chat/messages",
        content=b'{"text": "\xe4\xbd\xa0\xe5\xa5\xbd", ',
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_json"
    [rec] = _records(db)
    assert "你好" in rec.text and rec.error_code == "invalid_json"


def test_unknown_channel_and_wrong_types(client: TestClient, db: Session) -> None:
    resp = client.post("/api/chat/messages", json={"session_id": "x", "text": "你好", "channel": "fax"})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "unknown_channel"
    resp = client.post("/api/chat/messages", json=["not", "an", "object"])
    assert resp.status_code == 400
    resp = client.post("/api/chat/messages", json={"session_id": 5, "text": "你好"})
    assert resp.status_code == 422
    # Falsy values of the wrong type are refused too, not read as the defaults (found by the schema fuzzer).
    for wrong in ({"channel": False}, {"channel": None}, {"session_id": 0}, {"session_id": []}):
        resp = client.post("/api/chat/messages", json={"text": "你好", **wrong})
        assert resp.status_code == 422, wrong
    assert len(_records(db)) == 7


def test_missing_session_id_gets_one(client: TestClient) -> None:
    resp = client.post("/api/chat/messages", json={"text": "你好", "channel": "sms"})
    assert resp.status_code == 200
    assert resp.json()["session_id"].startswith("sms-")


def test_health_names_what_is_down(client: TestClient) -> None:
    resp = client.get("/health")
    assert resp.status_code == 200
    checks = resp.json()["checks"]
    assert checks["database"]["status"] == "ok"
    assert checks["rasa"]["status"] == "down" and "unreachable" in checks["rasa"]["reason"]
    assert checks["action_server"]["status"] == "down"
    assert resp.json()["status"] == "degraded"


def test_unknown_route_uses_the_error_shape(client: TestClient) -> None:
    resp = client.get("/api/nothing-here")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "not_found"
