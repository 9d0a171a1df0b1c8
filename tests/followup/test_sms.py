"""Follow-up by SMS: the request goes to the outbox and out through the Twilio library (as the task worker
sends it) to a local Twilio peer, and a lone digit sent back to the signed webhook records the rating; the
other keywords keep working."""

from __future__ import annotations

import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select
from twilio.request_validator import RequestValidator

from api import vocabulary
from api.db import new_session
from api.models.grievance import GrievanceRecord
from api.models.ticket import FollowUp, Ticket, TicketEvent, TicketStatus
from api.services import follow_up
from api.services.audit import Principal
from api.settings import get_settings
from tests.followup.twilio_peer import OUR_NUMBER, SID, TOKEN, TwilioPeer, send_outbox

BASE = "https://hotline.example.cn"
PHONE = "+8613800138000"
SUPERVISOR = Principal(username="supervisor-0", role="supervisor")


@pytest.fixture
def sms_client(settings_env: Path, peer: TwilioPeer, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_TWILIO_PHONE_NUMBER", OUR_NUMBER)
    monkeypatch.setenv("HOTLINE_TWILIO_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("HOTLINE_TWILIO_API_BASE_URL", peer.url)
    monkeypatch.setenv("HOTLINE_PUBLIC_BASE_URL", BASE)
    monkeypatch.setenv("HOTLINE_OUTBOX_MAX_ATTEMPTS", "1")  # a refused SMS fails at once here
    get_settings.cache_clear()
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c
    get_settings.cache_clear()


def _text(client: TestClient, body: str, sender: str = PHONE) -> str | None:
    params = {"From": sender, "To": OUR_NUMBER, "Body": body, "MessageSid": "SM" + uuid.uuid4().hex}
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/sms/incoming", params)
    resp = client.post("/sms/incoming", data=params, headers={"X-Twilio-Signature": signature})
    assert resp.status_code == 200, resp.text
    node = ET.fromstring(resp.text).find("Message")  # noqa: S314 (our own TwiML)
    return None if node is None else node.text or ""


def _ticket(number: str) -> Ticket:
    with new_session() as s:
        return s.exec(select(Ticket).where(Ticket.number == number)).one()


def _ask(number: str, peer: TwilioPeer) -> follow_up.FollowUpRequested:
    """Ask for the rating, then send the outbox (the SMS, and the keypad-rating call written with it) to the peer."""
    with new_session() as s:
        asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    send_outbox()
    return asked


def _sms_event(number: str) -> TicketEvent:
    with new_session() as s:
        ticket = s.exec(select(Ticket).where(Ticket.number == number)).one()
        event = s.exec(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket.id, TicketEvent.action == "follow_up_sms")
            .order_by(col(TicketEvent.id).desc())
        ).first()
        assert event is not None
        s.expunge_all()
        return event


def test_digit_reply_rates_the_pending_follow_up(
    sms_client: TestClient, resolved: Callable[..., str], peer: TwilioPeer
) -> None:
    number = resolved(contact_phone="13800138000")
    asked = _ask(number, peer)
    assert asked.sms_queued and asked.sms_status == "queued" and asked.channel == "sms"
    assert asked.link == f"{BASE}/feedback/{asked.token}"
    [sms] = peer.messages
    assert sms["To"] == PHONE and sms["From"] == OUR_NUMBER
    assert (
        vocabulary.format_work_order(number) in sms["Body"]
        and "回复数字1到5" in sms["Body"]
        and asked.link in sms["Body"]
    )
    sent = _sms_event(number)
    assert sent.note == "回访短信已发出。" and sent.actor == "system:outbox"

    reply = _text(sms_client, "２")  # a full-width digit from a phone keyboard counts too
    assert reply is not None and "2分" in reply and "重新办理" in reply and "人工" in reply
    ticket = _ticket(number)
    assert ticket.status is TicketStatus.reopened and ticket.satisfaction_score == 2
    assert ticket.deadline is not None and f"{ticket.deadline.astimezone(follow_up.sla.CHINA_TZ).day}日" in reply
    with new_session() as s:
        answer = s.exec(select(FollowUp).where(FollowUp.token == asked.token)).one()
        assert (answer.score, answer.answered_channel) == (2, "sms")
        logged = s.exec(select(GrievanceRecord).where(GrievanceRecord.intent == "follow_up_rating")).one()
        assert logged.channel == "sms" and logged.ticket_number == number and logged.text == "２"

    # The same digit again: a clear answer, nothing changes.
    again = _text(sms_client, "2")
    assert again is not None and "已经评价过了" in again
    assert _ticket(number).version == ticket.version


def test_newest_pending_is_rated_and_the_other_is_mentioned(
    sms_client: TestClient, resolved: Callable[..., str], peer: TwilioPeer
) -> None:
    older, newer = resolved(contact_phone="+8613800138000"), resolved(contact_phone="138-0013-8000")
    _ask(older, peer)
    _ask(newer, peer)
    first = _text(sms_client, "5分")
    grouped = vocabulary.format_work_order
    assert first is not None and grouped(newer) in first and grouped(older) in first and "再回复" in first
    assert _ticket(newer).status is TicketStatus.closed and _ticket(older).status is TicketStatus.follow_up
    second = _text(sms_client, "4")
    assert second is not None and grouped(older) in second and "再回复" not in second
    assert _ticket(older).status is TicketStatus.closed and _ticket(older).satisfaction == "满意"


def test_digits_without_a_follow_up_and_other_keywords_still_work(
    sms_client: TestClient, resolved: Callable[..., str], peer: TwilioPeer
) -> None:
    # A digit from a number with no follow-up is an ordinary message (assistant down: recorded, with a number).
    plain = _text(sms_client, "3", sender="+8613911112222")
    assert plain is not None and "工单号" in plain
    number = resolved(contact_phone="13800138000")
    _ask(number, peer)
    status = _text(sms_client, f"进度{number}")
    assert status is not None and f"工单{vocabulary.format_work_order(number)}：回访" in status
    assert _text(sms_client, "6") is not None  # not a rating: goes to the assistant
    assert _ticket(number).status is TicketStatus.follow_up
    assert _text(sms_client, "退订") is not None
    assert _text(sms_client, "5") is None  # unsubscribed: recorded, but nothing is sent back
    assert _ticket(number).status is TicketStatus.closed


def test_twilio_failure_or_no_mobile_leaves_the_link_for_a_call_back(
    sms_client: TestClient, resolved: Callable[..., str], peer: TwilioPeer
) -> None:
    peer.fail_sms = True
    number = resolved(contact_phone="13800138000")
    asked = _ask(number, peer)
    assert asked.sms_queued and asked.channel == "sms"
    event = _sms_event(number)
    assert "电话回访" in (event.note or "") and "Invalid 'To' Phone Number" in (event.reason or "")
    with new_session() as s:
        assert s.exec(select(FollowUp).where(FollowUp.token == asked.token)).one().channel == "voice"

    peer.fail_sms, peer.delay = False, 3.0  # slower than the 1 s deadline
    slow = resolved(contact_phone="13800138000")
    started = time.monotonic()
    _ask(slow, peer)
    assert "Timeout" in (_sms_event(slow).reason or "") and time.monotonic() - started < 5.5  # SMS and call
    peer.delay = 0.0

    landline = resolved(contact_phone="010-62345678")
    no_mobile = _ask(landline, peer)
    assert no_mobile.sms_status == "no_mobile" and not peer.messages
    assert _ticket(landline).status is TicketStatus.follow_up  # still asked: staff call and give the link
