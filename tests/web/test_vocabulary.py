"""One formatter for work-order numbers and one vocabulary for statuses, ratings and contact preferences
(issue 20, smaller defects): every page, SMS and the phone line say the same thing the same way.
Also the complaint form's phone check and contact preference."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from accessibility import sms, workorders
from api import vocabulary
from api.models.ticket import ContactPreference, Ticket, TicketCreate, TicketKind, TicketStatus
from api.services import follow_up, reports
from api.workorders import creation
from voice import follow_up_call
from voice.speech_text import read_ticket


def test_work_order_numbers_are_grouped_for_reading_and_plain_for_keys() -> None:
    assert vocabulary.format_work_order("202612040001") == "2026 1204 0001"
    assert vocabulary.format_work_order("12345") == "12345"  # not a work-order number: left alone
    assert vocabulary.format_work_order(None) == ""
    for typed in (
        "2026 1204 0001",
        "2026-1204-0001",
        " 202612040001 ",
        "2026\u30001204\u30000001",
        "２０２６１２０４０００１",
    ):
        assert vocabulary.parse_work_order(typed) == "202612040001", typed
    for bad in ("", "2026 1204 001", "2026a12040001", "2026120400011"):
        assert vocabulary.parse_work_order(bad) is None, bad
    assert workorders.group_digits("202612040001") == "2026 1204 0001"
    # The phone line still speaks digit by digit, in the same groups the pages show.
    assert read_ticket("202612040001") == "二零二六，一二零四，零零零一"


def test_one_label_per_status_rating_and_contact_preference() -> None:
    assert set(vocabulary.STATUS_EXPLAINED) == set(TicketStatus)
    assert vocabulary.status_label(TicketStatus.resolved) == vocabulary.status_label("resolved") == "办结"
    assert vocabulary.status_label("no-such") == "no-such"
    # Every place that names a 1-5 score uses the same words.
    assert follow_up.SCORE_LABELS == vocabulary.SCORE_LABELS
    assert reports.SCORE_LABELS == vocabulary.SCORE_LABELS
    spoken = follow_up_call.PROMPTS["ask"]
    for score, label in vocabulary.SCORE_LABELS.items():
        assert f"{'零一二三四五'[score]}分{label}" in spoken, label
    assert vocabulary.contact_preference_label("sms") == "短信"
    assert vocabulary.contact_preference_label(ContactPreference.unknown) == "未说明"
    assert vocabulary.contact_preference_label("bogus") == "未说明"


def _csrf(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrf-token" content="([0-9a-f]+)"', client.get(path).text)
    assert found
    return found.group(1)


def _complaint(client: TestClient, token: str, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "csrf": token,
        "kind": "求助",
        "category": "无障碍",
        "description": "单元门口的坡道被堵住了，轮椅出不去。",
        "contact_phone": "13800138000",
        **fields,
    }
    return client.post("/complaint", data=data, follow_redirects=False)


@pytest.mark.parametrize(
    ("phone", "stored"),
    [
        ("13912345678", "13912345678"),
        ("139 1234 5678", "13912345678"),
        ("+86 139-1234-5678", "13912345678"),
        ("010-12345678", "01012345678"),
        ("(0571) 8765 4321", "057187654321"),
        ("0931-8123456", "09318123456"),
    ],
)
def test_complaint_form_accepts_mobiles_and_area_coded_landlines(
    client: TestClient, db: Session, phone: str, stored: str
) -> None:
    resp = _complaint(client, _csrf(client, "/complaint"), contact_phone=phone, description=f"坡道被堵住了 {phone}")
    assert resp.status_code == 303, resp.text
    number = re.search(r"number=(\d{12})", resp.headers["location"]).group(1)  # type: ignore[union-attr]
    db.rollback()
    assert db.exec(select(Ticket).where(Ticket.number == number)).one().contact_phone == stored


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("8765432", "座机号码请加上区号"),
        ("87654321", "座机号码请加上区号"),
        ("12345678901", "电话号码格式不对"),
        ("010123", "电话号码格式不对"),
        ("1381234567", "电话号码格式不对"),
    ],
)
def test_complaint_form_refuses_short_or_malformed_numbers(client: TestClient, phone: str, message: str) -> None:
    resp = _complaint(client, _csrf(client, "/complaint"), contact_phone=phone)
    assert resp.status_code == 422
    assert message in resp.text
    assert re.search(r'<input id="contact_phone"[^>]*aria-invalid="true"', resp.text)


def test_complaint_form_asks_and_stores_the_contact_preference(client: TestClient, db: Session) -> None:
    page = client.get("/complaint").text
    for value, label in (("call", "电话"), ("sms", "短信"), ("none", "不需要联系")):
        assert re.search(rf'<input type="radio" id="contact_preference-{value}" name="contact_preference"', page)
        assert f'<label for="contact_preference-{value}">{label}' in page
    token = _csrf(client, "/complaint")
    resp = _complaint(client, token, contact_preference="sms", description="我听不见，请发短信联系我。")
    assert resp.status_code == 303
    number = re.search(r"number=(\d{12})", resp.headers["location"]).group(1)  # type: ignore[union-attr]
    db.rollback()
    assert db.exec(select(Ticket).where(Ticket.number == number)).one().contact_preference is ContactPreference.sms
    # No choice: stored as not said. A landline cannot receive SMS; a made-up value is refused.
    landline = _complaint(client, token, contact_preference="sms", contact_phone="010-12345678")
    assert landline.status_code == 422 and "座机收不到短信" in landline.text
    assert 'href="#contact_preference-call"' in landline.text
    bogus = _complaint(client, token, contact_preference="fax", description="另一件事情需要帮忙")
    assert bogus.status_code == 422 and "请从电话、短信、不需要联系中选一项" in bogus.text


def test_every_page_uses_the_same_status_label_and_number_format(client: TestClient, db: Session) -> None:
    """The citizen's status page and the SMS reply use the vocabulary's words and the grouped number."""
    ticket = creation.create_ticket(
        db,
        data=TicketCreate(
            kind=TicketKind.complaint, description="盲道被占", channel="web", contact_phone="13800138000"
        ),
    )
    number, grouped = ticket.number, vocabulary.format_work_order(ticket.number)
    label = vocabulary.STATUS_LABELS[TicketStatus.received]
    token = _csrf(client, "/status")
    page = client.post("/status", data={"csrf": token, "number": grouped, "phone_last4": "8000"}).text
    assert f"工单 {grouped} 的进度" in page and f"<strong>{label}</strong>" in page
    assert vocabulary.STATUS_EXPLAINED[TicketStatus.received] in page
    reply, found = sms._status_reply(db, grouped, "+8613800138000")
    assert found == number and f"工单{grouped}：{label}。" in reply
    missing, _ = sms._status_reply(db, number, "+8613900000000")
    assert grouped in missing
