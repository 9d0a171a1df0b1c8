"""回访 by an outgoing call: TwiML with a one-digit <Gather>, our own synthesised prompts, and the
keypad rating closing or reopening the order, with Twilio's signature checked when configured."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.db import get_engine
from api.models.ticket import TransitionAction, TransitionCreate
from api.services import follow_up
from api.services.audit import Principal
from api.settings import get_settings
from api.workorders import queries, workflow
from tests.console.conftest import new_ticket

pytestmark = pytest.mark.usefixtures("fast_argon2")


def _resolved_with_follow_up(department: int) -> tuple[str, str]:
    number = new_ticket()
    actor = Principal("op-test", "operator")
    with Session(get_engine(), expire_on_commit=False) as own:
        moves = [
            TransitionCreate(action=TransitionAction.dispatch, department_id=department),
            TransitionCreate(action=TransitionAction.accept),
            TransitionCreate(action=TransitionAction.start),
            TransitionCreate(action=TransitionAction.reply, public_reply="已处理。"),
            TransitionCreate(action=TransitionAction.resolve),
        ]
        for move in moves:
            workflow.transition(own, number=number, data=move, actor=actor)
        asked = follow_up.request_follow_up(own, number=number, actor=actor, settings=get_settings())
    return number, asked.token


def _status(number: str) -> str:
    with Session(get_engine()) as own:
        return queries.get_ticket(own, number=number).status.value


def test_keypad_rating_on_a_follow_up_call(client: TestClient, department: int) -> None:
    number, token = _resolved_with_follow_up(department)
    answered = client.post(f"/voice/follow-up/{token}", data={"CallSid": "CA1"})
    assert answered.status_code == 200 and answered.headers["content-type"].startswith("application/xml")
    assert re.search(r'<Gather [^>]*numDigits="1"', answered.text)
    assert f"/voice/follow-up/{token}/audio/ask.wav" in answered.text

    audio = client.get(f"/voice/follow-up/{token}/audio/ask.wav")
    assert audio.status_code == 200 and audio.content[:4] == b"RIFF"
    assert len(audio.content) > 16000  # seconds of real espeak-ng speech, not an empty file
    assert client.get(f"/voice/follow-up/{token}/audio/nope.wav").status_code == 404

    wrong = client.post(f"/voice/follow-up/{token}/rating?tries=1", data={"Digits": "7"})
    assert "again.wav" in wrong.text and "<Gather" in wrong.text
    silent = client.post(f"/voice/follow-up/{token}/rating?tries=2", data={})
    assert "goodbye.wav" in silent.text and "<Hangup" in silent.text
    assert _status(number) == "follow_up"

    rated = client.post(f"/voice/follow-up/{token}/rating?tries=1", data={"Digits": "2"})
    assert "reopened.wav" in rated.text and "<Hangup" in rated.text
    assert _status(number) == "reopened"
    again = client.post(f"/voice/follow-up/{token}/rating?tries=1", data={"Digits": "5"})
    assert "reopened.wav" not in again.text and _status(number) == "reopened"  # one answer per follow-up

    unknown = client.post("/voice/follow-up/not-a-token", data={})
    assert unknown.status_code == 200 and "goodbye.wav" in unknown.text


def test_follow_up_call_checks_twilio_signature(
    client: TestClient, department: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twilio.request_validator import RequestValidator

    _number, token = _resolved_with_follow_up(department)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", "test-auth-token")
    monkeypatch.setenv("HOTLINE_PUBLIC_BASE_URL", "https://hotline.example.cn")
    get_settings.cache_clear()
    assert client.post(f"/voice/follow-up/{token}", data={"CallSid": "CA2"}).status_code == 403
    url = f"https://hotline.example.cn/voice/follow-up/{token}"
    signature = RequestValidator("test-auth-token").compute_signature(url, {"CallSid": "CA2"})
    signed = client.post(
        f"/voice/follow-up/{token}", data={"CallSid": "CA2"}, headers={"X-Twilio-Signature": signature}
    )
    assert signed.status_code == 200 and "https://hotline.example.cn/voice/follow-up/" in signed.text
    get_settings.cache_clear()


def test_no_call_is_placed_without_twilio(settings_env: object, department: int) -> None:
    """Without Twilio, asking for the rating writes no call (and no SMS) to the outbox: staff call back."""
    from api.models.outbox import OutboxMessage

    _resolved_with_follow_up(department)
    with Session(get_engine()) as own:
        assert own.exec(select(OutboxMessage)).all() == []
