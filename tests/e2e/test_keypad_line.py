"""A work order's progress by keypad alone, on a line without speech recognition (what a fresh install
has until a Chinese model is fetched): the real app, Rasa and action server; the caller is a peer that
plays the audio in real time and returns marks only after it."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
import websockets

from tests.voice.conftest import Peer
from voice.call import P
from voice.speech_text import read_digits, read_ticket

pytestmark = pytest.mark.stack

PHONE = "13512349090"  # last four 9090: keys 9 and 0 are digits here, not SMS and hand-off


def said(msg: dict[str, Any] | None) -> str:
    if msg and msg.get("event") == "hotline" and msg["hotline"]["type"] == "say":
        return str(msg["hotline"]["text"])
    return ""


async def press_and_hear(peer: Peer, keys: str, expected: str) -> str:
    """Press `keys`; play the line until something containing `expected` is said and has been heard."""
    await peer.dtmf(keys)
    text = said((await peer.play(lambda m: expected in said(m), timeout=60))[-1])
    await peer.play(lambda m: m is None and not peer.due_marks and heard_to_the_end(peer))
    return text


def heard_to_the_end(peer: Peer) -> bool:
    last_end = [m for m in peer.inbox if m["event"] == "mark" and m["mark"]["name"].endswith("-end")]
    last_say = [m for m in peer.inbox if said(m)]
    return bool(last_end and last_say) and peer.inbox.index(last_end[-1]) > peer.inbox.index(last_say[-1])


def test_progress_by_keypad_on_a_line_without_speech(stack: Any) -> None:
    created = httpx.post(
        f"{stack.app_url}/api/tickets",
        json={"kind": "投诉", "category": "无障碍", "description": "测试用：盲道被占用", "contact_phone": PHONE},
        headers={"Authorization": f"Bearer {stack.env()['HOTLINE_SERVICE_TOKEN']}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    number = created.json()["number"]
    ticket_token = httpx.get(f"{stack.app_url}/phone/token", timeout=10).json()
    ws_url = stack.app_url.replace("http://", "ws://") + "/voice/stream"

    async def call() -> list[str]:
        peer = Peer(await websockets.connect(ws_url, max_size=2**22), call_sid=ticket_token["call_sid"])
        await peer.start(stream_token=ticket_token["stream_token"])
        await peer.play(lambda m: m is None and not peer.due_marks and heard_to_the_end(peer), timeout=60)
        heard = [said(m) for m in peer.inbox if said(m)]
        heard.append(await press_and_hear(peer, number + "#", "您输入的号码是"))
        heard.append(await press_and_hear(peer, "#", "后四位"))
        heard.append(await press_and_hear(peer, PHONE[-4:] + "#", "您输入的号码是"))
        heard.append(await press_and_hear(peer, "#", "状态"))
        await peer.ws.close()
        return heard

    heard = asyncio.run(call())
    assert heard[0] == P["greeting_keypad"]  # no speech model on this line: the keys are named
    assert read_ticket(number) in heard[1]  # read back digit by digit, in groups of four
    # asked for the last four digits by keys only: nothing asks a caller this line cannot hear to speak
    assert "后四位" in heard[2] and "按键" in heard[2] and not re.search("说|告诉", heard[2])
    assert read_digits(PHONE[-4:]) in heard[3]
    assert "状态" in heard[4] and "已受理" in heard[4]
