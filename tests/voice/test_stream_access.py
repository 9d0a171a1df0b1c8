"""Issue 19, item 6: a media stream only the app's own calls can open, and no socket held forever."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from fastapi.testclient import TestClient

from tests.voice.conftest import Peer
from voice import stream_access
from voice import twilio_protocol as tp

SECRET = "s3cret"


def test_a_token_is_good_only_for_its_call_its_caller_and_its_time() -> None:
    now = 1_800_000_000.0
    token = stream_access.mint(SECRET, call_sid="CA1", caller="+8613812345678", now=now)
    assert stream_access.verify(SECRET, token, call_sid="CA1", caller="+8613812345678", now=now + 60)
    assert not stream_access.verify(SECRET, token, call_sid="CA2", caller="+8613812345678", now=now)
    assert not stream_access.verify(SECRET, token, call_sid="CA1", caller="+8613900000000", now=now)
    assert not stream_access.verify(SECRET, token, call_sid="CA1", caller="", now=now)
    assert not stream_access.verify("other", token, call_sid="CA1", caller="+8613812345678", now=now)
    assert not stream_access.verify(SECRET, token, call_sid="CA1", caller="+8613812345678", now=now + 3600)
    for junk in ("", ".", "abc.def", "9" * 40 + ".x", token.split(".")[0]):
        assert not stream_access.verify(SECRET, junk, call_sid="CA1", caller="+8613812345678", now=now)


def test_the_twiml_token_admits_exactly_that_call(client: TestClient) -> None:
    from api.settings import get_settings

    body = client.post("/voice/incoming", data={"CallSid": "CA77", "From": "+8613812345678"}).text
    token = re.search(r'name="stream_token" value="([^"]+)"', body)
    assert token is not None
    secret = get_settings().effective_secret_key
    assert stream_access.verify(secret, token.group(1), call_sid="CA77", caller="+8613812345678")
    assert not stream_access.verify(secret, token.group(1), call_sid="CA78", caller="+8613812345678")


async def _refused(url: str, **custom: str) -> int:
    peer = Peer(await websockets.connect(url))
    await peer.ws.send(tp.peer_connected())
    await peer.ws.send(tp.peer_start(peer.sid, peer.call_sid, custom={"hotline_events": "1", **custom}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            message = await peer.recv(10)
            assert message["event"] != "media", "a refused stream must not be greeted"
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


def test_a_stream_without_a_valid_token_is_refused(voice_app: str) -> None:
    async def go() -> None:
        assert await _refused(voice_app) == 1008
        assert await _refused(voice_app, stream_token="123.abc") == 1008
        # A token of a real call cannot be reused to claim another caller's number (call-backs, SMS).
        from voice.cli import local_stream_token

        peer_sid = "CA" + "1" * 32
        token = local_stream_token(peer_sid, "+8613812345678")
        assert await _refused(voice_app, stream_token=token, caller="+8613900000000") == 1008
        # ...and a valid one is answered.
        peer = Peer(await websockets.connect(voice_app))
        await peer.start()
        assert await peer.said()
        await peer.ws.close()

    asyncio.run(go())


@pytest.fixture
def short_timeouts(voice_app: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from api.settings import get_settings

    monkeypatch.setenv("HOTLINE_VOICE_START_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("HOTLINE_VOICE_IDLE_TIMEOUT_SECONDS", "2")
    get_settings.cache_clear()  # read again by the next connection
    yield voice_app
    get_settings.cache_clear()


def test_sockets_that_start_nothing_or_fall_silent_are_closed(short_timeouts: str) -> None:
    async def go() -> None:
        silent = await websockets.connect(short_timeouts)
        started = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(silent.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert time.monotonic() - started < 5

        peer = Peer(await websockets.connect(short_timeouts))
        await peer.start()
        started = time.monotonic()
        with pytest.raises(websockets.ConnectionClosed):
            while True:  # the greeting arrives; its marks are never returned and no audio is sent
                await peer.recv(10)
        assert time.monotonic() - started < 8

    asyncio.run(go())


def test_the_browser_phone_gets_a_token_per_call_and_is_limited_per_address(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.settings import get_settings
    from hotline.app import create_app

    monkeypatch.setenv("HOTLINE_VOICE_BROWSER_CALLS_PER_MINUTE", "2")
    get_settings.cache_clear()
    with TestClient(create_app(), client=("203.0.113.9", 40000)) as outside:
        first = outside.get("/phone/token").json()
        assert stream_access.verify(
            get_settings().effective_secret_key, first["stream_token"], call_sid=first["call_sid"]
        )
        assert outside.get("/phone/token").status_code == 200
        refused = outside.get("/phone/token")
        assert refused.status_code == 429 and "请稍后再试" in refused.json()["error"]["message"]
