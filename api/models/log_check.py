"""The result of each nightly export and chain verification of the grievance log, kept for auditors."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class LogCheck(SQLModel, table=True):
    """One night's run: the day's records exported to a file, then the whole chain verified."""

    __tablename__ = "log_check"

    id: int | None = Field(default=None, primary_key=True)
    day: str = Field(max_length=10, unique=True, description="the China date the run belongs to (YYYY-MM-DD)")
    ran_at: datetime
    ok: bool
    records: int = Field(description="records in the chain when it was verified")
    first_broken_id: int | None = None
    reason: str = Field(default="", max_length=500)
    head_hash: str = Field(default="", max_length=64)
    checkpoints: int = 0
    export_file: str = Field(default="", max_length=300, description="the export written, under the export folder")
    export_records: int = 0
    export_sha256: str = Field(default="", max_length=64)
