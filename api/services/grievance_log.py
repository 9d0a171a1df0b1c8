"""Append, complete and verify the hash-chained grievance log.

Appends are serialised by the database itself (a row lock on the chain head on
PostgreSQL, BEGIN IMMEDIATE on SQLite), so concurrent writers in any number of
processes can neither fork the chain nor leave a gap.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from api.db import begin_write
from api.models.grievance import GrievanceRecord, LogHead, VerifyResult

GENESIS_HASH = "0" * 64


def utcnow() -> datetime:
    """Aware UTC: SQLModel stores and returns it as UTC on both backends, so hashes match."""
    return datetime.now(UTC)


def caller_key(identifier: str, *, salt: str) -> str:
    """Pseudonymous, stable key for a caller (phone number, web session) that hides the raw value."""
    if not identifier:
        return ""
    return hmac.new(salt.encode(), identifier.encode(), hashlib.sha256).hexdigest()[:32]


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def _digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def request_hash(rec: GrievanceRecord) -> str:
    return _digest(
        {
            "id": rec.id,
            "created_at": rec.created_at.isoformat(timespec="microseconds"),
            "channel": rec.channel,
            "session_id": rec.session_id,
            "caller_key": rec.caller_key,
            "text": rec.text,
            "asr_confidence": _num(rec.asr_confidence),
            "status": rec.status,
            "error_code": rec.error_code,
            "prev_hash": rec.prev_hash,
        }
    )


def completion_hash(rec: GrievanceRecord) -> str:
    assert rec.completed_at is not None
    return _digest(
        {
            "record_hash": rec.record_hash,
            "outcome": rec.outcome,
            "intent": rec.intent,
            "intent_confidence": _num(rec.intent_confidence),
            "replies": rec.replies,
            "handoff": rec.handoff,
            "ticket_number": rec.ticket_number,
            "latency_ms": rec.latency_ms,
            "completed_at": rec.completed_at.isoformat(timespec="microseconds"),
        }
    )


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def _locked_head(session: Session) -> LogHead:
    begin_write(session)
    head = session.exec(select(LogHead).where(LogHead.id == 1).with_for_update()).first()
    if head is None:
        session.add(LogHead(id=1))
        session.flush()
        head = session.exec(select(LogHead).where(LogHead.id == 1).with_for_update()).one()
    return head


def append(
    session: Session,
    *,
    channel: str,
    session_id: str = "",
    caller: str = "",
    text: str = "",
    asr_confidence: float | None = None,
    status: str = "received",
    error_code: str | None = None,
) -> GrievanceRecord:
    """Write the request part of a record and commit it before anything else happens."""
    head = _locked_head(session)
    rec = GrievanceRecord(
        id=head.last_seq + 1,
        created_at=utcnow(),
        channel=channel[:16],
        session_id=session_id[:128],
        caller_key=caller,
        text=text,
        asr_confidence=_round(asr_confidence),
        status=status,
        error_code=error_code,
        prev_hash=head.last_hash,
        record_hash="",
    )
    rec.record_hash = request_hash(rec)
    head.last_seq = rec.id
    head.last_hash = rec.record_hash
    session.add(rec)
    session.add(head)
    session.commit()
    return rec


def complete(
    session: Session,
    *,
    record_id: int,
    outcome: str,
    replies: list[dict[str, Any]],
    intent: str | None = None,
    intent_confidence: float | None = None,
    handoff: bool = False,
    ticket_number: str | None = None,
    latency_ms: int | None = None,
) -> GrievanceRecord:
    """Seal the outcome of a request once; a second completion is refused."""
    begin_write(session)
    rec = session.exec(select(GrievanceRecord).where(GrievanceRecord.id == record_id).with_for_update()).one()
    if rec.completed_at is not None:
        raise ValueError(f"grievance record {record_id} is already complete")
    rec.outcome = outcome
    rec.replies = replies
    rec.intent = intent
    rec.intent_confidence = _round(intent_confidence)
    rec.handoff = handoff
    rec.ticket_number = ticket_number
    rec.latency_ms = latency_ms
    rec.completed_at = utcnow()
    rec.completion_hash = completion_hash(rec)
    session.add(rec)
    session.commit()
    return rec


def _iter_records(session: Session, batch: int = 2000) -> Iterator[GrievanceRecord]:
    last = 0
    while True:
        rows = session.exec(
            select(GrievanceRecord).where(GrievanceRecord.id > last).order_by(col(GrievanceRecord.id)).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain and report the first record that does not match."""
    expected_prev = GENESIS_HASH
    expected_id = 1
    count = 0
    for rec in _iter_records(session):
        count += 1
        if rec.id != expected_id:
            return VerifyResult(
                ok=False, records=count, first_broken_id=expected_id, reason=f"record {expected_id} is missing"
            )
        if rec.prev_hash != expected_prev:
            return VerifyResult(
                ok=False, records=count, first_broken_id=rec.id, reason="previous-hash link does not match"
            )
        if request_hash(rec) != rec.record_hash:
            return VerifyResult(ok=False, records=count, first_broken_id=rec.id, reason="request part was altered")
        if rec.completed_at is not None and completion_hash(rec) != rec.completion_hash:
            return VerifyResult(ok=False, records=count, first_broken_id=rec.id, reason="outcome part was altered")
        if rec.completed_at is None and (rec.completion_hash or rec.outcome):
            return VerifyResult(ok=False, records=count, first_broken_id=rec.id, reason="outcome part was altered")
        expected_prev = rec.record_hash
        expected_id += 1
    head = session.get(LogHead, 1)
    if head is not None and (head.last_seq != expected_id - 1 or head.last_hash != expected_prev):
        return VerifyResult(
            ok=False,
            records=count,
            first_broken_id=expected_id,
            reason=f"chain ends at record {expected_id - 1} but the head says {head.last_seq}",
        )
    session.rollback()
    return VerifyResult(ok=True, records=count, head_hash=expected_prev)


def search(
    session: Session,
    *,
    channel: str | None = None,
    session_id: str | None = None,
    ticket_number: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[GrievanceRecord]:
    query = select(GrievanceRecord)
    if channel:
        query = query.where(GrievanceRecord.channel == channel)
    if session_id:
        query = query.where(GrievanceRecord.session_id == session_id)
    if ticket_number:
        query = query.where(GrievanceRecord.ticket_number == ticket_number)
    if since:
        query = query.where(GrievanceRecord.created_at >= since)
    if until:
        query = query.where(GrievanceRecord.created_at < until)
    return list(session.exec(query.order_by(col(GrievanceRecord.id).desc()).offset(offset).limit(limit)).all())
