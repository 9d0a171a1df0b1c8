"""The one clock: moments are stored as aware UTC; citizens and staff read them in China time.

Every module that needs "now", "today in China" or a time written for people asks here, so
that a stored moment, a deadline and the time a page shows cannot drift apart.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    """Aware UTC: SQLModel stores and returns it as UTC on both backends, so log hashes match."""
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """A naive moment read back from SQLite is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def china_date(moment: datetime) -> date:
    return aware(moment).astimezone(CHINA_TZ).date()


def china_today(now: datetime | None = None) -> date:
    return china_date(now or utcnow())


def china_time(moment: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A moment (or an ISO 8601 string, as the JSON reports carry) as people read it: China time; empty for none."""
    if isinstance(moment, str):
        try:
            parsed = datetime.fromisoformat(moment)
        except ValueError:
            return moment
        return china_time(parsed, fmt)
    return "" if moment is None else aware(moment).astimezone(CHINA_TZ).strftime(fmt)
