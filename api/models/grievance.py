"""Grievance log: one append-only record per inbound request, hash-chained.

A record is written in two steps that are both tamper-evident: the request part
(sealed by `record_hash`, which chains to the previous record) when the request
arrives, and the outcome part (sealed by `completion_hash`) once, when the
answer is known. Both hashes are keyed (HMAC with the log key, which lives outside
the database; `key_id` names it), so that whoever can write the database cannot
re-hash a rewritten record. `LogHead` keeps the last sequence number and hash, and
signed checkpoints of the head kept outside the database (`log_checkpoints`) catch
a deleted tail or a consistent rewrite.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel


class GrievanceRecordBase(SQLModel):
    channel: str = Field(max_length=16, index=True)
    session_id: str = Field(default="", max_length=128, index=True)
    caller_key: str = Field(default="", max_length=64, index=True)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    asr_confidence: float | None = None
    status: str = Field(default="received", max_length=16, description="received | rejected")
    error_code: str | None = Field(default=None, max_length=64)
    turn_id: str | None = Field(
        default=None, max_length=64, description="The client's id for this turn: a turn sent again is answered once"
    )


class GrievanceRecord(GrievanceRecordBase, table=True):
    __tablename__ = "grievance_log"
    __table_args__ = (Index("uq_grievance_log_turn", "session_id", "turn_id", unique=True),)

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    created_at: datetime = Field(index=True)
    prev_hash: str = Field(max_length=64)
    record_hash: str = Field(max_length=64)
    key_id: str = Field(default="", max_length=16, description="Log key fingerprint; empty: unkeyed (before 0007)")

    outcome: str | None = Field(default=None, max_length=16, description="answered | fallback | staff")
    intent: str | None = Field(default=None, max_length=64)
    intent_confidence: float | None = None
    replies: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    handoff: bool | None = None
    ticket_number: str | None = Field(default=None, max_length=12, index=True)
    latency_ms: int | None = None
    completed_at: datetime | None = None
    completion_hash: str | None = Field(default=None, max_length=64)


class GrievanceRecordPublic(GrievanceRecordBase):
    id: int
    created_at: datetime
    prev_hash: str
    record_hash: str
    key_id: str = ""
    outcome: str | None
    intent: str | None
    intent_confidence: float | None
    replies: list[dict[str, Any]] | None
    handoff: bool | None
    ticket_number: str | None
    latency_ms: int | None
    completed_at: datetime | None
    completion_hash: str | None


class LogHead(SQLModel, table=True):
    """Single row (id=1): the chain's tail, updated under the append lock."""

    __tablename__ = "grievance_log_head"

    id: int = Field(default=1, primary_key=True)
    last_seq: int = 0
    last_hash: str = Field(default="0" * 64, max_length=64)


class VerifyResult(SQLModel):
    ok: bool
    records: int
    first_broken_id: int | None = None
    reason: str | None = None
    head_hash: str | None = None
    checkpoints: int = Field(default=0, description="Signed checkpoints checked against the chain")
    last_checkpoint: int | None = Field(default=None, description="Record number of the newest checkpoint")


class Receipt(SQLModel):
    """What a citizen is given with a work-order number: the log record and a check code from its hash."""

    record_id: int
    code: str = Field(description="8 digits from the record's keyed hash")


class ReceiptCheck(SQLModel):
    valid: bool
    record_id: int
    reason: str | None = None
    ticket_number: str | None = None
    created_at: datetime | None = None
    channel: str | None = None
