"""The SLA clock: deadlines in Chinese working days, from the per-kind policy file.

Working days come from `chinese_calendar` (statutory holidays and make-up working
days). For years it has no data for, weekdays except 1 January, 1 May and
1-3 October are working days unless the policy file lists them as extra
holidays (and weekends rest unless listed as extra working days), so a
deadline is always computable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import yaml

from api.clock import CHINA_TZ, china_date
from api.models.ticket import TicketKind
from api.settings import get_settings

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "sla_policy.yml"
# New Year's Day, Labour Day, National Day (1-3 October): the same dates every year.
FIXED_HOLIDAYS = frozenset({(1, 1), (5, 1), (10, 1), (10, 2), (10, 3)})


@dataclass(frozen=True)
class SlaPolicy:
    working_days: dict[TicketKind, int]
    due_soon_hours: int = 24
    extension_default_working_days: int = 5
    extension_max_working_days: int = 15
    max_extensions: int = 2
    extra_holidays: frozenset[date] = field(default_factory=frozenset)
    extra_workdays: frozenset[date] = field(default_factory=frozenset)
    # (China date, working days) -> deadline; lives and dies with this policy, so a reloaded file starts empty.
    _deadlines: dict[tuple[date, int], datetime] = field(default_factory=dict, init=False, compare=False, repr=False)


DEFAULT_DAYS = {
    TicketKind.emergency: 0,
    TicketKind.consultation: 3,
    TicketKind.help_request: 3,
    TicketKind.complaint: 13,
    TicketKind.suggestion: 10,
}


def _dates(values: object, key: str) -> frozenset[date]:
    if values is None:
        return frozenset()
    if not isinstance(values, list):
        raise ValueError(f"{key} must be a list of dates")
    return frozenset(v if isinstance(v, date) else date.fromisoformat(str(v)) for v in values)


def parse_policy(raw: dict[str, object]) -> SlaPolicy:
    """Validate a policy mapping; unknown kinds or negative days are configuration errors."""
    kinds = raw.get("kinds") or {}
    if not isinstance(kinds, dict):
        raise ValueError("kinds must be a mapping of kind to working days")
    days = dict(DEFAULT_DAYS)
    for name, value in kinds.items():
        kind = TicketKind(str(name))
        if not isinstance(value, int) or not 0 <= value <= 60:
            raise ValueError(f"working days for {name} must be an integer 0..60")
        days[kind] = value

    def _int(key: str, default: int, low: int, high: int) -> int:
        value = raw.get(key, default)
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{key} must be an integer {low}..{high}")
        return value

    return SlaPolicy(
        working_days=days,
        due_soon_hours=_int("due_soon_hours", 24, 1, 24 * 30),
        extension_default_working_days=_int("extension_default_working_days", 5, 1, 30),
        extension_max_working_days=_int("extension_max_working_days", 15, 1, 30),
        max_extensions=_int("max_extensions", 2, 0, 10),
        extra_holidays=_dates(raw.get("extra_holidays"), "extra_holidays"),
        extra_workdays=_dates(raw.get("extra_workdays"), "extra_workdays"),
    )


@lru_cache(maxsize=8)
def _load(path: str, _mtime: float) -> SlaPolicy:
    with open(path, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping")
    return parse_policy(raw)


def load_policy(path: Path | None = None) -> SlaPolicy:
    """The policy from the file (re-read when it changes)."""
    target = path or DEFAULT_POLICY_FILE
    return _load(str(target), target.stat().st_mtime)


def policy_or_configured(policy: SlaPolicy | None) -> SlaPolicy:
    """`policy` when the caller has one, else the file the settings name (callers outside a request pass none)."""
    if policy is not None:
        return policy
    return load_policy(get_settings().sla_policy_file)


@lru_cache(maxsize=4096)
def _calendar_workday(day: date) -> bool:
    """The package's answer, cached: its data is fixed for the installed version, and a lookup costs ~25 µs."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        # Fixed-date statutory holidays are known in advance; lunar ones need the policy file.
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS


def is_workday(day: date, policy: SlaPolicy | None = None) -> bool:
    if policy is not None:
        if day in policy.extra_holidays:
            return False
        if day in policy.extra_workdays:
            return True
    return _calendar_workday(day)


def add_working_days(start: date, days: int, policy: SlaPolicy | None = None) -> date:
    """The `days`-th working day after `start` (0: `start` itself)."""
    if days < 0:
        raise ValueError("days must be >= 0")
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_workday(current, policy):
            remaining -= 1
    return current


def working_days_between(start: date, end: date, policy: SlaPolicy | None = None) -> int:
    """Working days in (start, end]."""
    count = 0
    current = start
    while current < end:
        current += timedelta(days=1)
        if is_workday(current, policy):
            count += 1
    return count


def end_of_day(day: date) -> datetime:
    """The last instant of a China calendar day, as aware UTC."""
    return datetime.combine(day, time(23, 59, 59, 999999), tzinfo=CHINA_TZ).astimezone(UTC)


MAX_CACHED_DEADLINES = 4096


def _deadline(day: date, days: int, policy: SlaPolicy) -> datetime:
    """End of the `days`-th working day after `day`, memoised on the policy.

    The answer depends only on the China date, the day count and the policy (whose
    holiday lists are frozen; a changed file is a new policy object with an empty
    memo), so every work order of a day shares one computation.
    """
    key = (day, days)
    memo = policy._deadlines
    found = memo.get(key)
    if found is None:
        found = end_of_day(add_working_days(day, days, policy))
        if len(memo) >= MAX_CACHED_DEADLINES:
            memo.clear()
        memo[key] = found
    return found


def deadline_for(kind: TicketKind, start: datetime, policy: SlaPolicy) -> tuple[datetime, int]:
    """Deadline and its working days for a work order received (or reopened) at `start`."""
    days = policy.working_days[kind]
    return _deadline(china_date(start), days, policy), days


def extend_deadline(deadline: datetime, days: int, policy: SlaPolicy) -> datetime:
    return _deadline(china_date(deadline), days, policy)


def format_day(day: date, *, reference: date | None = None) -> str:
    text = f"{day.month}月{day.day}日"
    if reference is not None and reference.year != day.year:
        text = f"{day.year}年{text}"
    return text


def deadline_text(deadline: datetime | None, working_days: int | None, *, start: datetime | None = None) -> str:
    """Plain Chinese for citizens, e.g. "3个工作日内，即11月26日前" (readable aloud too)."""
    if deadline is None:
        return ""
    day = china_date(deadline)
    reference = china_date(start) if start is not None else None
    when = format_day(day, reference=reference)
    if working_days is None:
        return f"{when}前"
    if working_days == 0:
        return f"当天，即{when}内"
    return f"{working_days}个工作日内，即{when}前"


def is_overdue(deadline: datetime | None, now: datetime) -> bool:
    return deadline is not None and deadline < now


def is_due_soon(deadline: datetime | None, now: datetime, policy: SlaPolicy) -> bool:
    return deadline is not None and now <= deadline < now + timedelta(hours=policy.due_soon_hours)
