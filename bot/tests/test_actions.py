"""Unit tests of the custom actions and their helpers.

Nothing here mocks the app. Tests that need the app run only when
HOTLINE_TEST_APP_URL (and HOTLINE_TEST_SERVICE_TOKEN) point at a running one; the
"app unreachable" behaviour is tested against a closed local port.

    RASA_TELEMETRY_ENABLED=false .venv-bot/bin/python -m pytest bot/tests -q
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import time
from typing import Any, cast

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import app_client
from actions.conversation import ActionRepeat, ActionSessionStart
from actions.escalation import (
    ActionEmergency,
    ActionFallback,
    ActionHandoff,
    emergency_lines,
    misunderstood_in_a_row,
)
from actions.helpers import (
    contact_preference_in,
    guess_category,
    is_affirm,
    is_deny,
    match_category,
    split_location,
    spoken_digits,
    validate_last4,
    validate_phone,
    validate_ticket_number,
    voice_sentences,
)
from actions.intake_form import (
    ActionAskIntakeConfirmed,
    ActionAskIntakeContact,
    ActionAskIntakePhone,
    ValidateIntakeForm,
)
from actions.intake_submit import ActionSubmitIntake, ActionTriageIntake
from actions.knowledge import ActionAskPolicy
from actions.status import ActionCheckStatus
from hotline_nlu.components import IntentOverrides
from hotline_nlu.normalize import normalize

# What Rasa sends, session_config included (the SDK's DomainDict does not list it).
DOMAIN = cast(
    DomainDict,
    {
        "session_config": {"carry_over_slots_to_new_session": True},
        "forms": {},
        "slots": {},
        "responses": {},
    },
)


def closed_port_url() -> str:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def make_tracker(
    text: str = "",
    intent: str = "inform",
    slots: dict[str, Any] | None = None,
    events: list[dict[str, Any]] | None = None,
    channel: str = "web",
    metadata: dict[str, Any] | None = None,
    active_loop: str | None = None,
) -> Tracker:
    meta = {"channel": channel, "log_id": 1, **(metadata or {})}
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": [], "metadata": meta}
    evs = list(events or [])
    evs.append({"event": "user", "text": text, "parse_data": latest, "input_channel": channel, "metadata": meta})
    return Tracker(
        "test-session",
        {"handoff": False, "reply_style": "voice" if channel == "voice" else "text", **(slots or {})},
        latest,
        evs,
        False,
        None,
        {"name": active_loop} if active_loop else {},
        "action_listen",
    )


def run(action: Any, tracker: Tracker) -> tuple[CollectingDispatcher, list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, DOMAIN))
    return dispatcher, events


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["text"] for m in dispatcher.messages if m.get("text")]


def customs(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    return [m["custom"] for m in dispatcher.messages if m.get("custom")]


# --- normalisation ---------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("殘疾人證怎麼辦理", "残疾人证怎么办理"),
        ("妳好，請問妳們幾點下班", "你好,请问你们几点下班"),
        ("我 要 投 诉 社 区", "我要投诉社区"),
        ("ＡＢＣ１２３", "ABC123"),
        ("我的电话是幺三八 一二三四 五六七八", "我的电话是13812345678"),
        ("零二一 六二三四五六七八", "02162345678"),
        ("那个…我想问一下", "我想问一下"),
        ("呃 那个 我想问一下补贴", "我想问一下补贴"),
        ("惨疾人正怎么办", "残疾人证怎么办"),
        ("转人宫", "转人工"),
        ("我想问一下三月份的补贴", "我想问一下三月份的补贴"),
        ("hello world", "hello world"),
        ("嗯，好的", "好的"),
        ("嗯哪", "嗯哪"),
        ("嗯呢", "嗯呢"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


@pytest.mark.parametrize(
    "text, affirm, deny",
    [
        ("没问题", True, False),
        ("没错", True, False),
        ("没有", False, True),
        ("不对", False, True),
        ("好的", True, False),
    ],
)
def test_yes_and_no_words_at_a_read_back(text: str, affirm: bool, deny: bool) -> None:
    """没问题 and 没错 start like a no but agree: at the read-back they must submit, not reopen."""
    tracker = make_tracker(text, intent="inform")
    assert (is_affirm(tracker), is_deny(tracker)) == (affirm, deny)


def test_action_answers_are_validated_with_rasas_schema() -> None:
    """`hotline_nlu.runtime` swaps Rasa's check of action server answers for a cached
    validator: it must accept and refuse exactly what Rasa's schema does."""
    import jsonschema
    from rasa.core.actions.action import RemoteAction

    from hotline_nlu import runtime

    schema = RemoteAction.action_response_format_spec()
    good = {"events": [{"event": "slot", "name": "handoff", "value": True}], "responses": [{"text": "好的"}]}
    bad = {"events": [{"event": "no_such_event"}], "responses": []}
    jsonschema.validate(good, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
    assert runtime._validate_action_result(RemoteAction.__new__(RemoteAction), good) is True
    with pytest.raises(jsonschema.ValidationError, match="Failed to validate Action server response"):
        runtime._validate_action_result(RemoteAction.__new__(RemoteAction), bad)


@pytest.mark.parametrize(
    "text, intent",
    [
        ("我不想活了", "emergency"),
        ("0", "request_human"),
        ("按0", "request_human"),
        ("我按0了", "request_human"),
        ("按零", "request_human"),
        ("我已经按了0键", "request_human"),
        ("按0是不是转人工", None),
        ("10", None),
        ("13812345678", "inform"),
        ("hnfk", "out_of_scope"),
        ("。。。", "out_of_scope"),
        ("~~~", "out_of_scope"),
        ("ok", None),
        ("thank you", None),
        ("goodbye", None),
        ("嗡嗡嗡", "out_of_scope"),
        ("噼里啪啦！", "out_of_scope"),
        ("哈哈哈", "out_of_scope"),
        ("嗯嗯", None),
        ("哦哦", None),
        ("哈哈好的", None),
        ("Yes", None),
        ("/affirm", None),
        ("好的", None),
        ("打电话", "inform"),
        ("发短信联系我", "inform"),
        ("在网上回复我", "inform"),
        ("不需要联系", "inform"),
        ("短信吧", "inform"),
        ("打电话是几点到几点", None),
    ],
)
def test_intent_overrides(text: str, intent: str | None) -> None:
    """Typed noise must never reach the classifier, whose guess for it was affirm."""
    assert IntentOverrides.forced_intent(normalize(text)) == intent


def test_a_text_naming_our_services_is_never_out_of_scope() -> None:
    ranking = [
        {"name": "out_of_scope", "confidence": 0.52},
        {"name": "ask_policy", "confidence": 0.31},
        {"name": "faq", "confidence": 0.1},
    ]
    reordered = IntentOverrides.in_scope_ranking("残疾证过期了怎么办", ranking)
    assert reordered is not None
    assert [r["name"] for r in reordered] == ["ask_policy", "faq", "out_of_scope"]
    assert reordered[0]["confidence"] == 0.31  # an unsure guess still reaches the fallback
    assert IntentOverrides.in_scope_ranking("身份证过期了怎么办", ranking) is None
    assert IntentOverrides.in_scope_ranking("残疾证怎么办", [{"name": "ask_policy", "confidence": 0.9}]) is None
    assert IntentOverrides.in_scope_ranking("轮椅", [{"name": "out_of_scope", "confidence": 1.0}]) is None


# --- value validation ------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("幺三八一二三四五六七八", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        ("13812345678#", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("010-62345678", "01062345678"),
        ("0755 2345 6789", "075523456789"),
        ("我的电话是15800001111", "15800001111"),
        ("12345678", None),
        ("1381234567", None),
        ("23812345678", None),
        ("62345678", None),
        ("不知道", None),
    ],
)
def test_validate_phone(raw: str, expected: str | None) -> None:
    assert validate_phone(raw) == expected


def test_ticket_number_and_last4() -> None:
    assert validate_ticket_number("202611230007") == "202611230007"
    assert validate_ticket_number("二零二六一一二三零零零七#") == "202611230007"
    assert validate_ticket_number("2026112300") is None
    assert validate_last4("后四位是一二三四") == "1234"
    assert validate_last4("5678#") == "5678"
    assert validate_last4("13812345678") == "5678"
    assert validate_last4("12") is None


def test_categories() -> None:
    assert guess_category("我的两项补贴三个月没发了") == "补贴"
    assert guess_category("盲道被电动车占了") == "无障碍"
    assert guess_category("窗口工作人员态度很差还骂人") == "服务态度"
    assert guess_category("你好") is None
    assert match_category("是补贴方面的") == "补贴"
    assert match_category("辅具") == "辅助器具"


def test_split_location() -> None:
    assert split_location("朝阳区八里庄街道红庙社区") == {
        "district": "朝阳区",
        "street": "八里庄街道",
        "community": "红庙社区",
    }
    assert split_location("在城关镇幸福村")["community"] == "幸福村"


def test_voice_helpers() -> None:
    assert spoken_digits("202611230007") == "二零二六，一一二三，零零零七"
    long_text = "残疾人两项补贴包括困难残疾人生活补贴和重度残疾人护理补贴，申请人需要持有第二代残疾人证，并且符合当地规定的家庭经济困难条件，由本人或者代理人向户籍所在地的街道或乡镇提出申请。"
    sentences = voice_sentences(long_text)
    assert len(sentences) > 2
    assert all(len(s) <= 41 for s in sentences)


# --- intake form -----------------------------------------------------------------


def validate(slot: str, value: Any, tracker: Tracker) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    result = getattr(ValidateIntakeForm(), f"validate_{slot}")(value, dispatcher, tracker, DOMAIN)
    return dispatcher, result


def test_phone_valid_and_invalid() -> None:
    _, ok = validate("intake_phone", "幺三九 一二三四 五六七八", make_tracker("幺三九 一二三四 五六七八"))
    assert ok == {"intake_phone": "13912345678"}
    dispatcher, bad = validate("intake_phone", "123", make_tracker("123"))
    assert bad == {"intake_phone": None}
    assert "号码" in texts(dispatcher)[0]


def test_voice_caller_id_proposed_and_accepted() -> None:
    tracker = make_tracker("", channel="voice", metadata={"caller_phone": "+8613812345678"})
    dispatcher, events = run(ActionAskIntakePhone(), tracker)
    assert "一三八，一二三四，五六七八" in texts(dispatcher)[0]
    assert SlotSet("caller_phone", "13812345678") in events
    accepted = make_tracker("对", intent="affirm", channel="voice", slots={"caller_phone": "13812345678"})
    _, result = validate("intake_phone", "对", accepted)
    assert result == {"intake_phone": "13812345678"}
    declined = make_tracker("不是", intent="deny", channel="voice", slots={"caller_phone": "13812345678"})
    _, result = validate("intake_phone", "不是", declined)
    assert result == {"intake_phone": None, "caller_phone_declined": True}


def test_text_channel_does_not_propose_caller_id() -> None:
    tracker = make_tracker("", channel="web", metadata={"caller_phone": "13812345678"})
    dispatcher, events = run(ActionAskIntakePhone(), tracker)
    assert "1381234" not in texts(dispatcher)[0]
    assert events == []


def test_anonymous_name() -> None:
    _, result = validate("intake_name", "我不想留名字", make_tracker("我不想留名字"))
    assert result == {"intake_name": "匿名", "intake_confidential": True}
    _, result = validate("intake_name", "不用了", make_tracker("不用了", intent="deny"))
    assert result["intake_name"] == "匿名"
    _, result = validate("intake_name", "我叫王建国", make_tracker("我叫王建国"))
    assert result == {"intake_name": "王建国"}


def test_confidentiality() -> None:
    assert validate("intake_confidential", "不用保密", make_tracker("不用保密"))[1] == {"intake_confidential": False}
    assert validate("intake_confidential", "需要保密", make_tracker("需要保密"))[1] == {"intake_confidential": True}
    assert validate("intake_confidential", "是的", make_tracker("是的", intent="affirm"))[1] == {
        "intake_confidential": True
    }


def test_category_guess_confirmed_or_rejected() -> None:
    slots = {"intake_category_guess": "补贴"}
    assert validate("intake_category", "对", make_tracker("对", intent="affirm", slots=slots))[1] == {
        "intake_category": "补贴"
    }
    assert validate("intake_category", "不对", make_tracker("不对", intent="deny", slots=slots))[1] == {
        "intake_category": None,
        "intake_category_guess": "",
    }
    assert validate("intake_category", "康复", make_tracker("康复", slots={}))[1] == {"intake_category": "康复"}


FILLED = {
    "ticket_kind": "投诉",
    "intake_description": "社区不给办残疾证",
    "intake_category": "残疾人证",
    "intake_location": "朝阳区八里庄街道红庙社区",
    "intake_time": "上个月",
    "intake_wish": "尽快办理",
    "intake_phone": "13812345678",
    "intake_name": "王建国",
    "intake_confidential": True,
}


def test_read_back_summary_text_and_voice() -> None:
    dispatcher, _ = run(ActionAskIntakeConfirmed(), make_tracker("", slots=FILLED))
    message = dispatcher.messages[0]
    assert "13812345678" in message["text"] and "朝阳区八里庄街道红庙社区" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == ["/affirm", "/deny"]
    dispatcher, _ = run(ActionAskIntakeConfirmed(), make_tracker("", slots=FILLED, channel="voice"))
    message = dispatcher.messages[0]
    assert not message.get("buttons")
    assert "一三八，一二三四，五六七八" in message["text"]


def test_confirmation_and_single_field_correction() -> None:
    assert validate("intake_confirmed", "对", make_tracker("对", intent="affirm", slots=FILLED))[1] == {
        "intake_confirmed": True
    }
    _, result = validate("intake_confirmed", "需要修改", make_tracker("需要修改", intent="deny", slots=FILLED))
    assert result == {"intake_confirmed": None, "intake_fixing": True, "intake_fix_field": None}
    _, result = validate("intake_fix_field", "电话", make_tracker("电话", slots={**FILLED, "intake_fixing": True}))
    assert result["intake_phone"] is None and result["intake_fixing"] is False
    # named with the new value in one sentence
    _, result = validate(
        "intake_confirmed",
        "电话不对，改成13912345678",
        make_tracker("电话不对，改成13912345678", intent="deny", slots=FILLED),
    )
    assert result["intake_phone"] == "13912345678" and result["intake_confirmed"] is None


def test_required_slots_include_fix_field_only_while_fixing() -> None:
    form = ValidateIntakeForm()
    domain_slots = [
        "intake_description",
        "intake_category",
        "intake_location",
        "intake_time",
        "intake_wish",
        "intake_phone",
        "intake_name",
        "intake_confidential",
        "intake_confirmed",
        "intake_fix_field",
    ]
    plain = asyncio.run(form.required_slots(domain_slots, CollectingDispatcher(), make_tracker(), DOMAIN))
    assert "intake_fix_field" not in plain and plain[-1] == "intake_confirmed"
    fixing = asyncio.run(
        form.required_slots(domain_slots, CollectingDispatcher(), make_tracker(slots={"intake_fixing": True}), DOMAIN)
    )
    assert fixing[-2:] == ["intake_fix_field", "intake_confirmed"]


def test_triage_prefills_description_and_guess() -> None:
    _dispatcher, events = run(
        ActionTriageIntake(), make_tracker("我要投诉，社区一直拖着不给我办残疾证", intent="complain")
    )
    assert SlotSet("ticket_kind", "投诉") in events
    assert SlotSet("intake_description", "我要投诉，社区一直拖着不给我办残疾证") in events
    assert SlotSet("intake_category_guess", "残疾人证") in events
    _, events = run(ActionTriageIntake(), make_tracker("我要投诉", intent="complain"))
    assert not any(e.get("name") == "intake_description" and e.get("value") for e in events)
    _, events = run(ActionTriageIntake(), make_tracker("我需要帮助", intent="request_help"))
    assert SlotSet("ticket_kind", "求助") in events


def test_angry_repeated_complaint_goes_to_a_person() -> None:
    dispatcher, events = run(ActionTriageIntake(), make_tracker("我都反映好几次了！到底管不管！", intent="complain"))
    assert {"handoff": True, "reason": "repeated_complaint"} in customs(dispatcher)
    assert SlotSet("handoff", True) in events and ActiveLoop(None) in events


# --- the citizen's words kept: the place as read back, how to be contacted --------------------

CALL_PROMISE = re.compile(r"回电|打电话和您联系|给您打电话|打电话联系您|电话联系您|来电")


@pytest.mark.parametrize(
    "text, where, channel, expected",
    [
        ("13912345678，我听不见，请发短信联系我", "phone", "web", "sms"),
        ("13912345678 短信", "phone", "sms", "sms"),
        ("我的电话是13912345678", "phone", "web", None),  # 电话 beside the number is not a wish for calls
        ("我是聋人，社区不给我办证", "anywhere", "web", "sms"),
        ("别打电话，我接不了", "anywhere", "voice", "sms"),
        ("不用联系我，记下来就行", "anywhere", "web", "none"),
        ("不需要回复", "question", "sms", "none"),
        ("请在网上回复我", "anywhere", "web", "chat"),
        ("请在网上回复我", "anywhere", "sms", None),  # the chat is offered only in the web chat
        ("他在电话里骂我", "anywhere", "web", None),
        ("收到一条短信说补贴停了", "anywhere", "web", None),
        ("打电话", "question", "web", "call"),
        ("回电", "question", "sms", "call"),
        ("发短信", "question", "web", "sms"),
        ("2", "question", "voice", "sms"),
        ("1#", "question", "voice", "call"),
        ("3", "question", "voice", "none"),
        ("网上对话", "question", "web", "chat"),
        ("随便", "question", "web", None),
    ],
)
def test_contact_preference_words(text: str, where: str, channel: str, expected: str | None) -> None:
    assert contact_preference_in(text, channel=channel, where=where) == expected


def test_phone_answer_keeps_the_number_and_the_wish_for_sms() -> None:
    said = "13912345678，我听不见，请发短信联系我"
    _, result = validate("intake_phone", said, make_tracker(said))
    assert result == {"intake_phone": "13912345678", "intake_contact": "sms"}
    # a Chinese 一 in the words around the number is not taken as a digit
    said = "13912345678，一定要发短信"
    _, result = validate("intake_phone", said, make_tracker(said))
    assert result == {"intake_phone": "13912345678", "intake_contact": "sms"}
    _, result = validate("intake_phone", "13912345678", make_tracker("13912345678"))
    assert result == {"intake_phone": "13912345678"}


def test_contact_question_on_each_channel() -> None:
    dispatcher, _ = run(ActionAskIntakeContact(), make_tracker("", channel="voice"))
    spoken = texts(dispatcher)[0]
    assert "按1" in spoken and "按2" in spoken and "短信" in spoken and not dispatcher.messages[0].get("buttons")
    dispatcher, _ = run(ActionAskIntakeContact(), make_tracker("", channel="web"))
    titles = [b["title"] for b in dispatcher.messages[0]["buttons"]]
    assert titles == ["电话", "短信", "网上对话", "不需要联系"]
    for button in dispatcher.messages[0]["buttons"]:  # each button's words are understood as its title
        wanted = {"电话": "call", "短信": "sms", "网上对话": "chat", "不需要联系": "none"}[button["title"]]
        assert contact_preference_in(button["payload"], channel="web", where="question") == wanted
    dispatcher, _ = run(ActionAskIntakeContact(), make_tracker("", channel="sms"))
    assert "网上" not in texts(dispatcher)[0] and not dispatcher.messages[0].get("buttons")


def test_contact_answer_is_validated() -> None:
    form = ValidateIntakeForm()

    def answer(text: str, channel: str = "web") -> tuple[CollectingDispatcher, dict[str, Any]]:
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(text, channel=channel, slots={"requested_slot": "intake_contact"})
        return dispatcher, asyncio.run(form.validate_intake_contact(text, dispatcher, tracker, DOMAIN))

    assert answer("2", "voice")[1] == {"intake_contact": "sms"}
    assert answer("发短信联系我")[1] == {"intake_contact": "sms"}
    assert answer("不需要联系")[1] == {"intake_contact": "none"}
    assert answer("sms")[1] == {"intake_contact": "sms"}  # already read from the phone answer
    dispatcher, result = answer("随便吧")
    assert result == {"intake_contact": None} and "短信" in texts(dispatcher)[0]


def test_contact_preference_said_anywhere_in_the_intake_is_kept() -> None:
    form = ValidateIntakeForm()
    said = "我是聋人，街道办不给我办残疾证"
    tracker = make_tracker(said, slots={"requested_slot": "intake_description"})
    assert asyncio.run(form.extract_intake_contact(CollectingDispatcher(), tracker, DOMAIN)) == {
        "intake_contact": "sms"
    }
    plain = make_tracker("盲道被占了", slots={"requested_slot": "intake_description"})
    assert asyncio.run(form.extract_intake_contact(CollectingDispatcher(), plain, DOMAIN)) == {}
    # the first sentence of a complaint counts too
    _, events = run(ActionTriageIntake(), make_tracker("我要投诉，我听不见，社区一直不给我办残疾证", intent="complain"))
    assert SlotSet("intake_contact", "sms") in events


def test_read_back_shows_the_whole_place_and_the_contact_preference() -> None:
    said = "和平区南营门街道，西康路公交站"
    _, result = asyncio.run(_validate_location(said))
    assert result == {"intake_location": said}
    slots = {**FILLED, "intake_location": said, "intake_contact": "sms"}
    dispatcher, _ = run(ActionAskIntakeConfirmed(), make_tracker("", slots=slots))
    assert said in texts(dispatcher)[0] and "联系方式：短信" in texts(dispatcher)[0]
    dispatcher, _ = run(ActionAskIntakeConfirmed(), make_tracker("", slots=FILLED))
    assert "联系方式：未说明" in texts(dispatcher)[0]
    dispatcher, _ = run(ActionAskIntakeConfirmed(), make_tracker("", slots=slots, channel="voice"))
    assert "联系方式是短信" in texts(dispatcher)[0]
    # and it can be corrected at the read-back in one sentence
    _, result = validate("intake_confirmed", "联系方式改成短信", make_tracker("联系方式改成短信", slots=FILLED))
    assert result["intake_contact"] == "sms" and result["intake_confirmed"] is None


async def _validate_location(said: str) -> tuple[CollectingDispatcher, dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    result = await ValidateIntakeForm().validate_intake_location(said, dispatcher, make_tracker(said), DOMAIN)
    return dispatcher, result


def test_no_call_back_promised_to_who_asked_for_sms_even_without_the_app() -> None:
    app_client.use_base_url(closed_port_url())
    for channel in ("web", "voice"):
        slots = {**FILLED, "intake_contact": "sms"}
        dispatcher, _ = run(ActionSubmitIntake(), make_tracker("对", intent="affirm", slots=slots, channel=channel))
        said = "".join(texts(dispatcher))
        assert "短信" in said and not CALL_PROMISE.search(said), said
        assert customs(dispatcher)[0]["ticket"]["contact_preference"] == "sms"


# --- escalation --------------------------------------------------------------------


def test_handoff_signal_and_silence_slot() -> None:
    dispatcher, events = run(ActionHandoff(), make_tracker("转人工", intent="request_human"))
    assert {"handoff": True, "reason": "citizen_request"} in customs(dispatcher)
    assert "工作人员" in texts(dispatcher)[0]
    assert SlotSet("handoff", True) in events and ActiveLoop(None) in events


def fallback_turn(text: str) -> list[dict[str, Any]]:
    return [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": text, "parse_data": {"intent": {"name": "nlu_fallback"}}},
        {"event": "action", "name": "action_fallback"},
        {"event": "bot", "text": "抱歉，我没有听懂。"},
        {"event": "action", "name": "action_listen"},
    ]


def test_fallback_twice_in_a_row_hands_over() -> None:
    first = make_tracker("啊吧啊吧", intent="nlu_fallback")
    assert misunderstood_in_a_row(first) == 1
    dispatcher, events = run(ActionFallback(), first)
    assert dispatcher.messages[0].get("response") == "utter_default" and events == []
    second = make_tracker("咿呀咿呀", intent="nlu_fallback", events=fallback_turn("啊吧啊吧"))
    assert misunderstood_in_a_row(second) == 2
    dispatcher, events = run(ActionFallback(), second)
    assert {"handoff": True, "reason": "not_understood"} in customs(dispatcher)
    assert SlotSet("handoff", True) in events
    # an understood turn in between resets the count
    between = [
        *fallback_turn("啊吧"),
        {"event": "user", "text": "你好", "parse_data": {"intent": {"name": "greet"}}},
        {"event": "action", "name": "utter_greet"},
        {"event": "action", "name": "action_listen"},
    ]
    assert misunderstood_in_a_row(make_tracker("咿呀", intent="nlu_fallback", events=between)) == 1


def test_emergency_numbers_first_and_handoff_even_without_app() -> None:
    app_client.use_base_url(closed_port_url())
    assert "120" in emergency_lines("我爸晕倒了")[0]
    assert "110" in emergency_lines("我儿子是智力残疾，走丢了")[0]
    started = time.monotonic()
    dispatcher, events = run(ActionEmergency(), make_tracker("我爸晕倒了，叫不醒", intent="emergency"))
    assert time.monotonic() - started < 5
    first = texts(dispatcher)[0]
    assert "120" in first
    assert {"handoff": True, "reason": "emergency"} in customs(dispatcher)
    assert SlotSet("handoff", True) in events


# --- app unreachable: clear apology, never an exception ------------------------------


def test_unreachable_app_gives_apology() -> None:
    app_client.use_base_url(closed_port_url())
    dispatcher, events = run(ActionSubmitIntake(), make_tracker("对", intent="affirm", slots=FILLED))
    assert "抱歉" in texts(dispatcher)[0] and "记录" in texts(dispatcher)[0]
    assert customs(dispatcher)[0]["follow_up"] is True
    assert SlotSet("intake_description", None) in events
    dispatcher, _ = run(
        ActionCheckStatus(), make_tracker("1234", slots={"status_number": "202611230007", "status_last4": "1234"})
    )
    assert "抱歉" in texts(dispatcher)[0]
    dispatcher, _ = run(ActionAskPolicy(), make_tracker("残疾证怎么办", intent="ask_policy"))
    assert "抱歉" in texts(dispatcher)[0]


def test_client_gives_up_fast() -> None:
    client = app_client.AppClient(base_url=closed_port_url(), retries=1)
    started = time.monotonic()
    with pytest.raises(app_client.AppUnavailable):
        client.ticket_status("202611230007", "1234")
    assert time.monotonic() - started < 3


# --- conversation control -------------------------------------------------------------


def test_repeat_resends_previous_turn() -> None:
    events: list[dict[str, Any]] = [
        {"event": "action", "name": "action_listen"},
        {"event": "user", "text": "好的", "parse_data": {"intent": {"name": "affirm"}}},
        {"event": "action", "name": "action_submit_intake"},
        {"event": "bot", "text": "已为您登记成功。工单号是 202611230007", "data": {}, "metadata": {}},
        {"event": "action", "name": "action_listen"},
    ]
    dispatcher, _ = run(ActionRepeat(), make_tracker("再说一遍", intent="repeat", events=events))
    assert "202611230007" in texts(dispatcher)[0]


def test_session_start_sets_voice_style_and_caller() -> None:
    tracker = make_tracker(slots={"session_started_metadata": {"channel": "voice", "caller_phone": "13812345678"}})
    _, events = run(ActionSessionStart(), tracker)
    assert SlotSet("reply_style", "voice") in events
    assert SlotSet("caller_phone", "13812345678") in events
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")


# --- against a real app (started by the integration suite) ------------------------------

APP_URL = os.environ.get("HOTLINE_TEST_APP_URL")


@pytest.mark.skipif(not APP_URL, reason="HOTLINE_TEST_APP_URL not set: no running app")
def test_sms_preference_and_the_whole_place_go_to_the_app_and_no_call_is_promised() -> None:
    assert APP_URL
    app_client.use_base_url(APP_URL, os.environ.get("HOTLINE_TEST_SERVICE_TOKEN"))
    slots = {**FILLED, "intake_location": "和平区南营门街道，西康路公交站", "intake_contact": "sms"}
    dispatcher, _ = run(ActionSubmitIntake(), make_tracker("对", intent="affirm", slots=slots))
    assert [c["ticket_number"] for c in customs(dispatcher) if "ticket_number" in c]  # the app took both fields
    said = "".join(texts(dispatcher))
    assert "工单号" in said and "短信" in said and not CALL_PROMISE.search(said), said


@pytest.mark.skipif(not APP_URL, reason="HOTLINE_TEST_APP_URL not set: no running app")
def test_ticket_created_and_found_in_real_app() -> None:
    assert APP_URL
    app_client.use_base_url(APP_URL, os.environ.get("HOTLINE_TEST_SERVICE_TOKEN"))
    dispatcher, _events = run(ActionSubmitIntake(), make_tracker("对", intent="affirm", slots=FILLED))
    numbers = [c["ticket_number"] for c in customs(dispatcher) if "ticket_number" in c]
    assert numbers and len(numbers[0]) == 12
    dispatcher, _ = run(
        ActionCheckStatus(), make_tracker("5678", slots={"status_number": numbers[0], "status_last4": "5678"})
    )
    assert numbers[0] in texts(dispatcher)[0]
    dispatcher, _ = run(
        ActionCheckStatus(), make_tracker("0000", slots={"status_number": numbers[0], "status_last4": "0000"})
    )
    assert "没有查到" in texts(dispatcher)[0]
