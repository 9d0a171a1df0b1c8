"""Work orders (工单): the model family and the daily number sequence."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel


class TicketKind(enum.StrEnum):
    consultation = "咨询"
    help_request = "求助"
    complaint = "投诉"
    suggestion = "建议"
    emergency = "紧急"


class TicketStatus(enum.StrEnum):
    received = "受理"
    dispatched = "派单"
    accepted = "签收"
    in_progress = "办理"
    replied = "答复"
    resolved = "办结"
    follow_up = "回访"
    closed = "关闭"
    reopened = "重办"


class TicketBase(SQLModel):
    kind: TicketKind = Field(default=TicketKind.consultation, max_length=16)
    category: str = Field(default="其他", max_length=16)
    description: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    channel: str = Field(default="web", max_length=16)
    session_id: str | None = Field(default=None, max_length=128, index=True)
    contact_phone: str | None = Field(default=None, max_length=20)
    contact_name: str | None = Field(default=None, max_length=64)
    confidential: bool = False


class TicketCreate(TicketBase):
    pass


class Ticket(TicketBase, table=True):
    __tablename__ = "ticket"

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=12, unique=True, index=True)
    status: TicketStatus = Field(default=TicketStatus.received, max_length=16)
    created_at: datetime
    deadline: datetime | None = None


class TicketPublic(TicketBase):
    id: int
    number: str
    status: TicketStatus
    created_at: datetime
    deadline: datetime | None


class TicketDaySequence(SQLModel, table=True):
    """Last number issued per day; incremented under a row lock so numbers never repeat."""

    __tablename__ = "ticket_day_sequence"

    day: date = Field(primary_key=True)
    last: int = 0
