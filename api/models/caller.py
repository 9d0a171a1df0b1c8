"""What the hotline remembers about a caller, keyed by the salted caller key, never the phone number.

One row per caller who asked for something to be remembered: slower speech on the phone line (with
their consent), easy-read SMS replies ("简单"), and 退订 (no more texts from the hotline). The key is
the grievance log's pseudonym. A row exists only while one of these is on: clearing the last deletes it.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class CallerPreference(SQLModel, table=True):
    __tablename__ = "caller_preference"

    caller_key: str = Field(primary_key=True, max_length=64)
    slow_speech: bool = Field(default=False)
    easy_read: bool = Field(default=False, description="SMS replies in easy-read wording")
    unsubscribed: bool = Field(default=False, description="退订: no SMS of any kind to this caller")
    consented_at: datetime = Field(description="when the caller first asked for something to be remembered")
    updated_at: datetime
