"""A hand-off on a line that cannot move the call to a person: the caller is never left holding.

The assistant's reply is given to the call as the gateway would give it (a hand-off, no work order);
the call, its keys, its speech and the work order are real.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from tests.voice.test_slow_speech import Line
from voice.asr import AsrResult
from voice.call import Call, P, TurnReply

HANDED_OVER = "抱歉，我没能听懂。现在为您转接工作人员，请不要挂机。"


async def _call(settings: Any, phone: str) -> tuple[Call, Line]:
    from voice.actions import CallActions
    from voice.routes import synthesizer

    line = Line()

    async def turn(text: str, confidence: float | None) -> TurnReply:
        return TurnReply(HANDED_OVER, handoff=True)

    call = Call(
        send=line.send,
        close=line.close,
        tts=synthesizer(settings),
        turn_handler=turn,
        actions=CallActions(settings, "CAhandoff", "voice-CAhandoff", caller_phone=phone, is_twilio_call=True),
        stream_sid="MZhandoff",
        caller_key="handoff-test",
        recognizer=None,
        asr_expected=False,
        events_wanted=True,
    )
    return call, line


def _handed_over(phone: str, words: str) -> list[str]:
    """What the caller hears after saying `words`, which the assistant answers with a hand-off."""
    from api.settings import get_settings

    async def go() -> list[str]:
        call, line = await _call(get_settings(), phone)
        await call.on_asr(AsrResult(words, 0.4, True), 0.0)
        for _ in range(300):
            if len(line.said) >= 2:
                break
            await asyncio.sleep(0.1)
        await call.finish()
        return line.said

    return asyncio.run(go())


def test_a_hand_off_without_a_transfer_target_makes_a_call_back_order(settings_env: Path) -> None:
    """No Twilio transfer number: after the assistant's words the caller hears the call-back promise
    with a work-order number, and the order holds the caller's number."""
    from api.db import get_engine
    from api.models.ticket import Ticket

    said = _handed_over("13912345678", "这个那个什么的我也说不清")
    assert said[0] == HANDED_OVER and len(said) == 2
    assert "无法直接转接" in said[1] and "工单号是" in said[1] and "回电" in said[1]
    with Session(get_engine()) as session:
        orders = session.exec(select(Ticket).where(Ticket.session_id == "voice-CAhandoff")).all()
    assert [o.contact_phone for o in orders] == ["13912345678"]
    assert orders[0].contact_preference == "call"  # a call-back was asked for: staff see that a call is wanted
    assert f"工单号是{orders[0].number}" in said[1]


def test_a_hand_off_asks_for_a_number_when_the_caller_is_unknown(settings_env: Path) -> None:
    said = _handed_over("", "我说不清楚")
    assert len(said) == 2 and said[1] == "好的，我们会安排工作人员给您回电。" + P["ask_phone"]
