"""The grievance log over the API: search (masked for auditors), verify, tampering detected, exports."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import Session

from api.services import grievance_log
from tests.backoffice.conftest import create


def _seed(db: Session) -> list[int]:
    ids = []
    for i, (channel, words) in enumerate(
        [("web", "我电话13800138000"), ("sms", "身份证11010519491231002X"), ("voice", "你好")]
    ):
        rec = grievance_log.append(db, channel=channel, session_id=f"s-{i}", text=words)
        grievance_log.complete(db, record_id=rec.id, outcome="answered", replies=[{"text": f"收到{words}"}])
        ids.append(rec.id)
    db.rollback()
    return ids


def test_search_filters_and_masks_for_auditors(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    _seed(db)
    auditor, sup = headers("auditor"), headers("supervisor")
    web = client.get("/api/grievance-log", params={"channel": "web"}, headers=auditor).json()
    assert [r["session_id"] for r in web["items"]] == ["s-0"]
    assert web["items"][0]["text"] == "我电话138****8000" and "138****8000" in web["items"][0]["replies"][0]["text"]
    full = client.get("/api/grievance-log", params={"session_id": "s-1"}, headers=sup).json()
    assert full["items"][0]["text"] == "身份证11010519491231002X"
    assert len(client.get("/api/grievance-log", headers=sup).json()["items"]) == 3
    window = client.get(
        "/api/grievance-log", params={"since": "2000-01-01T00:00:00", "until": "2000-01-02T00:00:00"}, headers=sup
    )
    assert window.status_code == 200 and window.json()["items"] == []
    assert client.get("/api/grievance-log", params={"since": "0001-01-01T00:00:00"}, headers=sup).status_code == 422
    assert client.get("/api/grievance-log", params={"session_id": "a\x00b"}, headers=sup).status_code == 422
    assert client.get("/api/grievance-log", params={"ticket_number": "12"}, headers=sup).status_code == 422


def test_search_by_ticket(client: TestClient, db: Session, headers: Callable[..., dict[str, str]]) -> None:
    resp = client.post("/api/chat/messages", json={"session_id": "web-x", "text": "我要投诉", "channel": "web"})
    number = resp.json()["ticket_number"]
    found = client.get("/api/grievance-log", params={"ticket_number": number}, headers=headers("supervisor")).json()
    assert [r["session_id"] for r in found["items"]] == ["web-x"]


def test_verify_and_tampering_detected(client: TestClient, db: Session, headers: Callable[..., dict[str, str]]) -> None:
    ids = _seed(db)
    auditor = headers("auditor")
    ok = client.get("/api/grievance-log/verify", headers=auditor).json()
    assert ok["ok"] is True and ok["records"] == 3
    postgres = db.get_bind().dialect.name == "postgresql"
    if postgres:
        # The trigger refuses edits and deletes of sealed records...
        for sql in ("UPDATE grievance_log SET text = 'x' WHERE id = 2", "DELETE FROM grievance_log WHERE id = 3"):
            with pytest.raises(DBAPIError, match="refused"):
                db.execute(text(sql))
            db.rollback()
        # ...and an edit made with the trigger disabled (a superuser) is still detected.
        db.execute(text("ALTER TABLE grievance_log DISABLE TRIGGER grievance_log_guard"))
        db.execute(text("UPDATE grievance_log SET text = '改过的内容' WHERE id = :i"), {"i": ids[1]})
        db.execute(text("ALTER TABLE grievance_log ENABLE TRIGGER grievance_log_guard"))
    else:
        db.execute(text("UPDATE grievance_log SET text = '改过的内容' WHERE id = :i"), {"i": ids[1]})
    db.commit()
    broken = client.get("/api/grievance-log/verify", headers=auditor).json()
    assert broken["ok"] is False and broken["first_broken_id"] == ids[1] and "altered" in broken["reason"]

    if not postgres:
        # Put the text back, then delete the last record: the head row no longer matches.
        db.execute(
            text("UPDATE grievance_log SET text = :t WHERE id = :i"), {"t": "身份证11010519491231002X", "i": ids[1]}
        )
        db.execute(text("DELETE FROM grievance_log WHERE id = :i"), {"i": ids[2]})
        db.commit()
        tail = client.get("/api/grievance-log/verify", headers=auditor).json()
        assert tail["ok"] is False and tail["first_broken_id"] == ids[2]
        db.execute(text("DELETE FROM grievance_log WHERE id = :i"), {"i": ids[0]})
        db.commit()
        gap = client.get("/api/grievance-log/verify", headers=auditor).json()
        assert gap["ok"] is False and gap["first_broken_id"] == ids[0] and "missing" in gap["reason"]
    db.rollback()


def test_a_turn_id_is_part_of_the_sealed_request(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    """Rewriting which client turn a record answered (to hide or forge a retry) is refused or detected."""
    open_record = grievance_log.append(db, channel="web", session_id="web-turn", text="你好", turn_id="t-1")
    db.rollback()
    if db.get_bind().dialect.name == "postgresql":
        # Even before its outcome is sealed, the request part (turn id included) cannot be edited.
        with pytest.raises(DBAPIError, match="immutable"):
            db.execute(text("UPDATE grievance_log SET turn_id = 't-2' WHERE id = :i"), {"i": open_record.id})
        db.rollback()
        db.execute(text("ALTER TABLE grievance_log DISABLE TRIGGER grievance_log_guard"))
        db.execute(text("UPDATE grievance_log SET turn_id = 't-2' WHERE id = :i"), {"i": open_record.id})
        db.execute(text("ALTER TABLE grievance_log ENABLE TRIGGER grievance_log_guard"))
    else:
        db.execute(text("UPDATE grievance_log SET turn_id = 't-2' WHERE id = :i"), {"i": open_record.id})
    db.commit()
    broken = client.get("/api/grievance-log/verify", headers=headers("auditor")).json()
    assert broken["ok"] is False and broken["first_broken_id"] == open_record.id
    # A second record for the same turn of the same conversation is refused by the database itself.
    with pytest.raises(IntegrityError):
        grievance_log.append(db, channel="web", session_id="web-turn", text="你好", turn_id="t-2")
    db.rollback()


def test_exports_csv_and_jsonl(
    client: TestClient, db: Session, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    _seed(db)
    number = create(client, service_headers, description='=HYPERLINK("http://x")')["number"]
    sup = headers("supervisor")
    resp = client.get("/api/exports/tickets", params={"format": "csv"}, headers=sup)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
    assert "attachment" in resp.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert len(rows) == 1 and rows[0]["number"] == number and rows[0]["kind"] == "投诉"
    assert rows[0]["description"].startswith("'=")  # no formula injection into Excel
    lines = client.get("/api/exports/tickets", params={"format": "jsonl"}, headers=sup).text.splitlines()
    assert json.loads(lines[0])["number"] == number
    log = client.get("/api/exports/grievance-log", params={"format": "jsonl"}, headers=sup).text.splitlines()
    assert [json.loads(line)["id"] for line in log] == [1, 2, 3] and json.loads(log[0])["record_hash"]
    log_csv = client.get("/api/exports/grievance-log", params={"format": "csv"}, headers=sup)
    assert len(list(csv.DictReader(io.StringIO(log_csv.content.decode("utf-8-sig"))))) == 3
    assert client.get("/api/exports/tickets", params={"format": "xlsx"}, headers=sup).status_code == 422
