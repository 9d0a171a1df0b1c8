"""The outbox: every SMS and call the hotline places, written with the change that caused it; and the
deadline warnings the task worker raises.

A row is added in the same transaction as the staff reply, follow-up request or status
change that wants the message, so a message exists exactly when its cause was committed.
The task worker sends it later (`api.services.outbox`); `idempotency_key` keeps one cause
from producing two messages, and `status` with `next_attempt_at` is the row's lease.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Text, UniqueConstraint
from sqlalchemy import Enum as SaEnum
from sqlmodel import Field, SQLModel


def _stored_as_text(kind: type[enum.StrEnum], length: int) -> Any:
    """A VARCHAR column of the enum's values (no PostgreSQL enum type: the migration made plain strings)."""
    return SaEnum(kind, values_callable=lambda members: [m.value for m in members], native_enum=False, length=length)


class OutboxKind(enum.StrEnum):
    sms = "sms"
    call = "call"


class OutboxStatus(enum.StrEnum):
    pending = "pending"
    sending = "sending"
    sent = "sent"
    failed = "failed"


class OutboxMessage(SQLModel, table=True):
    """One outgoing SMS (`body` is its text) or call (`body` is the address Twilio fetches the call's TwiML from)."""

    __tablename__ = "outbox_message"

    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=64, unique=True, index=True)
    kind: OutboxKind = Field(sa_type=_stored_as_text(OutboxKind, 8))
    purpose: str = Field(default="", max_length=32, description="what the message is for: staff_reply, follow_up…")
    recipient: str = Field(max_length=32, description="E.164, as work orders keep phones; masked wherever shown")
    body: str = Field(sa_column=Column(Text, nullable=False))
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    status: OutboxStatus = Field(default=OutboxStatus.pending, sa_type=_stored_as_text(OutboxStatus, 8), index=True)
    attempts: int = Field(default=0)
    last_error: str = Field(default="", max_length=300)
    next_attempt_at: datetime = Field(index=True, description="pending: when it is due; sending: when the lease ends")
    claimed_at: datetime | None = None
    provider_sid: str = Field(default="", max_length=64)
    created_at: datetime
    sent_at: datetime | None = None


class DeadlineAlertKind(enum.StrEnum):
    reminder = "reminder"  # to the handling department, before the deadline
    escalation = "escalation"  # to supervisors, once the deadline has passed


class DeadlineAlert(SQLModel, table=True):
    """One deadline warning of a work order, at most one of each kind per deadline (a new deadline after an
    extension or a reopening is warned about again)."""

    __tablename__ = "deadline_alert"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "deadline", name="uq_deadline_alert"),)

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    kind: DeadlineAlertKind = Field(sa_type=_stored_as_text(DeadlineAlertKind, 16))
    deadline: datetime
    department_id: int | None = Field(default=None, description="the handling department when it was raised")
    created_at: datetime = Field(index=True)
