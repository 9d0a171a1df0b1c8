"""退订 sent by SMS stops every text the hotline would send to that number: a staff member's reply (in the
SMS conversation and the copy of a web-chat reply), the follow-up and the phone line's 9; 订阅 lets them
through again.
The number on the work order is written as the citizen gave it (13912345678), the 退订 comes from
Twilio in E.164 (+8613912345678): both are the same caller. Twilio is a local peer."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from accessibility import sms
from api.db import get_engine, new_session
from api.models.ticket import Ticket, TicketCreate
from api.services import callers, follow_up
from api.services.audit import Principal
from api.settings import get_settings
from api.workorders import creation
from tests.backoffice.conftest import TICKET, make_user
from tests.console.conftest import Staff
from tests.followup.twilio_peer import OUR_NUMBER, TOKEN, TwilioPeer, send_outbox

SENDER = "+8613912345678"
ON_ORDERS = "13912345678"
BASE = "https://hotline.example.cn"
SUPERVISOR = Principal(username="supervisor-0", role="supervisor")


def _text(client: TestClient, body: str) -> str | None:
    params = {"From": SENDER, "To": OUR_NUMBER, "Body": body, "MessageSid": "SM" + uuid.uuid4().hex}
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/sms/incoming", params)
    resp = client.post("/sms/incoming", data=params, headers={"X-Twilio-Signature": signature})
    assert resp.status_code == 200, resp.text
    node = ET.fromstring(resp.text).find("Message")  # noqa: S314 (our own TwiML)
    return None if node is None else node.text or ""


def _order(session_id: str, channel: str, preference: str) -> None:
    with Session(get_engine(), expire_on_commit=False) as own:
        creation.create_ticket(
            own,
            data=TicketCreate.model_validate(
                {
                    **TICKET,
                    "session_id": session_id,
                    "channel": channel,
                    "contact_phone": ON_ORDERS,
                    "contact_preference": preference,
                }
            ),
        )


def _reply(client: TestClient, sid: str, text: str, username: str) -> str:
    op = Staff(TestClient(client.app, raise_server_exceptions=False), username)
    assert op.post(f"/staff/conversations/{sid}/take").status_code == 303
    done = op.post(f"/staff/conversations/{sid}/reply", {"text": text})
    assert done.status_code == 303
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', op.get(done.headers["location"]).text)
    return found.group(1) if found else ""


def test_unsubscribe_by_sms_stops_staff_replies_and_the_follow_up(
    twilio: TwilioPeer, client: TestClient, resolved: Callable[..., str]
) -> None:
    operator = make_user(None, "operator", username="op-unsub")  # type: ignore[arg-type]
    sms_sid = sms.sms_session_id(SENDER, get_settings())
    assert _text(client, "我想找人帮忙") is not None
    _order(sms_sid, "sms", "sms")
    web_sid = "web-" + "7" * 32
    assert client.post("/api/chat/messages", json={"session_id": web_sid, "text": "我想找人帮忙", "channel": "web"})
    _order(web_sid, "web", "sms")
    number = resolved(contact_phone=ON_ORDERS)

    assert "已退订" in (_text(client, "退订") or "")
    notice = _reply(client, sms_sid, "您的补贴下周发放。", operator)
    assert "已退订短信" in notice and "短信已发出" not in notice
    notice = _reply(client, web_sid, "您的补贴已经查到。", operator)
    assert "已退订短信" in notice and "已同时发短信" not in notice
    with new_session() as s:
        asked = follow_up.request_follow_up(s, number=number, actor=SUPERVISOR, settings=get_settings())
    assert asked.sms_status == "unsubscribed" and not asked.sms_queued
    send_outbox()  # the keypad rating call may go: 退订 stops texts, not calls
    assert twilio.messages == []  # not one text reached Twilio

    assert "已恢复" in (_text(client, "订阅") or "")
    assert _reply(client, sms_sid, "您的补贴下周发放。", operator).startswith("短信已交给发送队列")
    assert send_outbox() == ["sent"]
    assert [m["To"] for m in twilio.messages] == [SENDER]


def test_the_phone_lines_9_sends_no_sms_after_unsubscribe(twilio: TwilioPeer, client: TestClient) -> None:
    """The caller presses 9 for the last answer by SMS: after 退订 they are told why none comes, and no
    work order asks staff to text them instead; after 订阅 the answer goes out."""
    from voice.actions import CallActions
    from voice.call import Call, P, TurnReply
    from voice.routes import synthesizer

    settings = get_settings()
    said: list[str] = []

    async def send(message: str) -> None:
        event = json.loads(message)
        if event.get("event") == "hotline" and event["hotline"]["type"] == "say":
            said.append(event["hotline"]["text"])

    async def close(code: int) -> None:
        return None

    async def turn(text: str, confidence: float | None) -> TurnReply:
        return TurnReply(text)

    async def press_9() -> list[str]:
        said.clear()
        call = Call(
            send=send,
            close=close,
            tts=synthesizer(settings),
            turn_handler=turn,
            actions=CallActions(settings, "CAunsub", "voice-CAunsub", caller_phone=SENDER, is_twilio_call=True),
            stream_sid="MZunsub",
            caller_key=callers.key_for(settings, SENDER),
            recognizer=None,
            asr_expected=False,
            events_wanted=True,
            last_answer="残疾人证每年审核一次。",
        )
        await call.sms()
        await call.finish()
        return list(said)

    assert "已退订" in (_text(client, "退订") or "")
    assert asyncio.run(press_9()) == [P["sms_unsubscribed"]]
    assert twilio.messages == []
    with new_session() as s:
        assert s.exec(select(Ticket)).all() == []  # nobody is asked to text this number by hand
    assert "已恢复" in (_text(client, "订阅") or "")
    assert asyncio.run(press_9()) == [P["sms_ok"]]
    assert send_outbox() == ["sent"]
    assert [(m["To"], m["Body"]) for m in twilio.messages] == [(SENDER, "【残联服务热线】残疾人证每年审核一次。")]
