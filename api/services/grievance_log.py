"""Append, complete and verify the hash-chained grievance log.

Appends are serialised by the database itself (a row lock on the chain head on
PostgreSQL, BEGIN IMMEDIATE on SQLite), so concurrent writers in any number of
processes can neither fork the chain nor leave a gap.

Because the head stays locked until the commit, one append per WAL flush would
be the ceiling. Appends are therefore group-committed: each process has one
writer per engine (`group_commit.GroupCommitter`, started on first use) that
takes every append waiting and writes them, chained one after the other, in ONE
transaction under the head lock, then hands each caller its committed record.
A batch that fails is rolled back whole (head unchanged: no gap, no fork); if a
statement failed, its items are retried one per transaction so that one bad
record does not fail its neighbours, and every caller gets its record or its error.

Both hashes of a record are HMACs with the log key, which is kept outside the
database (the environment or data_dir/log_key): whoever can write the database
but not read that key cannot re-hash a record they rewrote. Signed checkpoints of
the head (`log_checkpoints`) catch what a key cannot: a deleted tail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import weakref
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from sqlmodel import Session, col, select

from api.clock import utcnow
from api.db import begin_write
from api.models.grievance import GrievanceRecord, LogHead, Receipt, ReceiptCheck, VerifyResult
from api.services import log_checkpoints
from api.services.group_commit import GroupCommitter
from api.services.log_checkpoints import Checkpoint, LogKey, current_key

GENESIS_HASH = "0" * 64


def caller_key(identifier: str, *, salt: str) -> str:
    """Pseudonymous, stable key for a caller (phone number, web session) that hides the raw value."""
    if not identifier:
        return ""
    return hmac.new(salt.encode(), identifier.encode(), hashlib.sha256).hexdigest()[:32]


def _num(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}"


def _digest(payload: dict[str, Any], key: LogKey | None) -> str:
    """HMAC-SHA256 with the log key; plain SHA-256 only for records written before the key existed."""
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if key is None:
        return hashlib.sha256(canonical).hexdigest()
    return hmac.new(key.secret, canonical, hashlib.sha256).hexdigest()


def _key_for(rec: GrievanceRecord, key: LogKey) -> LogKey | None:
    if not rec.key_id:
        return None
    if rec.key_id != key.key_id:
        raise KeyMismatch(f"record {rec.id} is sealed with log key {rec.key_id}, not the configured {key.key_id}")
    return key


class KeyMismatch(Exception):
    """The record was sealed with another log key than the one configured."""


def request_hash(rec: GrievanceRecord, key: LogKey) -> str:
    payload: dict[str, Any] = {
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
    if rec.key_id:
        payload["key_id"] = rec.key_id
    if rec.turn_id is not None:  # only then: records written before turn ids keep their hashes
        payload["turn_id"] = rec.turn_id
    return _digest(payload, _key_for(rec, key))


def completion_hash(rec: GrievanceRecord, key: LogKey) -> str:
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
        },
        _key_for(rec, key),
    )


def receipt(rec: GrievanceRecord) -> Receipt:
    """The citizen's receipt: the record number and 8 digits taken from the front of its keyed hash.

    Digits rather than hex, because receipts are read aloud on the phone and written down by hand.
    """
    return Receipt(record_id=rec.id, code=f"{int(rec.record_hash[:12], 16) % 10**8:08d}")


def check_receipt(session: Session, *, record_id: int, code: str, key: LogKey | None = None) -> ReceiptCheck:
    """Whether a citizen's receipt matches an intact record (the auditor's check)."""
    key = key or current_key()
    rec = session.get(GrievanceRecord, record_id)
    session.rollback()
    if rec is None:
        return ReceiptCheck(valid=False, record_id=record_id, reason="no such record: never written, or deleted")
    if receipt(rec).code != code.strip():
        return ReceiptCheck(valid=False, record_id=record_id, reason="the check code does not match this record")
    try:
        intact = request_hash(rec, key) == rec.record_hash and (
            rec.completed_at is None or completion_hash(rec, key) == rec.completion_hash
        )
    except KeyMismatch as exc:
        return ReceiptCheck(valid=False, record_id=record_id, reason=str(exc))
    if not intact:
        return ReceiptCheck(valid=False, record_id=record_id, reason="the record was altered after it was written")
    return ReceiptCheck(
        valid=True,
        record_id=record_id,
        ticket_number=rec.ticket_number,
        created_at=rec.created_at,
        channel=rec.channel,
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


@dataclass(frozen=True)
class _Append:
    channel: str
    session_id: str
    caller: str
    text: str
    asr_confidence: float | None
    status: str
    error_code: str | None
    turn_id: str | None = None


def _chain(head: LogHead, req: _Append, key: LogKey) -> GrievanceRecord:
    """The record that follows `head`; advances `head` (only once the record is fully built)."""
    rec = GrievanceRecord(
        id=head.last_seq + 1,
        created_at=utcnow(),
        channel=req.channel[:16],
        session_id=req.session_id[:128],
        caller_key=req.caller,
        text=req.text,
        asr_confidence=_round(req.asr_confidence),
        status=req.status,
        error_code=req.error_code,
        turn_id=req.turn_id,
        prev_hash=head.last_hash,
        record_hash="",
        key_id=key.key_id,
    )
    rec.record_hash = request_hash(rec, key)
    head.last_seq = rec.id
    head.last_hash = rec.record_hash
    return rec


class _StatementFailed(Exception):
    """A batch failed before its commit was sent: it was rolled back whole and may be retried."""


def _write(session: Session, reqs: Sequence[_Append]) -> list[GrievanceRecord | BaseException]:
    """Append `reqs` in the session's transaction under the head lock, and commit them together."""
    key = current_key()
    head = _locked_head(session)
    out: list[GrievanceRecord | BaseException] = []
    for req in reqs:
        try:
            rec = _chain(head, req, key)
        except Exception as exc:  # a value that cannot be hashed fails its own append only
            out.append(exc)
            continue
        session.add(rec)
        out.append(rec)
    if all(isinstance(r, BaseException) for r in out):
        session.rollback()  # nothing to write: release the head
        return out
    session.add(head)
    try:
        session.flush()
    except StatementError as exc:
        if isinstance(exc, OperationalError | InterfaceError) or getattr(exc, "connection_invalidated", False):
            raise
        session.rollback()
        raise _StatementFailed() from exc
    session.commit()
    return out


def _write_batch(engine_ref: weakref.ref[Engine], reqs: Sequence[_Append]) -> list[GrievanceRecord | BaseException]:
    engine = engine_ref()
    if engine is None:
        raise RuntimeError("the database engine is gone")
    try:
        with Session(engine, expire_on_commit=False) as session:
            return _write(session, reqs)
    except _StatementFailed as failed:
        if len(reqs) == 1:
            assert failed.__cause__ is not None
            raise failed.__cause__ from None
    results: list[GrievanceRecord | BaseException] = []
    for req in reqs:  # isolate the bad record: one transaction each
        try:
            results.extend(_write_batch(engine_ref, [req]))
        except Exception as exc:
            results.append(exc)
    return results


_committers: weakref.WeakKeyDictionary[Engine, GroupCommitter[_Append, GrievanceRecord]] = weakref.WeakKeyDictionary()
_committers_lock = threading.Lock()


def _committer(engine: Engine) -> GroupCommitter[_Append, GrievanceRecord]:
    with _committers_lock:
        committer = _committers.get(engine)
        if committer is None:
            ref = weakref.ref(engine)  # the writer must not keep a disposed engine alive
            committer = GroupCommitter(
                lambda reqs: _write_batch(ref, reqs), name="grievance-log", max_batch=500, idle_seconds=5.0
            )
            _committers[engine] = committer
        return committer


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
    turn_id: str | None = None,
) -> GrievanceRecord:
    """Write the request part of a record and commit it before anything else happens.

    Returns the committed record (durable: synchronous commit). The record is written
    by the engine's group-commit writer, batched with other waiting appends, unless
    `session` already has a transaction open: then, as before, it is appended in that
    transaction, which is committed with it (waiting for the writer while holding a
    transaction could deadlock on SQLite, whose write lock covers the whole file).
    """
    req = _Append(channel, session_id, caller, text, asr_confidence, status, error_code, turn_id)
    bind = session.get_bind()
    if session.in_transaction() or not isinstance(bind, Engine):
        try:
            result = _write(session, [req])[0]
        except _StatementFailed as failed:
            assert failed.__cause__ is not None
            raise failed.__cause__ from None
        if isinstance(result, BaseException):
            raise result
        return result
    return _committer(bind).submit(req)


class AlreadyComplete(ValueError):
    """The record's outcome is sealed already: another copy of the same turn answered it."""


def find_turn(session: Session, *, session_id: str, turn_id: str) -> GrievanceRecord | None:
    """The record of a turn the client sent before under the same id, if any."""
    rec = session.exec(
        select(GrievanceRecord).where(GrievanceRecord.session_id == session_id, GrievanceRecord.turn_id == turn_id)
    ).first()
    if rec is not None:
        session.expunge(rec)  # keep its loaded values through the rollback
    session.rollback()  # end the read: on SQLite an open read would block the writers that follow
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
        raise AlreadyComplete(f"grievance record {record_id} is already complete")
    rec.outcome = outcome
    rec.replies = replies
    rec.intent = intent
    rec.intent_confidence = _round(intent_confidence)
    rec.handoff = handoff
    rec.ticket_number = ticket_number
    rec.latency_ms = latency_ms
    rec.completed_at = utcnow()
    rec.completion_hash = completion_hash(rec, current_key())
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


def verify(
    session: Session, *, key: LogKey | None = None, checkpoints: Sequence[Checkpoint] | None = None
) -> VerifyResult:
    """Walk the whole chain, check every signed checkpoint against it, and report the first mismatch.

    Records without a key (written before the log key existed) are accepted only up to the
    legacy checkpoint that `hotline db upgrade` wrote for them.
    """
    key = key or current_key()
    problems: list[str] = []
    if checkpoints is None:
        checkpoints, problems = log_checkpoints.read(key=key)
    result = _walk(session, key, checkpoints)
    session.rollback()
    result.checkpoints = len(checkpoints)
    result.last_checkpoint = max((c.seq for c in checkpoints), default=None)
    if result.ok and problems:
        result.ok, result.reason = False, problems[0]
    return result


def _walk(session: Session, key: LogKey, checkpoints: Sequence[Checkpoint]) -> VerifyResult:
    at = {c.seq: c for c in checkpoints}
    legacy_until = max((c.seq for c in checkpoints if c.legacy), default=0)
    expected_prev = GENESIS_HASH
    expected_id = 1
    count = 0

    def broken(record_id: int, reason: str) -> VerifyResult:
        return VerifyResult(ok=False, records=count, first_broken_id=record_id, reason=reason)

    for rec in _iter_records(session):
        count += 1
        if rec.id != expected_id:
            return broken(expected_id, f"record {expected_id} is missing")
        if rec.prev_hash != expected_prev:
            return broken(rec.id, "previous-hash link does not match")
        if not rec.key_id and rec.id > legacy_until:
            return broken(rec.id, "record is not sealed with the log key")
        try:
            if request_hash(rec, key) != rec.record_hash:
                return broken(rec.id, "request part was altered")
            if rec.completed_at is not None and completion_hash(rec, key) != rec.completion_hash:
                return broken(rec.id, "outcome part was altered")
        except KeyMismatch as exc:
            return broken(rec.id, str(exc))
        if rec.completed_at is None and (rec.completion_hash or rec.outcome):
            return broken(rec.id, "outcome part was altered")
        checkpoint = at.get(rec.id)
        if checkpoint is not None and checkpoint.head_hash != rec.record_hash:
            return broken(rec.id, f"record differs from the checkpoint written at {checkpoint.written_at}")
        expected_prev = rec.record_hash
        expected_id += 1
    last = expected_id - 1
    beyond = [c for c in checkpoints if c.seq > last]
    if beyond:
        newest = max(beyond, key=lambda c: c.seq)
        return broken(
            last + 1, f"chain ends at record {last} but a checkpoint of {newest.written_at} saw record {newest.seq}"
        )
    head = session.get(LogHead, 1)
    if head is not None and (head.last_seq != last or head.last_hash != expected_prev):
        return broken(last + 1, f"chain ends at record {last} but the head says {head.last_seq}")
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
