"""A hand-off that reaches a person: the call is moved with Twilio's REST API (a local fake Twilio API
server, a protocol peer), the staff member hears a summary first, and a transfer nobody answers brings
the caller back to the assistant with a call-back work order. The caller is a peer that plays the audio
in real time and returns marks only after it; the app, its database and its TwiML are real."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import websockets
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session, select

from tests.voice.conftest import Peer, run_server
from voice.call import P

ACCOUNT = "AC" + "0" * 32
TOKEN = "test-auth-token"
STAFF = "+8613800138000"
CALLER = "+8613912345678"


class FakeTwilio:
    """Twilio's REST API as far as the hotline uses it: calls are updated with TwiML and recorded."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []
        self.app = FastAPI()

        @self.app.post("/2010-04-01/Accounts/{account}/Calls/{call_sid}.json")
        async def update(account: str, call_sid: str, request: Request) -> JSONResponse:
            form = parse_qs((await request.body()).decode())
            self.updates.append({"account": account, "call_sid": call_sid, **{k: v[0] for k, v in form.items()}})
            return JSONResponse({"sid": call_sid, "account_sid": account, "status": "in-progress"})


@pytest.fixture
def fake_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    from stack import free_port

    fake = FakeTwilio()
    port = free_port()
    server, thread = run_server(fake.app, port)
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_TWILIO_PHONE_NUMBER", "+8610012345")
    monkeypatch.setenv("HOTLINE_TWILIO_API_BASE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HOTLINE_VOICE_TRANSFER_NUMBER", STAFF)
    monkeypatch.setenv("HOTLINE_VOICE_SERVICE_HOURS", "00:00-24:00")
    monkeypatch.setenv("HOTLINE_SERVICE_DAYS", "every_day")
    try:
        yield fake
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def signed_post(url: str, params: dict[str, str]) -> httpx.Response:
    """POST as Twilio does: form parameters and the signature over the full URL."""
    from twilio.request_validator import RequestValidator

    signature = RequestValidator(TOKEN).compute_signature(url, params)
    return httpx.post(url, data=params, headers={"X-Twilio-Signature": signature}, timeout=10)


def stream_parameters(twiml: str) -> dict[str, str]:
    return dict(re.findall(r'<Parameter name="([^"]+)" value="([^"]*)"', twiml))


async def open_stream(ws_url: str, call_sid: str, params: dict[str, str]) -> Peer:
    peer = Peer(await websockets.connect(ws_url, max_size=2**22), call_sid=call_sid)
    await peer.start(**params)
    return peer


def said(msg: dict[str, Any] | None) -> str:
    if msg and msg.get("event") == "hotline" and msg["hotline"]["type"] == "say":
        return str(msg["hotline"]["text"])
    return ""


def test_key_0_moves_the_call_to_staff_who_hear_a_summary_and_no_answer_comes_back_with_a_call_back_order(
    fake_twilio: FakeTwilio, voice_app: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.models.ticket import Ticket
    from api.settings import get_settings

    base = voice_app.replace("ws://", "http://").removesuffix("/voice/stream")
    monkeypatch.setenv("HOTLINE_PUBLIC_BASE_URL", base)
    get_settings.cache_clear()
    call_sid = "CA" + uuid.uuid4().hex

    # Twilio's call webhook: the TwiML connects a stream with a token for this call and caller
    answer = signed_post(f"{base}/voice/incoming", {"CallSid": call_sid, "From": CALLER})
    assert answer.status_code == 200
    params = stream_parameters(answer.text)
    assert params["caller"] == CALLER

    async def first_leg() -> None:
        peer = await open_stream(voice_app, call_sid, params)
        await peer.play(lambda m: m is None and bool(peer.inbox) and not peer.due_marks and said_all(peer))
        await peer.dtmf("0")
        await peer.play(lambda m: P["transfer"] in said(m))
        await peer.play(lambda m: m is None and bool(fake_twilio.updates), timeout=20)
        await peer.ws.close()

    def said_all(peer: Peer) -> bool:
        """The greeting has been heard to its end (its end mark returned after playback)."""
        return any(m["event"] == "mark" and m["mark"]["name"].endswith("-end") for m in peer.inbox)

    asyncio.run(first_leg())

    # the call was moved to TwiML that dials the on-duty number, with a whisper and a way back
    update = fake_twilio.updates[-1]
    assert update["account"] == ACCOUNT and update["call_sid"] == call_sid
    twiml = update["Twiml"]
    assert f">{STAFF}</Number>" in twiml
    action = re.search(r'action="([^"]+)"', twiml)
    whisper = re.search(r'<Number [^>]*url="([^"]+)"', twiml)
    assert action and whisper
    action_url = action.group(1).replace("&amp;", "&")
    whisper_url = whisper.group(1).replace("&amp;", "&")
    assert action_url.startswith(base + "/voice/transfer-result")

    # the staff member answers and hears who is coming, in Mandarin
    heard = signed_post(whisper_url, {"CallSid": "CA" + uuid.uuid4().hex, "ParentCallSid": call_sid})
    assert heard.status_code == 200
    assert 'language="cmn-CN"' in heard.text and "来电人" in heard.text

    # an unsigned request to the same URL is refused
    assert httpx.post(action_url, data={"DialCallStatus": "no-answer"}, timeout=10).status_code == 403

    # nobody answers: a call-back work order, and the call comes back to the assistant
    back = signed_post(action_url, {"CallSid": call_sid, "From": CALLER, "DialCallStatus": "no-answer"})
    assert back.status_code == 200 and "<Stream" in back.text
    returned = stream_parameters(back.text)
    number = returned["note"].removeprefix("unanswered:")
    from api.db import get_engine

    with Session(get_engine()) as session:
        ticket = session.exec(select(Ticket).where(Ticket.number == number)).one()
        assert ticket.contact_phone == CALLER and ticket.channel == "voice"
        assert ticket.contact_preference == "call"

    async def second_leg() -> str:
        peer = await open_stream(voice_app, call_sid, returned)
        msgs = await peer.play(lambda m: bool(said(m)))
        await peer.ws.close()
        return said(msgs[-1])

    first_words = asyncio.run(second_leg())
    assert first_words.startswith(P["transfer_unanswered"]) and number in first_words

    # a note the app did not sign is refused like any forged stream
    async def forged() -> None:
        forged_params = {**returned, "note": "unanswered:201912310001"}
        peer = await open_stream(voice_app, call_sid, forged_params)
        with pytest.raises(websockets.ConnectionClosed):
            await peer.recv(timeout=5)
            await peer.recv(timeout=5)

    asyncio.run(forged())

    # a transfer someone answered ends with the call
    done = signed_post(action_url, {"CallSid": call_sid, "From": CALLER, "DialCallStatus": "completed"})
    assert "<Hangup" in done.text
