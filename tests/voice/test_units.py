"""Pure helpers, no network: codec, framing, protocol, normaliser, digits, pinyin, keys, hours."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest

from voice import codec, turn_end
from voice import twilio_protocol as tp
from voice.actions import CHINA_TZ, callback_promise, within_service_hours
from voice.asr import AsrResult
from voice.call import P, expected_number, offer_again, read_number, reprompt_for
from voice.keys import Expect, KeyAction, KeyCollector, number_problem
from voice.speech_text import (
    correct_transcript,
    normalize_for_speech,
    number_to_chinese,
    read_phone,
    read_ticket,
    split_sentences,
    spoken_digits,
)
from voice.turn_end import TurnEnd


def test_ulaw_round_trip_and_silence() -> None:
    pcm = b"".join(int(v).to_bytes(2, "little", signed=True) for v in range(-30000, 30000, 300))
    back = codec.ulaw_to_pcm16(codec.pcm16_to_ulaw(pcm))
    assert len(back) == len(pcm)
    worst = max(
        abs(
            int.from_bytes(pcm[i : i + 2], "little", signed=True)
            - int.from_bytes(back[i : i + 2], "little", signed=True)
        )
        for i in range(0, len(pcm), 2)
    )
    assert worst < 1100  # μ-law quantisation step at full scale
    assert codec.pcm16_to_ulaw(codec.silence_pcm(20)) == b"\xff" * 160


def test_twenty_ms_framing_pads_the_last_frame() -> None:
    frames = codec.pcm_to_frames(codec.silence_pcm(50))  # 2.5 frames
    assert [len(f) for f in frames] == [160, 160, 160]
    assert frames[-1][80:] == codec.ULAW_SILENCE * 80


def test_resample_and_wav() -> None:
    pcm = codec.silence_pcm(1000, 22050)
    assert codec.duration_ms(codec.resample(pcm, 22050, 8000)) in (999, 1000)
    back, rate = codec.read_wav(codec.wav_bytes(pcm, 22050))
    assert rate == 22050 and back == pcm


def test_serializer_messages() -> None:
    media = json.loads(tp.media_message("MZ1", b"\x01\x02"))
    assert media == {"event": "media", "streamSid": "MZ1", "media": {"payload": base64.b64encode(b"\x01\x02").decode()}}
    assert json.loads(tp.mark_message("MZ1", "u1-end")) == {
        "event": "mark",
        "streamSid": "MZ1",
        "mark": {"name": "u1-end"},
    }
    assert json.loads(tp.clear_message("MZ1")) == {"event": "clear", "streamSid": "MZ1"}


def test_parser_reads_twilio_events() -> None:
    start = tp.parse_message(tp.peer_start("MZ1", "CA1", custom={"caller": "+86138"}))
    assert isinstance(start, tp.Start) and start.call_sid == "CA1" and start.custom == {"caller": "+86138"}
    media = tp.parse_message(tp.peer_media("MZ1", b"\xff" * 160, 40))
    assert isinstance(media, tp.Media) and media.payload == b"\xff" * 160 and media.timestamp_ms == 40
    assert tp.parse_message(tp.peer_dtmf("MZ1", "#")) == tp.Dtmf("#")
    assert tp.parse_message(tp.peer_mark("MZ1", "x")) == tp.Mark("x")
    assert isinstance(tp.parse_message(tp.peer_stop("MZ1", "CA1")), tp.Stop)
    assert isinstance(tp.parse_message(tp.peer_connected()), tp.Connected)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "{",
        "[]",
        "null",
        '{"event":"media"}',
        '{"event":"media","media":{"payload":"%%"}}',
        '{"event":"dtmf","dtmf":{"digit":"12"}}',
        '{"event":"x"}',
        b"\x00",
    ],
)
def test_parser_refuses_malformed(raw: str | bytes) -> None:
    with pytest.raises(tp.ProtocolError):
        tp.parse_message(raw)


def test_parser_refuses_wrong_audio() -> None:
    with pytest.raises(tp.UnsupportedAudio):
        tp.parse_message(tp.peer_start("MZ1", "CA1", encoding="audio/l16", sample_rate=16000))


def test_normaliser_numbers_dates_percent_titles() -> None:
    assert normalize_for_speech("2026年11月23日") == "二零二六年十一月二十三日"
    assert normalize_for_speech("上调12.5%") == "上调百分之十二点五"
    assert normalize_for_speech("《残疾人保障法》第3条") == "残疾人保障法第三条"
    assert normalize_for_speech("每月2000元，需要2个工作日") == "每月两千元，需要两个工作日"
    assert normalize_for_speech("8:30-17:30") == "八点半到十七点半"
    assert normalize_for_speech("共10015人") == "共一万零一十五人"
    assert number_to_chinese(105) == "一百零五" and number_to_chinese(10) == "十"


def test_phone_and_work_order_numbers_digit_by_digit() -> None:
    assert read_phone("13812345678") == "幺三八，幺二三四，五六七八"
    assert read_phone("010-12345678") == "零幺零，幺二三四，五六七八"
    assert read_ticket("202611230007") == "二零二六，一一二三，零零零七"
    assert normalize_for_speech("工单号是202611230007") == "工单号是二零二六，一一二三，零零零七"
    assert normalize_for_speech("请拨打110") == "请拨打幺幺零"
    assert read_number("13812345678") == read_phone("13812345678")
    assert offer_again("工单号是202611230007。").count("202611230007") == 2
    assert spoken_digits("幺三八 一二三") == "138123"


def test_sentences_for_streaming() -> None:
    # fragments under four characters join the next sentence
    assert split_sentences("您好。这里是热线！请问有什么可以帮您？好。") == [
        "您好。这里是热线！",
        "请问有什么可以帮您？好。",
    ]
    long = "，".join(["这是一个很长的句子"] * 10) + "。"
    assert all(len(s) <= 61 for s in split_sentences(long))


def test_pinyin_domain_correction() -> None:
    assert correct_transcript("我想办残疾人正") == "我想办残疾人证"
    assert correct_transcript("护理不贴怎么领") == "护理补贴怎么领"
    assert correct_transcript("滴宝怎么申请") == "低保怎么申请"
    assert correct_transcript("今天天气正好") == "今天天气正好"
    assert correct_transcript("我想问问地包") == "我想问问地包"  # different tones, nothing shared: left alone


def test_key_collector() -> None:
    keys = KeyCollector()
    assert keys.press("0").kind == "handoff"
    assert keys.press("9").kind == "sms"
    assert keys.press("#").kind == "repeat"
    assert keys.press("*").kind == "slower"
    for d in "1381234567":
        assert keys.press(d).kind == "digit"
    keys.press("8")
    got = keys.press("#")
    assert (got.kind, got.value) == ("number", "13812345678")
    assert keys.press("*").kind == "reenter"
    keys.expect = Expect.phone
    assert keys.press("0").kind == "digit"  # 0 is a digit while a number is asked for
    assert keys.press("*").kind == "cleared"
    for d in "010":
        keys.press(d)
    keys.press("#")
    assert keys.press("#").value == "010"


def test_expected_number_from_reply() -> None:
    assert expected_number("请告诉我您的手机号码。") is Expect.phone
    assert expected_number("请说出您的工单号。") is Expect.ticket
    assert expected_number("您的工单号是202611230007。") is Expect.nothing


def test_a_question_that_lists_keys_is_answered_by_one_key() -> None:
    """The assistant's contact question (按1电话，按2短信): the key goes to the assistant at once,
    not into a number waiting for #; 0 and 9 keep their meaning."""
    asked = expected_number("工作人员怎么联系您？打电话请按1，发短信请按2，不需要联系请按3。")
    assert asked is Expect.choice
    keys = KeyCollector(expect=asked)
    assert (keys.press("2").kind, keys.press("2").value) == ("choice", "2")
    assert keys.buffer == "" and keys.press("0").kind == "handoff" and keys.press("9").kind == "sms"
    assert expected_number("要找工作人员，请说转人工，或者按0。") is Expect.nothing


def test_silence_reprompt_fits_the_line_and_the_awaited_number() -> None:
    assert reprompt_for(Expect.nothing, listening=True) == P["reprompt"]
    keypad = reprompt_for(Expect.nothing, listening=False)
    assert "说出" not in keypad and "按0" in keypad
    phone_by_keys = reprompt_for(Expect.phone, listening=False)
    assert "用电话按键输入您的手机号码" in phone_by_keys and "说出" not in phone_by_keys
    assert "说出或者用电话按键输入工单号" in reprompt_for(Expect.ticket, listening=True)
    assert reprompt_for(Expect.consent, listening=False) == keypad
    callback = reprompt_for(Expect.phone, listening=False, callback=True)
    assert "用电话按键输入您的手机号码" in callback and "回电" in callback and "按0" not in callback
    assert reprompt_for(Expect.ticket, listening=False, callback=True) == reprompt_for(Expect.ticket, listening=False)


def test_service_hours_and_callback_promise() -> None:
    monday_10 = datetime(2026, 11, 23, 10, 0, tzinfo=CHINA_TZ)
    friday_20 = datetime(2026, 11, 27, 20, 0, tzinfo=CHINA_TZ)
    assert within_service_hours(monday_10, "08:30-17:30")
    assert not within_service_hours(friday_20, "08:30-17:30")
    assert callback_promise(monday_10, "08:30-17:30") == "两个小时内"
    assert callback_promise(friday_20, "08:30-17:30") == "11月30日星期一上午十二点前"


def test_key_collector_consent_question() -> None:
    keys = KeyCollector(expect=Expect.consent)
    assert [keys.press(k).kind for k in "12"] == ["yes", "no"]
    assert keys.press("5").kind == "other" and not keys.buffer  # no number started by a stray key
    assert [keys.press(k).kind for k in "0*#9"] == ["handoff", "slower", "repeat", "sms"]
    assert KeyCollector().press("1").kind == "digit"  # outside a question, 1 is just a digit


def test_last_four_digits_are_digits_never_commands() -> None:
    """Asked for the last four phone digits, 0 and 9 are digits (not a person, not an SMS)."""
    asked = ["请提供登记电话的后四位数字。", "没有查到这个工单。请再说一遍电话后四位，我马上再查。也可以按0转人工。"]
    assert all(expected_number(reply) is Expect.last4 for reply in asked)
    keys = KeyCollector(expect=Expect.last4)
    assert [keys.press(k).kind for k in "0905"] == ["digit"] * 4
    assert keys.press("#") == KeyAction("number", "0905")
    assert "后四位" in reprompt_for(Expect.last4, listening=False)


@pytest.mark.parametrize(
    ("expect", "number", "ok"),
    [
        (Expect.phone, "13912345678", True),
        (Expect.phone, "02212345678", True),  # a landline with its area code
        (Expect.phone, "987", False),
        (Expect.phone, "1391234567", False),
        (Expect.ticket, "202612040017", True),
        (Expect.ticket, "20261204001", False),
        (Expect.last4, "5520", True),
        (Expect.last4, "552", False),
        (Expect.nothing, "987", True),  # nothing asked: the assistant decides what it is
    ],
)
def test_keyed_numbers_are_checked_for_what_was_asked(expect: Expect, number: str, ok: bool) -> None:
    problem = number_problem(expect, number)
    assert (problem == "") is ok
    if not ok:
        assert f"{len(number)}位" in problem


def _quiet_until_turn_end(turn: TurnEnd, *, slow: bool = False) -> int:
    waited = 0
    while not turn.frame(False, 20, slow=slow):
        waited += 20
        assert waited < 5000
    return waited + 20


def test_the_turn_ends_after_a_short_quiet_adapted_to_the_caller() -> None:
    turn = TurnEnd()
    assert not any(turn.frame(True, 20) for _ in range(30))  # 600 ms of speech
    assert turn_end.BASE_MS <= _quiet_until_turn_end(turn) < turn_end.BASE_MS + 20
    turn.frame(True, 20)
    assert not any(turn.frame(True, 20) for _ in range(30))
    slow = _quiet_until_turn_end(turn, slow=True)  # a caller who asked for slow speech
    assert turn_end.SLOW_MS <= slow < turn_end.SLOW_MS + 20


def test_a_caller_who_pauses_mid_sentence_gets_a_longer_wait() -> None:
    turn = TurnEnd()
    for _ in range(4):  # speech, a 400 ms pause, speech again: the pause is the caller's own rhythm
        for _ in range(20):
            turn.frame(True, 20)
        for _ in range(20):
            assert not turn.frame(False, 20)
    assert turn.wait_ms() == int(400 * 1.3) > turn_end.BASE_MS
    hesitant = TurnEnd(pauses=[2000] * 5)
    assert hesitant.wait_ms() == turn_end.MAX_MS  # never longer than the ceiling


def test_a_click_or_a_cough_is_no_turn() -> None:
    turn = TurnEnd()
    for _ in range(5):  # 100 ms
        turn.frame(True, 20)
    assert not any(turn.frame(False, 20) for _ in range(100))


def test_number_requests_are_worded_for_keys_on_a_line_that_cannot_hear() -> None:
    from voice.call import for_keypad

    asked = for_keypad("请说出登记电话的后四位。也可以按键输入，按井号键结束。")
    assert asked == "请用电话按键输入登记电话的后四位。输完请按井号键。"
    assert for_keypad("请告诉我您的工单号。") == "请用电话按键输入您的工单号。"
    assert for_keypad("工单的状态是：已受理。") == "工单的状态是：已受理。"


def test_the_turn_settles_once_shortly_before_it_ends() -> None:
    """The final result is prepared in the quiet before the end of the turn, once per quiet stretch."""
    te = TurnEnd()
    events = []
    for voiced in [True] * 20 + [False] * 30:
        if te.frame(voiced, 20):
            events.append("end")
        elif te.settling():
            events.append("settling")
    assert events == ["settling", "end"]
    te = TurnEnd()
    pattern = [True] * 20 + [False] * 13 + [True] * 10 + [False] * 30  # a pause of 260 ms, then more speech
    marks = [(i, "end" if te.frame(v, 20) else "settling" if te.settling() else "") for i, v in enumerate(pattern)]
    assert [m for _, m in marks if m] == ["settling", "settling", "end"]


def test_a_turn_decoded_in_two_parts_is_one_result() -> None:
    from voice.call import _joined

    first = AsrResult("我想问一下", 0.8, True)
    assert _joined(first, AsrResult("残疾人证", 0.6, True)) == AsrResult("我想问一下残疾人证", 0.7, True)
    assert _joined(None, first) == first and _joined(first, None) == first
    assert _joined(first, AsrResult("", None, True)) == first
