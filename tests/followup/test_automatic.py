"""The worker asks for the 回访 rating by itself, HOTLINE_FOLLOW_UP_AFTER_WORKING_HOURS staffed hours after an
order is resolved, counted on the Chinese working-day calendar within the service hours; once per order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from api.clock import CHINA_TZ
from api.db import new_session
from api.models.outbox import OutboxMessage
from api.models.ticket import Ticket, TicketEvent, TicketStatus
from api.services import follow_up, sla
from api.services.on_duty import add_working_hours
from api.settings import get_settings
from tests.followup.twilio_peer import TwilioPeer

HOURS = "08:30-17:30"


def china(*args: int) -> datetime:
    return datetime(*args, tzinfo=CHINA_TZ)  # type: ignore[misc]


def test_working_hours_skip_the_night_the_weekend_and_holidays() -> None:
    # 2026-12-04 is a Friday.
    assert add_working_hours(china(2026, 12, 4, 10, 0), 2, HOURS) == china(2026, 12, 4, 12, 0)
    assert add_working_hours(china(2026, 12, 4, 7, 0), 1, HOURS) == china(2026, 12, 4, 9, 30)
    assert add_working_hours(china(2026, 12, 4, 17, 0), 1, HOURS) == china(2026, 12, 7, 9, 0)  # Monday
    assert add_working_hours(china(2026, 12, 5, 11, 0), 8, HOURS) == china(2026, 12, 7, 16, 30)
    holiday = sla.parse_policy({"extra_holidays": ["2026-12-07"]})
    assert add_working_hours(china(2026, 12, 4, 17, 0), 1, HOURS, policy=holiday) == china(2026, 12, 8, 9, 0)
    assert add_working_hours(china(2026, 12, 5, 23, 0), 1, HOURS, days="every_day") == china(2026, 12, 6, 9, 30)


def _resolved_at(number: str, moment: datetime) -> None:
    with new_session() as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        ticket.resolved_at = moment
        s.add(ticket)
        s.commit()


def test_resolved_orders_are_asked_once_after_the_delay(
    twilio: TwilioPeer, resolved: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_FOLLOW_UP_AFTER_WORKING_HOURS", "4")
    get_settings.cache_clear()
    settings = get_settings()
    old = resolved(contact_phone="13912345678", contact_preference="sms")
    fresh = resolved(contact_phone="13912345679", contact_preference="sms")
    resolved_on = china(2026, 12, 4, 15, 0)  # Friday 15:00: 2.5 staffed hours that day, 1.5 on Monday
    _resolved_at(old, resolved_on)
    _resolved_at(fresh, resolved_on + timedelta(hours=1))
    with new_session() as s:
        assert follow_up.request_due(s, settings, now=china(2026, 12, 7, 9, 59)) == []
        assert follow_up.request_due(s, settings, now=china(2026, 12, 7, 10, 0)) == [old]
        assert follow_up.request_due(s, settings, now=china(2026, 12, 7, 10, 30)) == []  # once
        assert follow_up.request_due(s, settings, now=china(2026, 12, 7, 11, 0)) == [fresh]
    with new_session() as s:
        for number in (old, fresh):
            ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
            assert ticket.status is TicketStatus.follow_up
            asked = s.exec(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "follow_up")
            ).one()
            assert asked.actor == follow_up.SYSTEM_ACTOR
        assert {row.recipient for row in s.exec(select(OutboxMessage))} == {"+8613912345678", "+8613912345679"}


def test_zero_hours_leaves_the_asking_to_staff(resolved: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_FOLLOW_UP_AFTER_WORKING_HOURS", "0")
    get_settings.cache_clear()
    number = resolved()
    _resolved_at(number, china(2026, 1, 5, 9, 0))
    with new_session() as s:
        assert follow_up.request_due(s, get_settings(), now=china(2026, 12, 7, 10, 0)) == []
        assert s.exec(select(Ticket).where(Ticket.number == number)).one().status is TicketStatus.resolved
