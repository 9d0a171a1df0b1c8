"""What a caller asked the phone line to remember about them, stored only with their consent.

Keyed by the salted caller key (the same pseudonym as the grievance log), never the
phone number. A row exists only while the caller wants it: forgetting deletes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class CallerPreference(SQLModel, table=True):
    __tablename__ = "caller_preference"

    caller_key: str = Field(primary_key=True, max_length=64)
    slow_speech: bool = Field(default=False)
    consented_at: datetime = Field(description="when the caller said yes to being remembered")
    updated_at: datetime
