"""Query-parameter types shared by the back-office routes: bounded, and safe for both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Query
from pydantic import AfterValidator

CHINA_TZ = ZoneInfo("Asia/Shanghai")
NO_NUL = r"^[^\x00]*$"
MAX_INT = 2**31 - 1


def _utc(value: datetime | None) -> datetime | None:
    """Naive times are China time; everything is compared in UTC; absurd years are a 422, not a 500."""
    if value is None:
        return None
    if not 2000 <= value.year <= 2100:
        raise ValueError("year must be between 2000 and 2100")
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TZ)
    return value.astimezone(UTC)


Since = Annotated[
    datetime | None,
    AfterValidator(_utc),
    Query(
        description="From this time (inclusive); without a zone it is China time",
        examples=["2026-11-24T00:00:00+08:00"],
    ),
]
Until = Annotated[
    datetime | None,
    AfterValidator(_utc),
    Query(description="Up to this time (exclusive)", examples=["2026-11-25T00:00:00+08:00"]),
]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
SessionId = Annotated[str | None, Query(max_length=128, pattern=NO_NUL, examples=["web-3f2a9c"])]
TicketNumberQuery = Annotated[str | None, Query(pattern=r"^\d{12}$", examples=["202611240007"])]
