"""Issue 18, item 10: the grievance log cannot be rewritten consistently by someone who can write the database.

The attacker here has full write access to the database (on PostgreSQL a superuser who switches the
guard trigger off) but not the log key or the checkpoint directory. Each test replays one rewrite
against the real app and a real migrated database (SQLite and PostgreSQL) and shows that
`/api/grievance-log/verify`, the CLI and the citizen's receipt detect it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session, select

from api.models.grievance import GrievanceRecord
from api.services import grievance_log, log_checkpoints
from tests.backoffice import conftest as backoffice

fast_argon2 = backoffice.fast_argon2
headers = backoffice.headers


def _hotline(*args: str) -> subprocess.CompletedProcess[str]:
    """The operators' command line, as a process of its own with the test's settings."""
    command = [sys.executable, "-c", "from hotline.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=dict(os.environ))


def _seed(db: Session, count: int = 5) -> list[int]:
    ids = []
    for i in range(count):
        rec = grievance_log.append(db, channel="web", session_id=f"s-{i}", text=f"第{i}条诉求：轮椅坡道被占用")
        grievance_log.complete(db, record_id=rec.id, outcome="answered", replies=[{"text": "已收到"}])
        ids.append(rec.id)
    db.rollback()
    return ids


@contextmanager
def _guard_off(db: Session) -> Iterator[None]:
    """What a database superuser can do on PostgreSQL: switch the append-only trigger off."""
    postgres = db.get_bind().dialect.name == "postgresql"
    if postgres:
        db.execute(text("ALTER TABLE grievance_log DISABLE TRIGGER grievance_log_guard"))
    yield
    if postgres:
        db.execute(text("ALTER TABLE grievance_log ENABLE TRIGGER grievance_log_guard"))
    db.commit()


def _rewrite_consistently(db: Session, record_id: int, new_text: str, *, drop_key: bool) -> None:
    """Change one record's text, re-hash it and every later record, and move the head: the attack of item 10.

    Without the key, the attacker can only use an unkeyed hash (the pre-0007 algorithm); with `drop_key`
    the records also claim to predate the log key, so that an unkeyed hash is what a verifier would expect.
    """
    rows = db.exec(select(GrievanceRecord).where(GrievanceRecord.id >= record_id).order_by(GrievanceRecord.id)).all()
    before = db.get(GrievanceRecord, record_id - 1)
    prev = before.record_hash if before else "0" * 64
    unkeyed = log_checkpoints.LogKey(secret=b"", key_id="")
    changes = []
    for row in rows:
        forged = row.model_copy(update={"key_id": "", "prev_hash": prev})
        if row.id == record_id:
            forged.text = new_text
        new_hash = grievance_log.request_hash(forged, unkeyed)  # plain SHA-256: no key needed
        forged.record_hash = new_hash
        sealed = grievance_log.completion_hash(forged, unkeyed) if forged.completed_at else None
        key_id = "" if drop_key else row.key_id
        changes.append({"t": forged.text, "p": prev, "h": new_hash, "c": sealed, "k": key_id, "i": row.id})
        prev = new_hash
    db.rollback()
    with _guard_off(db):
        for change in changes:
            db.execute(
                text(
                    "UPDATE grievance_log SET text = :t, prev_hash = :p, record_hash = :h, "
                    "completion_hash = :c, key_id = :k WHERE id = :i"
                ),
                change,
            )
        db.execute(text("UPDATE grievance_log_head SET last_hash = :h WHERE id = 1"), {"h": prev})
    db.expire_all()


def _delete_tail(db: Session, keep: int) -> None:
    """Delete every record after `keep` and move the head back onto it: no hash needs forging."""
    last = db.execute(text("SELECT record_hash FROM grievance_log WHERE id = :i"), {"i": keep}).scalar() or "0" * 64
    with _guard_off(db):
        db.execute(text("DELETE FROM grievance_log WHERE id > :i"), {"i": keep})
        db.execute(
            text("UPDATE grievance_log_head SET last_seq = :i, last_hash = :h WHERE id = 1"), {"i": keep, "h": last}
        )
    db.expire_all()


def test_a_record_rewritten_and_rehashed_is_detected(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    ids = _seed(db)
    auditor = headers("auditor")
    assert client.get("/api/grievance-log/verify", headers=auditor).json()["ok"] is True

    _rewrite_consistently(db, ids[2], "第2条诉求：已经解决，不用处理", drop_key=False)
    broken = client.get("/api/grievance-log/verify", headers=auditor).json()
    assert broken["ok"] is False and broken["first_broken_id"] == ids[2], broken
    assert "altered" in broken["reason"]

    # Claiming the records predate the log key does not help: only records a legacy checkpoint covers may.
    _rewrite_consistently(db, ids[2], "第2条诉求：已经解决，不用处理", drop_key=True)
    broken = client.get("/api/grievance-log/verify", headers=auditor).json()
    assert broken["ok"] is False and broken["first_broken_id"] == ids[2]
    assert broken["reason"] == "record is not sealed with the log key"
    result = _hotline("log", "verify")
    assert result.returncode == 1 and f"BROKEN at record {ids[2]}" in result.stdout + result.stderr


def test_a_deleted_tail_with_the_head_moved_back_is_detected_by_the_export_checkpoint(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    ids = _seed(db)
    supervisor = headers("supervisor")
    exported = client.get("/api/exports/grievance-log", params={"format": "jsonl"}, headers=supervisor)
    assert exported.status_code == 200 and len(exported.text.splitlines()) == len(ids)
    checkpoints, problems = log_checkpoints.read(key=log_checkpoints.current_key())
    assert [c.seq for c in checkpoints] == [ids[-1]] and problems == []
    assert checkpoints[0].reason == "export"

    _delete_tail(db, ids[1])
    broken = client.get("/api/grievance-log/verify", headers=headers("auditor")).json()
    assert broken["ok"] is False and broken["first_broken_id"] == ids[2], broken
    assert f"saw record {ids[-1]}" in broken["reason"]


def test_the_app_writes_checkpoints_while_the_log_grows(
    settings_env: Any, monkeypatch: Any, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    """The periodic checkpoint bounds what could vanish: a tail deleted after it is detected."""
    from api.settings import get_settings
    from hotline.app import create_app

    monkeypatch.setenv("HOTLINE_LOG_CHECKPOINT_SECONDS", "1")
    get_settings.cache_clear()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        ids = _seed(db, 3)
        deadline = time.monotonic() + 15
        seen: list[int] = []
        while time.monotonic() < deadline and ids[-1] not in seen:
            time.sleep(0.2)
            seen = [c.seq for c in log_checkpoints.read(key=log_checkpoints.current_key())[0]]
        assert ids[-1] in seen, seen
        _delete_tail(db, ids[0])
        broken = client.get("/api/grievance-log/verify", headers=headers("auditor")).json()
        assert broken["ok"] is False and broken["first_broken_id"] == ids[1]


def test_a_forged_or_removed_checkpoint_line_is_detected(db: Session) -> None:
    ids = _seed(db, 2)
    first = log_checkpoints.write(db, reason="cli")
    grievance_log.append(db, channel="sms", session_id="s-x", text="第三条")
    second = log_checkpoints.write(db, reason="cli")
    assert first is not None and second is not None and second.prev_signature == first.signature
    assert log_checkpoints.write(db, reason="cli") is None  # nothing new: no duplicate line
    assert grievance_log.verify(db).ok is True and grievance_log.verify(db).checkpoints == 2

    path = log_checkpoints.checkpoint_file()
    lines = path.read_text(encoding="utf-8").splitlines()
    forged = json.loads(lines[1])
    forged["seq"] = ids[-1]
    path.write_text(lines[0] + "\n" + json.dumps(forged) + "\n", encoding="utf-8")
    result = grievance_log.verify(db)
    assert result.ok is False and "signature does not match" in (result.reason or "")

    path.write_text(lines[1] + "\n", encoding="utf-8")  # the first line taken out
    result = grievance_log.verify(db)
    assert result.ok is False and "removed or altered" in (result.reason or "")


def test_records_from_before_the_key_are_anchored_at_upgrade(db: Session) -> None:
    """An office upgrading keeps its old, unkeyed records verifiable, and they cannot be rewritten afterwards."""
    ids = _seed(db, 3)
    _rewrite_consistently(db, ids[0], "第0条诉求：轮椅坡道被占用", drop_key=True)  # same text, as pre-0007 wrote it
    assert grievance_log.verify(db).reason == "record is not sealed with the log key"
    result = _hotline("db", "upgrade")
    assert result.returncode == 0 and "检查点" in result.stdout + result.stderr
    assert grievance_log.verify(db).ok is True
    later = grievance_log.append(db, channel="web", session_id="s-new", text="升级后的诉求")
    assert later.key_id and grievance_log.verify(db).ok is True

    # Unkeyed hashes can be recomputed by anyone: the legacy checkpoint is what catches the rewrite.
    _rewrite_consistently(db, ids[1], "改写的旧记录", drop_key=True)
    result = grievance_log.verify(db)
    assert result.ok is False and result.first_broken_id == ids[-1] and "checkpoint" in (result.reason or "")


def test_the_citizens_receipt_is_checked_by_an_auditor(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    # Rasa is down in this app: the citizen's message still becomes a work order, with a receipt.
    answer = client.post(
        "/api/chat/messages", json={"session_id": "web-receipt", "text": "社区不给我办轮椅补贴", "channel": "web"}
    ).json()
    number, receipt = answer["ticket_number"], answer["receipt"]
    assert number and receipt["record_id"] == answer["log_id"] and len(receipt["code"]) == 8
    said = " ".join(r["text"] for r in answer["replies"])
    assert f"记录号{receipt['record_id']}" in said and f"校验码{receipt['code']}" in said

    auditor = headers("auditor")
    url = f"/api/grievance-log/receipts/{receipt['record_id']}"
    ok = client.get(url, params={"code": receipt["code"]}, headers=auditor).json()
    assert ok["valid"] is True and ok["ticket_number"] == number and ok["channel"] == "web"
    wrong = f"{(int(receipt['code']) + 1) % 10**8:08d}"
    assert client.get(url, params={"code": wrong}, headers=auditor).json()["valid"] is False
    assert client.get(url, params={"code": "12ab"}, headers=auditor).status_code == 422
    assert client.get(url, params={"code": receipt["code"]}).status_code == 401
    assert client.get(url, params={"code": receipt["code"]}, headers=headers("operator")).status_code == 403
    cli_ok = _hotline("log", "receipt", str(receipt["record_id"]), receipt["code"])
    assert cli_ok.returncode == 0 and number in cli_ok.stdout

    _rewrite_consistently(db, receipt["record_id"], "撤回了", drop_key=False)
    altered = client.get(url, params={"code": receipt["code"]}, headers=auditor).json()
    assert altered["valid"] is False
    _delete_tail(db, receipt["record_id"] - 1)
    gone = client.get(url, params={"code": receipt["code"]}, headers=auditor).json()
    assert gone["valid"] is False and "no such record" in gone["reason"]
    cli_gone = _hotline("log", "receipt", str(receipt["record_id"]), receipt["code"])
    assert cli_gone.returncode == 1


def test_the_complaint_form_gives_a_receipt_that_checks(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    from tests.web.test_pages import _complaint, _csrf

    filed = _complaint(client, _csrf(client, "/complaint"))
    page = client.get(filed.headers["location"]).text
    match = re.search(r"记录号 <strong>(\d+)</strong>，校验码 <strong>(\d{8})</strong>", page)
    assert match, page
    record_id, code = match.groups()
    checked = client.get(
        f"/api/grievance-log/receipts/{record_id}", params={"code": code}, headers=headers("auditor")
    ).json()
    assert checked["valid"] is True and checked["ticket_number"] in filed.headers["location"]
