"""Webhook, signature, TwiML, /phone page, /health's speech-model check; one keyed turn through real Rasa."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
import websockets
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from tests.voice.conftest import Peer
from voice.cli import local_stream_token

FORM = {"CallSid": "CA123", "From": "+8613812345678", "To": "+8612385"}


def test_incoming_returns_connect_stream_twiml(client: TestClient) -> None:
    resp = client.post("/voice/incoming", data=FORM)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("application/xml")
    body = resp.text
    assert "<Connect><Stream" in body and 'url="ws://testserver/voice/stream"' in body
    assert 'name="caller" value="+8613812345678"' in body and 'name="stream_token"' in body


def test_signature_is_checked_when_a_token_is_configured(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import get_settings

    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("HOTLINE_PUBLIC_BASE_URL", "https://hotline.example.cn")
    get_settings.cache_clear()
    from hotline.app import create_app

    with TestClient(create_app()) as c:
        assert c.post("/voice/incoming", data=FORM).status_code == 403
        bad = {"X-Twilio-Signature": "nope"}
        assert c.post("/voice/incoming", data=FORM, headers=bad).status_code == 403
        sig = RequestValidator("secret-token").compute_signature("https://hotline.example.cn/voice/incoming", FORM)
        ok = c.post("/voice/incoming", data=FORM, headers={"X-Twilio-Signature": sig})
        assert ok.status_code == 200 and 'url="wss://hotline.example.cn/voice/stream"' in ok.text


def test_phone_page_is_chinese_and_keyboard_usable(client: TestClient) -> None:
    page = client.get("/phone")
    assert page.status_code == 200 and '<html lang="zh-CN">' in page.text
    assert page.text.count('type="button"') >= 14 and 'role="status"' in page.text
    assert "cdn" not in page.text.lower()
    js = client.get("/phone/phone.js")
    assert js.status_code == 200 and "audio/x-mulaw" in js.text


def test_health_says_why_speech_is_off(client: TestClient) -> None:
    check = client.get("/health").json()["checks"]["speech_model"]
    assert check["status"] == "down" and "keypad" in check["reason"]


@pytest.mark.stack
def test_keyed_number_goes_to_the_real_assistant_and_the_log(stack: object) -> None:
    """With Rasa running: a typed number, confirmed, becomes a voice turn answered by the assistant."""
    url = stack.app_url.replace("http://", "ws://") + "/voice/stream"  # type: ignore[attr-defined]

    async def go() -> tuple[str, list[str]]:
        peer = Peer(await websockets.connect(url, max_size=2**22))
        await peer.start(stream_token=local_stream_token(peer.call_sid, secret=stack.secret_key))  # type: ignore[attr-defined]
        await peer.said()
        await peer.finish_utterance()
        await peer.dtmf("13812345678#")
        await peer.said()
        await peer.finish_utterance()
        await peer.dtmf("#")
        msgs = await peer.until(lambda m: m["event"] == "hotline" and m["hotline"]["type"] == "turn", 60)
        await peer.ws.close()
        return peer.call_sid, [msgs[-1]["hotline"]["heard"], msgs[-1]["hotline"]["reply"]]

    call_sid, (heard, reply) = asyncio.run(go())
    assert heard == "13812345678" and reply
    db = Path(stack.data_dir) / "hotline.db"  # type: ignore[attr-defined]
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT channel, text, outcome FROM grievance_log WHERE session_id = ?", (f"voice-{call_sid}",)
        ).fetchall()
    assert rows and rows[0][0] == "voice" and rows[0][1] == "13812345678"
