"""The citizen's contact preference is respected by every outgoing follow-up contact: a citizen who asked
for SMS gets the SMS and is never phoned, one who asked for no contact gets neither, and staff are never
told to call them. Twilio is a local peer that records every message and every call it is asked for; the
outbox is sent as the task worker sends it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import col, select

from api.db import new_session
from api.models.ticket import ContactPreference, FollowUp, Ticket, TicketEvent
from api.services import follow_up
from api.services.audit import Principal
from api.settings import get_settings
from tests.followup.twilio_peer import TwilioPeer, send_outbox

SUPERVISOR = Principal(username="supervisor-0", role="supervisor")


def _ask(number: str) -> follow_up.FollowUpRequested:
    with new_session() as s:
        return follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())


def test_a_citizen_who_asked_for_sms_gets_the_sms_and_is_never_called(
    twilio: TwilioPeer, resolved: Callable[..., str]
) -> None:
    number = resolved(contact_phone="13912345678", contact_preference="sms")
    asked = _ask(number)
    assert asked.sms_queued and not asked.call_queued and "电话回访" not in asked.message
    assert send_outbox() == ["sent"]
    assert [m["To"] for m in twilio.messages] == ["+8613912345678"] and twilio.calls == []


def test_a_citizen_who_asked_for_calls_or_said_nothing_may_be_called(
    twilio: TwilioPeer, resolved: Callable[..., str]
) -> None:
    """The same path places the call when it is allowed: the test above can see a call."""
    for preference in ("call", ""):
        asked = _ask(resolved(contact_phone="13912345678", contact_preference=preference))
        assert asked.sms_queued and asked.call_queued and "打电话" in asked.message
        assert send_outbox() == ["sent", "sent"]
    assert [c["To"] for c in twilio.calls] == ["+8613912345678", "+8613912345678"]
    assert all(c["Url"].startswith("https://hotline.example.cn/voice/follow-up/") for c in twilio.calls)


def test_no_contact_means_no_sms_and_no_call(twilio: TwilioPeer, resolved: Callable[..., str]) -> None:
    number = resolved(contact_phone="13912345678", contact_preference="none")
    asked = _ask(number)
    assert not asked.sms_queued and asked.sms_status == "not_wanted" and not asked.call_queued
    assert "不需要联系" in asked.message and "不要打电话" in asked.message and "电话回访" not in asked.message
    assert asked.channel == "web"
    assert send_outbox() == [] and twilio.messages == [] and twilio.calls == []
    with new_session() as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.contact_preference is ContactPreference.none
        assert ticket.status.value == "follow_up"  # still asked: the citizen may open the link themselves


def test_a_failed_sms_to_a_citizen_who_asked_for_sms_does_not_turn_into_a_call(
    twilio: TwilioPeer, resolved: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOTLINE_OUTBOX_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    twilio.fail_sms = True
    number = resolved(contact_phone="13912345678", contact_preference="sms")
    asked = _ask(number)
    assert asked.sms_queued and not asked.call_queued and "电话回访" not in asked.message
    assert send_outbox() == ["failed"]  # one try allowed here (HOTLINE_OUTBOX_MAX_ATTEMPTS=1)
    with new_session() as s:
        assert s.exec(select(FollowUp).where(FollowUp.token == asked.token)).one().channel == "web"
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        event = s.exec(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(col(TicketEvent.id).desc())
        ).first()
        assert event is not None and "请不要打电话" in (event.note or "") and "21211" in (event.reason or "")
    assert twilio.calls == []


def test_the_chat_preference_gets_neither_sms_nor_call(twilio: TwilioPeer, resolved: Callable[..., str]) -> None:
    asked = _ask(resolved(contact_phone="13912345678", contact_preference="chat"))
    assert asked.sms_status == "not_wanted" and not asked.call_queued and "网上对话" in asked.message
    assert send_outbox() == [] and twilio.messages == [] and twilio.calls == []
