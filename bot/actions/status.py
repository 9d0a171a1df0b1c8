"""Work-order status by number and the last four digits of the contact phone."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.app_client import AppUnavailable, NotFound, get_client
from actions.helpers import normalize, number_for, say, text_of, validate_last4, validate_ticket_number

TWELVE_DIGITS = re.compile(r"20\d{10}")
FOUR_DIGITS = re.compile(r"(?<!\d)\d{4}(?!\d)")


def known_number(tracker: Tracker) -> str:
    """The work order this conversation just filed, when the citizen names no other (WCAG 3.3.7:
    nothing the citizen already gave is asked again)."""
    if TWELVE_DIGITS.search(digits_text(tracker)):
        return ""
    return str(tracker.get_slot("last_ticket_number") or "")


def known_last4(tracker: Tracker, number: str) -> str:
    if number and number == tracker.get_slot("last_ticket_number"):
        return str(tracker.get_slot("last_ticket_phone4") or "")
    return ""


def digits_text(tracker: Tracker) -> str:
    return re.sub(r"[\s-]", "", normalize(text_of(tracker)))


class ValidateStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_status_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        number = tracker.get_slot("status_number") or known_number(tracker)
        slots = list(domain_slots)
        if not tracker.get_slot("status_number") and number:
            slots.remove("status_number")
        if not tracker.get_slot("status_last4") and known_last4(tracker, number):
            slots.remove("status_last4")
        return slots

    def validate_status_number(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = validate_ticket_number(str(value or ""))
        if number:
            return {"status_number": number}
        say(
            dispatcher,
            tracker,
            "工单号是12位数字，前8位是登记日期，比如 202611230007。请再输入一次。",
            voice="工单号是十二位数字。请再说一次，或者按键输入，按井号键结束。",
        )
        return {"status_number": None}

    def validate_status_last4(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        last4 = validate_last4(str(value or ""))
        if last4:
            return {"status_last4": last4}
        say(dispatcher, tracker, "请提供登记电话的后四位数字。")
        return {"status_last4": None}


def date_words(value: str) -> str:
    """'2026-11-26T17:30:00' -> '2026年11月26日' (spoken naturally on every channel)."""
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", value)
    return f"{m.group(1)}年{int(m.group(2))}月{int(m.group(3))}日" if m else value


STATUS_WORDS = {
    "received": "已受理",
    "dispatched": "已派单",
    "accepted": "已签收",
    "in_progress": "正在办理",
    "replied": "已答复",
    "resolved": "已办结",
    "follow_up": "回访中",
    "closed": "已关闭",
    "reopened": "已重新办理",
}


class ActionCheckStatus(Action):
    def name(self) -> str:
        return "action_check_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        number = tracker.get_slot("status_number") or known_number(tracker)
        last4 = tracker.get_slot("status_last4") or known_last4(tracker, number)
        return await check(dispatcher, tracker, number, last4)


class ActionRetryStatus(Action):
    """After a failed lookup, "不对不对 后四位是5520" is the retry: the digits given, the rest kept."""

    def name(self) -> str:
        return "action_retry_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = digits_text(tracker)
        kept = str(tracker.get_slot("status_retry_number") or "")
        found = TWELVE_DIGITS.search(text)
        number = found.group(0) if found else kept
        rest = TWELVE_DIGITS.sub("", text)
        four = FOUR_DIGITS.findall(rest)
        if number and four:
            return await check(dispatcher, tracker, number, four[-1])
        if number and found:
            return [
                SlotSet("status_retry_number", number),
                SlotSet("status_number", number),
                FollowupAction("status_form"),
            ]
        dispatcher.utter_message(response="utter_anything_else")
        return [SlotSet("status_retry_number", None)]


async def check(dispatcher: CollectingDispatcher, tracker: Tracker, number: str, last4: str) -> list[EventType]:
    reset: list[EventType] = [
        SlotSet("status_number", None),
        SlotSet("status_last4", None),
        SlotSet("status_retry_number", None),
    ]
    try:
        data = await asyncio.to_thread(get_client().ticket_status, number, last4, tracker.sender_id)
    except NotFound:
        say(
            dispatcher,
            tracker,
            "没有查到这个工单。请核对工单号和电话后四位；直接发来正确的后四位（或工单号），我马上再查一次。也可以说“转人工”，由工作人员帮您查。",
            voice="没有查到这个工单。请再说一遍电话后四位，我马上再查。也可以按0转人工。",
            buttons=[
                {"title": "再查一次", "payload": "/check_ticket_status"},
                {"title": "转人工", "payload": "/request_human"},
            ],
        )
        return [*reset[:2], SlotSet("status_retry_number", number)]
    except AppUnavailable:
        say(
            dispatcher,
            tracker,
            "非常抱歉，查询系统暂时连不上。您的查询已经记录，工作人员会尽快跟进；您也可以稍后再查。",
            voice="非常抱歉，查询系统暂时连不上。您的查询已经记录，请稍后再查。",
        )
        return reset
    status = str(data.get("status") or "")
    status_text = STATUS_WORDS.get(status, status or "处理中")
    lines = [f"工单 {number_for(tracker, number)} 目前的状态是：{status_text}。"]
    if data.get("deadline"):
        lines.append(f"办理期限是{date_words(str(data['deadline']))}。")
    if data.get("public_reply"):
        lines.append(f"答复内容：{data['public_reply']}")
    say(dispatcher, tracker, "".join(lines))
    return reset
