"""The working-day calendar and deadlines (property tests across the 2025/2026 holiday periods)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import chinese_calendar
from hypothesis import given, settings
from hypothesis import strategies as st

from api.models.ticket import TicketKind
from api.services import sla

POLICY = sla.load_policy()
# Spring Festival 2025 and 2026, National Day 2025 (with make-up Saturdays), and the ranges around them.
PERIODS = [
    (date(2025, 1, 20), date(2025, 2, 15)),
    (date(2025, 9, 20), date(2025, 10, 20)),
    (date(2026, 2, 5), date(2026, 3, 5)),
    (date(2026, 9, 20), date(2026, 10, 20)),
]
days_in_periods = st.sampled_from(PERIODS).flatmap(
    lambda p: st.integers(0, (p[1] - p[0]).days).map(lambda n: p[0] + timedelta(days=n))
)


def test_known_dates() -> None:
    assert not sla.is_workday(date(2025, 10, 1))  # National Day
    assert sla.is_workday(date(2025, 9, 28))  # make-up Sunday before National Day 2025
    assert sla.is_workday(date(2025, 10, 11))  # make-up Saturday after it
    assert not sla.is_workday(date(2025, 1, 29))  # Spring Festival 2025
    assert sla.is_workday(date(2025, 1, 26))  # make-up Sunday before it
    # Monday 2025-09-29 + 3 working days: 30 Sept, then 1-8 Oct off, 9 Oct, 10 Oct.
    assert sla.add_working_days(date(2025, 9, 29), 3) == date(2025, 10, 10)


def test_defaults_per_kind_and_plain_chinese() -> None:
    received = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
    deadline, days = sla.deadline_for(TicketKind.consultation, received, POLICY)
    assert days == 3 and sla.deadline_text(deadline, days) == "3个工作日内，即11月26日前"
    assert deadline == datetime(2026, 11, 26, 15, 59, 59, 999999, tzinfo=UTC)
    assert sla.deadline_for(TicketKind.complaint, received, POLICY)[1] == 13
    assert sla.deadline_for(TicketKind.help_request, received, POLICY)[1] == 3
    same_day, zero = sla.deadline_for(TicketKind.emergency, received, POLICY)
    assert zero == 0 and sla.china_date(same_day) == date(2026, 11, 23)
    assert sla.deadline_text(same_day, 0) == "当天，即11月23日内"


def test_years_without_calendar_data_still_work() -> None:
    assert not sla.is_workday(date(2027, 1, 1)) and sla.is_workday(date(2027, 1, 4))
    policy = sla.parse_policy({"extra_holidays": ["2027-01-04"]})
    assert not sla.is_workday(date(2027, 1, 4), policy)


@settings(max_examples=150, deadline=None)
@given(start=days_in_periods, n=st.integers(0, 25))
def test_add_working_days_properties(start: date, n: int) -> None:
    end = sla.add_working_days(start, n)
    assert end >= start
    assert sla.working_days_between(start, end) == n
    if n > 0:
        assert chinese_calendar.is_workday(end)  # the deadline day is itself a working day
        assert sla.add_working_days(start, n - 1) < end  # strictly monotonic


@settings(max_examples=100, deadline=None)
@given(start=days_in_periods, a=st.integers(0, 10), b=st.integers(0, 10))
def test_working_days_compose(start: date, a: int, b: int) -> None:
    assert sla.add_working_days(sla.add_working_days(start, a), b) == sla.add_working_days(start, a + b)


@settings(max_examples=100, deadline=None)
@given(start=days_in_periods, n=st.integers(1, 20))
def test_no_holiday_counts(start: date, n: int) -> None:
    end = sla.add_working_days(start, n)
    counted = [start + timedelta(days=i) for i in range(1, (end - start).days + 1)]
    assert sum(1 for d in counted if chinese_calendar.is_workday(d)) == n
    assert all(not chinese_calendar.is_workday(d) for d in counted if chinese_calendar.is_holiday(d))
