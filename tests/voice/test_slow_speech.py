"""Slower speech remembered for a caller, only with consent, across calls (real app, real database)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import websockets
from sqlmodel import Session, select

from tests.voice.conftest import Peer
from voice import twilio_protocol as tp
from voice.asr import AsrResult
from voice.call import Call, P, Phase, TurnReply

NUMBER = "13812345678"


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


async def call_from(url: str, number: str | None = NUMBER) -> tuple[Peer, str, int]:
    """A call whose caller number the app can trust (as /voice/incoming binds it); greeting heard."""
    peer = Peer(await websockets.connect(url, max_size=2**22))
    await peer.start(**({"caller": number} if number else {}))
    greeting = await peer.said()
    frames = sum(1 for m in await peer.finish_utterance() if m["event"] == "media")
    return peer, greeting, frames


async def answer(peer: Peer, keys: str) -> str:
    await peer.dtmf(keys)
    text = await peer.said()
    await peer.finish_utterance()
    return text


def stored_rows() -> list[Any]:
    from api.db import get_engine
    from api.models.caller import CallerPreference

    with Session(get_engine()) as s:
        return list(s.exec(select(CallerPreference)).all())


def key_of(number: str) -> str:
    from api.services.grievance_log import caller_key
    from api.settings import get_settings

    return caller_key(number, salt=get_settings().effective_caller_salt)


def test_slow_speech_is_remembered_with_consent_and_forgotten_on_request(voice_app: str) -> None:
    async def first_call() -> int:
        peer, _, normal_frames = await call_from(voice_app)
        assert await answer(peer, "*") == P["slow_ask"]  # asked, with keypad answers
        assert await answer(peer, "1") == P["slow_remembered"]
        await peer.ws.close()
        return normal_frames

    normal = run(first_call())
    rows = stored_rows()
    assert [(r.caller_key, r.slow_speech) for r in rows] == [(key_of(NUMBER), True)]
    assert all(NUMBER not in str(v) for r in rows for v in r.model_dump().values())  # never the raw number

    async def second_call() -> int:
        peer, _, slow_frames = await call_from(voice_app)
        assert await answer(peer, "*") == P["slow_off_ask"]  # back to normal: keep or delete?
        assert await answer(peer, "2") == P["slow_kept"]
        await peer.ws.close()
        return slow_frames

    slow = run(second_call())
    assert slow > normal * 1.2, (normal, slow)  # the same greeting, spoken slower from the first word
    assert len(stored_rows()) == 1

    async def third_call() -> None:
        peer, _, frames = await call_from(voice_app)
        assert frames > normal * 1.2
        assert await answer(peer, "*") == P["slow_off_ask"]
        assert await answer(peer, "1") == P["slow_forgotten"]
        assert await answer(peer, "*") == P["slow_on"]  # asked once per call: not again
        await peer.ws.close()

    run(third_call())
    assert stored_rows() == []

    async def fourth_call() -> int:
        peer, _, frames = await call_from(voice_app)
        await peer.ws.close()
        return frames

    assert abs(run(fourth_call()) - normal) <= 5  # normal speed again (synthesis may differ by a frame or two)


def test_no_consent_stores_nothing_and_unknown_callers_are_not_asked(voice_app: str) -> None:
    async def go() -> None:
        peer, _, normal = await call_from(voice_app)
        assert await answer(peer, "*") == P["slow_ask"]
        assert await answer(peer, "7") == P["consent_keys"]  # a key that is no answer: told which are
        assert await answer(peer, "2") == P["slow_not_remembered"]
        await peer.ws.close()
        peer, _, again = await call_from(voice_app)
        assert again == normal
        await peer.ws.close()
        # a caller whose number is unknown cannot be remembered: slower now, no question
        peer, _, _ = await call_from(voice_app, None)
        assert await answer(peer, "*") == P["slow_on"]
        await peer.ws.close()

    run(go())
    assert stored_rows() == []


class Line:
    """The transport side of one Call: collects what it sends."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.said: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)
        msg = json.loads(text)
        if msg.get("event") == "hotline" and msg["hotline"]["type"] == "say":
            self.said.append(msg["hotline"]["text"])

    async def close(self, code: int) -> None:
        return None


async def heard_to_the_end(call: Call) -> None:
    """The line has played what the call said: its end mark comes back, as Twilio returns it."""
    for _ in range(200):
        if call.phase is not Phase.speaking:
            return
        if call._speak_task is not None and call._speak_task.done():
            await call.on_mark(tp.Mark(call._end_mark))
            return
        await asyncio.sleep(0.05)


def test_consent_by_voice(settings_env: Path) -> None:
    """要 / 不要 answer the question as 1 / 2 do; anything else lets it lapse, storing nothing."""
    from api.services import callers
    from api.settings import get_settings
    from voice.actions import CallActions
    from voice.routes import synthesizer

    settings = get_settings()
    key = key_of(NUMBER)

    async def press_star_then_say(words: list[str]) -> list[str]:
        line = Line()

        async def turn(text: str, confidence: float | None) -> TurnReply:
            return TurnReply(f"您说的是：{text}")

        stored = callers.wants_slow(key)
        call = Call(
            send=line.send,
            close=line.close,
            tts=synthesizer(settings),
            turn_handler=turn,
            actions=CallActions(settings, "CAtest", "voice-CAtest", caller_phone="", is_twilio_call=False),
            stream_sid="MZtest",
            caller_key=key,
            recognizer=None,
            asr_expected=False,
            events_wanted=True,
            slow=stored,
            slow_stored=stored,
        )
        await call.slower()
        for word in words:
            await heard_to_the_end(call)  # the caller answers once the question has been heard
            await call.on_asr(AsrResult(word, 0.9, True), 0.0)
        await call.finish()
        return line.said

    assert run(press_star_then_say(["不要"])) == [P["slow_ask"], P["slow_not_remembered"]]
    assert stored_rows() == []
    assert run(press_star_then_say(["我想问残疾人证"])) == [P["slow_ask"], "您说的是：我想问残疾人证"]  # lapsed
    assert stored_rows() == []
    assert run(press_star_then_say(["要"])) == [P["slow_ask"], P["slow_remembered"]]
    assert [r.caller_key for r in stored_rows()] == [key]
    # remembered, so this call starts slow: `*` goes back to normal and asks whether to delete
    assert run(press_star_then_say(["不要"])) == [P["slow_off_ask"], P["slow_kept"]]
    assert len(stored_rows()) == 1
    assert run(press_star_then_say(["，好的。"])) == [P["slow_off_ask"], P["slow_forgotten"]]
    assert stored_rows() == []
