"""Masking of phone numbers and 身份证号 (pure helpers)."""

from __future__ import annotations

from api.services.masking import mask_name, mask_phone, mask_replies, mask_text


def test_mask_text_hides_phones_and_id_numbers_but_not_ticket_numbers() -> None:
    text = "电话13800138000，身份证11010519491231002X，工单202611240007，座机010-12345678，手机 138 0013 8000"
    masked = mask_text(text)
    assert masked == ("电话138****8000，身份证110***********002X，工单202611240007，座机010-****5678，手机 138****8000")
    assert mask_text("+86 13912345678") == "+86 139****5678"
    assert mask_text("没有号码") == "没有号码" and mask_text(None) is None and mask_text("") == ""


def test_contact_fields() -> None:
    assert mask_phone("13800138000") == "138****8000"
    assert mask_phone("01012345678") == "010-****5678"
    assert mask_phone("110") == "***" and mask_phone(None) is None
    assert mask_name("王小明") == "王**" and mask_name("李") == "李*"


def test_replies() -> None:
    assert mask_replies([{"text": "请拨13800138000", "buttons": []}]) == [{"text": "请拨138****8000", "buttons": []}]
