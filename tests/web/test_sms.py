"""SMS webhook: Twilio signature, TwiML replies within a few segments, keywords, unsubscribe."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from accessibility import sms
from api import vocabulary
from api.models.caller import CallerPreference
from api.models.grievance import GrievanceRecord
from api.models.ticket import Ticket, TicketCreate, TicketKind
from api.services import callers, grievance_log
from api.workorders import creation

TOKEN = "twilio-test-token"
BASE = "https://hotline.example.cn"
URL = BASE + "/sms/incoming"
PHONE = "+8613800138000"


@pytest.fixture
def sms_client(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_PUBLIC_BASE_URL", BASE)
    from api.settings import get_settings

    get_settings.cache_clear()
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c
    get_settings.cache_clear()


def _post(client: TestClient, body: str, *, sender: str = PHONE, sign: bool = True, token: str = TOKEN, sid: str = ""):
    params = {"From": sender, "To": "+8610012345", "Body": body, "MessageSid": sid or "SM" + uuid.uuid4().hex}
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = RequestValidator(token).compute_signature(URL, params)
    return client.post("/sms/incoming", data=params, headers=headers)


def _message(resp) -> str | None:
    assert resp.headers["content-type"].startswith("application/xml")
    node = ET.fromstring(resp.text).find("Message")  # noqa: S314 (our own TwiML)
    return None if node is None else (node.text or "")


def test_signature_is_required_and_checked(sms_client: TestClient, db: Session) -> None:
    assert _post(sms_client, "你好", sign=False).status_code == 403
    assert _post(sms_client, "你好", token="someone-elses-token").status_code == 403
    tampered = {"From": PHONE, "Body": "改过的内容"}
    sig = RequestValidator(TOKEN).compute_signature(URL, {"From": PHONE, "Body": "原来的内容"})
    assert sms_client.post("/sms/incoming", data=tampered, headers={"X-Twilio-Signature": sig}).status_code == 403
    db.rollback()
    assert db.exec(select(GrievanceRecord)).all() == []  # forged requests never reach the gateway
    ok = _post(sms_client, "你好")
    assert ok.status_code == 200 and _message(ok)


def test_unicode_goes_through_the_gateway_as_sms_keyed_by_number(sms_client: TestClient, db: Session) -> None:
    text = "我的助听器坏了😢，怎么申请新的？"
    reply = _message(_post(sms_client, text))
    assert reply and "工单号" in reply  # assistant down → recorded for staff, with a number
    _post(sms_client, "还有，轮椅也坏了")
    db.rollback()
    recs = db.exec(select(GrievanceRecord).where(GrievanceRecord.channel == "sms")).all()
    assert [r.text for r in recs] == [text, "还有，轮椅也坏了"]
    assert recs[0].session_id == recs[1].session_id and PHONE not in recs[0].session_id
    assert recs[0].caller_key and recs[0].caller_key == recs[1].caller_key
    ticket = db.exec(select(Ticket).where(Ticket.number == recs[0].ticket_number)).one()
    assert ticket.channel == "sms" and ticket.contact_phone == PHONE


def test_a_message_twilio_delivers_twice_is_answered_once(sms_client: TestClient, db: Session) -> None:
    """Twilio sends a webhook again when our answer was lost: same MessageSid, same reply, one order."""
    message_sid = "SM" + uuid.uuid4().hex
    first = _message(_post(sms_client, "我家门口的盲道被占了", sid=message_sid))
    again = _message(_post(sms_client, "我家门口的盲道被占了", sid=message_sid))
    assert first and "工单号" in first and again == first  # not refused as a repeat, not a second order
    db.rollback()
    recs = db.exec(select(GrievanceRecord).where(GrievanceRecord.channel == "sms")).all()
    assert [(r.text, r.turn_id) for r in recs] == [("我家门口的盲道被占了", message_sid)]
    assert len(db.exec(select(Ticket).where(Ticket.channel == "sms")).all()) == 1
    # The same words in a new message (a new MessageSid) straight after are a repeat, refused as before.
    assert "重复" in (_message(_post(sms_client, "我家门口的盲道被占了")) or "")


def test_unknown_or_missing_sender(sms_client: TestClient, db: Session) -> None:
    other = "+8613911112222"
    reply = _message(_post(sms_client, "你好", sender=other))
    assert reply  # a number never seen before simply starts a session
    db.rollback()
    rec = db.exec(select(GrievanceRecord).where(GrievanceRecord.channel == "sms")).one()
    assert rec.session_id.startswith("sms-")
    assert _post(sms_client, "你好", sender="").status_code == 400
    assert _message(_post(sms_client, "  ")) .startswith("您好，这里是残联服务热线")  # fmt: skip


def test_segments_are_counted_in_utf16_units() -> None:
    assert sms.segment_count("你" * 70) == 1
    assert sms.segment_count("你" * 71) == 2
    assert sms.segment_count("你" * 201) == 3 and sms.segment_count("你" * 202) == 4
    assert sms.utf16_units("😢") == 2


def test_long_answers_are_shortened_with_an_offer_of_more() -> None:
    answer = "".join(f"第{i}句是关于残疾人补贴的说明，内容比较长。" for i in range(1, 30))
    now, rest = sms.fit(answer, 3)
    assert sms.segment_count(now) <= 3 and now.endswith(sms.TEXTS["more_suffix"])
    assert now.removesuffix(sms.TEXTS["more_suffix"]).endswith("。")  # cut at a sentence
    assert (now.removesuffix(sms.TEXTS["more_suffix"]) + rest) == answer  # nothing lost
    short, none = sms.fit("好的。", 3)
    assert short == "好的。" and none == ""


def test_more_keyword_sends_the_rest_from_any_instance(sms_client: TestClient, db: Session) -> None:
    """更多 reads the rest from the grievance log: a second app instance (another process, as behind the
    balancer) continues where the first stopped, and nothing is lost or sent twice."""
    from api.settings import get_settings
    from hotline.app import create_app

    long_reply = "".join(f"第{i}条：办理残疾人证需要先到社区登记，再去指定医院评定。" for i in range(1, 15))
    sid = sms.sms_session_id(PHONE, get_settings())
    # The assistant's long answer, as the gateway seals it.
    rec = grievance_log.append(db, channel="sms", session_id=sid, text="残疾人证怎么办")
    grievance_log.complete(db, record_id=rec.id, outcome="answered", replies=[{"text": long_reply}], intent="ask_card")
    first, _ = sms.fit(long_reply, get_settings().sms_max_segments)
    parts = [first.removesuffix(sms.TEXTS["more_suffix"])]
    with TestClient(create_app(), raise_server_exceptions=False) as other:
        for n in range(10):
            nxt = _message(_post(other if n % 2 == 0 else sms_client, "更多"))
            if nxt == sms.TEXTS["no_more"]:
                break
            assert nxt and sms.segment_count(nxt) <= 3
            parts.append(nxt.removesuffix(sms.TEXTS["more_suffix"]))
    assert "".join(parts) == long_reply
    assert len(parts) >= 3  # the rest took more than one 更多, served by both instances
    # After a keyword answered here (a status check), 更多 has nothing to continue.
    _post(sms_client, "进度 123")
    assert _message(_post(sms_client, "更多")) == sms.TEXTS["no_more"]


def test_stop_is_remembered_and_start_undoes_it(sms_client: TestClient, settings_env: Path, db: Session) -> None:
    reply = _message(_post(sms_client, "退订"))
    assert "已退订" in reply
    rows = db.exec(select(CallerPreference)).all()
    assert len(rows) == 1 and rows[0].unsubscribed and PHONE[3:] not in rows[0].caller_key  # pseudonymous key only
    assert not (settings_env / "sms_state.json").exists()  # one home: the database, in every process
    from api.settings import get_settings

    assert callers.is_unsubscribed(get_settings(), PHONE)
    silent = _post(sms_client, "我想问问补贴")
    assert silent.status_code == 200 and _message(silent) is None  # no SMS back after 退订
    db.rollback()
    assert db.exec(select(GrievanceRecord).where(GrievanceRecord.text == "我想问问补贴")).one()  # still logged
    assert "已退订" in _message(_post(sms_client, "STOP"))
    assert "已恢复" in _message(_post(sms_client, "订阅"))
    assert not callers.is_unsubscribed(get_settings(), PHONE)
    assert _message(_post(sms_client, "td")) and callers.is_unsubscribed(get_settings(), PHONE)


def test_status_keyword_looks_up_the_senders_work_order(sms_client: TestClient, db: Session) -> None:
    ticket = creation.create_ticket(
        db,
        data=TicketCreate(kind=TicketKind.complaint, description="盲道被占", channel="sms", contact_phone=PHONE),
    )
    reply = _message(_post(sms_client, f"进度 {ticket.number}"))
    assert vocabulary.format_work_order(ticket.number) in reply and "受理" in reply
    other = _message(_post(sms_client, f"进度{ticket.number}", sender="+8613700001111"))
    assert "没有查到" in other  # someone else's number does not reveal it
    assert "12位工单号" in _message(_post(sms_client, "进度"))
    db.rollback()
    assert db.exec(select(GrievanceRecord).where(GrievanceRecord.intent == "check_ticket_status")).first()


def test_human_keyword_goes_to_the_gateway_as_a_request_for_a_person(sms_client: TestClient, db: Session) -> None:
    reply = _message(_post(sms_client, "人工"))
    assert reply and re.search(r"\d{12}", reply)
    db.rollback()
    rec = db.exec(select(GrievanceRecord).where(GrievanceRecord.channel == "sms")).one()
    assert rec.text == "转人工" and rec.handoff is True


def test_bad_input_long_html_and_rapid_repeats(sms_client: TestClient, db: Session) -> None:
    too_long = _message(_post(sms_client, "长" * 2500))
    assert "太长了" in too_long and "2500" in too_long
    html = _post(sms_client, "<script>alert(1)</script>&")
    assert html.status_code == 200 and ET.fromstring(html.text) is not None  # noqa: S314 (still well-formed)
    assert _message(_post(sms_client, "我家的轮椅坏了")) is not None
    repeat = _message(_post(sms_client, "我家的轮椅坏了"))
    assert "已经发送过同样的内容" in repeat
