"""A staff member's reply in a web chat also goes by SMS when the citizen asked to be contacted by SMS
(the chat page may be long closed), and not otherwise; 退订 is respected. Twilio is a local peer."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.db import get_engine
from api.models.ticket import TicketCreate
from api.workorders import creation
from tests.backoffice.conftest import TICKET, make_user
from tests.console.conftest import Staff
from tests.followup.twilio_peer import TwilioPeer, send_outbox


def _web_chat_with_order(client: TestClient, sid: str, preference: str) -> str:
    assert client.post("/api/chat/messages", json={"session_id": sid, "text": "我想找人帮忙", "channel": "web"})
    with Session(get_engine(), expire_on_commit=False) as own:
        return creation.create_ticket(
            own,
            data=TicketCreate.model_validate(
                {**TICKET, "session_id": sid, "contact_phone": "13912345678", "contact_preference": preference}
            ),
        ).number


def _reply(client: TestClient, sid: str, text: str) -> str:
    username = make_user(None, "operator", username=f"op-{sid[-4:]}")  # type: ignore[arg-type]
    op = Staff(TestClient(client.app, raise_server_exceptions=False), username)
    assert op.post(f"/staff/conversations/{sid}/take").status_code == 303
    done = op.post(f"/staff/conversations/{sid}/reply", {"text": text})
    assert done.status_code == 303
    found = re.search(r'<p class="notice" role="status">([^<]*)</p>', op.get(done.headers["location"]).text)
    return found.group(1) if found else ""


def test_reply_reaches_an_sms_citizen_by_sms_too(twilio: TwilioPeer, client: TestClient) -> None:
    sid = "web-" + "5" * 32
    number = _web_chat_with_order(client, sid, "sms")
    notice = _reply(client, sid, "您的补贴已经查到，下周发放。")
    assert "短信马上发出" in notice and twilio.messages == []  # written to the outbox with the reply
    assert send_outbox() == ["sent"]
    assert [m["To"] for m in twilio.messages] == ["+8613912345678"]
    assert "您的补贴已经查到，下周发放。" in twilio.messages[0]["Body"]
    # The order's page lists the message and its outcome, the number masked; the history has the outcome too.
    supervisor = Staff(TestClient(client.app, raise_server_exceptions=False), make_user(None, "supervisor"))  # type: ignore[arg-type]
    page = supervisor.get(f"/staff/tickets/{number}").text
    listed = page.split('id="messages-title"', 1)[1].split("</table>", 1)[0]
    assert "工作人员回复" in listed and "已发出" in listed and "139****5678" in listed and "13912345678" not in listed
    assert "回复短信" in page and "工作人员的回复短信已发出。" in page


def test_reply_stays_in_the_chat_for_other_citizens(twilio: TwilioPeer, client: TestClient) -> None:
    sid = "web-" + "6" * 32
    _web_chat_with_order(client, sid, "chat")
    notice = _reply(client, sid, "您好，我来帮您。")
    assert notice == "回复已发送，市民的网页上会马上显示。"
    assert send_outbox() == [] and twilio.messages == []


def test_reply_to_a_number_that_texted_unsubscribe_is_not_written_as_sms(
    twilio: TwilioPeer, client: TestClient
) -> None:
    """The order keeps 13912345678, Twilio writes +8613912345678: one 退订 covers both."""
    from twilio.request_validator import RequestValidator

    from tests.followup.twilio_peer import OUR_NUMBER, TOKEN

    params = {"From": "+8613912345678", "To": OUR_NUMBER, "Body": "退订", "MessageSid": "SM" + "8" * 32}
    signature = RequestValidator(TOKEN).compute_signature("https://hotline.example.cn/sms/incoming", params)
    assert client.post("/sms/incoming", data=params, headers={"X-Twilio-Signature": signature}).status_code == 200
    sid = "web-" + "7" * 32
    _web_chat_with_order(client, sid, "sms")
    notice = _reply(client, sid, "您好，我来帮您。")
    assert "已退订短信" in notice
    assert send_outbox() == [] and twilio.messages == []
