"""Staff console state: login sessions and who holds a handed-off conversation."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class StaffSession(SQLModel, table=True):
    """A console login. The cookie holds a random token; only its SHA-256 is stored, so a
    database reader cannot log in as anyone. Logging out or idling past the limit ends it."""

    __tablename__ = "staff_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    username: str = Field(max_length=32, index=True)
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None


class ConversationHold(SQLModel, table=True):
    """A person holds (or held) a conversation the assistant handed on.

    `released_after` is the last grievance-log record id at hand-back: the queue only
    shows the conversation again when a newer record asks for a person.
    """

    __tablename__ = "conversation_hold"

    session_id: str = Field(primary_key=True, max_length=128)
    channel: str = Field(default="web", max_length=16)
    holder: str | None = Field(default=None, max_length=32)
    held_since: datetime | None = None
    released_after: int = 0
    updated_at: datetime
    version: int = 1
