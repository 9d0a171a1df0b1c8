"""Escalation to a person: on request, after misunderstandings, for emergencies."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.app_client import AppUnavailable, get_client
from actions.helpers import channel_of, guess_category, say, text_of

HANDOFF_TEXT = (
    "好的，正在为您转接工作人员。您的对话已经记录，工作人员接手后会直接在这里回复您，"
    "一般几分钟内；如果暂时没有空闲的工作人员，会在下一个工作日内联系您。"
)
HANDOFF_VOICE = "好的，正在为您转接工作人员，请不要挂机。您说的内容已经记录。"
HANDOFF_EASY = "好的。我帮您找工作人员。请等一下。工作人员会在这里回复您。"

NOT_UNDERSTOOD_TEXT = (
    "抱歉，我两次都没能理解您的意思。我为您转接工作人员，您刚才说的内容已经记录，"
    "工作人员接手后会直接在这里回复您。"
)
NOT_UNDERSTOOD_VOICE = "抱歉，我没能听懂。现在为您转接工作人员，请不要挂机。"

MEDICAL = re.compile(r"晕倒|昏倒|昏迷|不省人事|抽搐|喘不上气|不能呼吸|没有呼吸|出血|流了好多血|心脏|摔倒|吃了很多|安眠药|中毒|受伤|起不来")
POLICE = re.compile(r"打我|打他|打她|被打|家暴|虐待|拿刀|动刀|砍|威胁|闯进|走丢|走失|找不到|不见了|失踪|联系不上|欺负|关在")
SELF_HARM = re.compile(r"不想活|想死|活不下去|自杀|轻生|寻死|寻短见|跳楼|跳河|跳下去|割腕|结束生命|撑不下去")
FIRE = re.compile(r"着火|火灾|煤气|燃气泄漏")


def handoff_events(reason: str) -> list[EventType]:
    """End any form and mark the session as held by staff."""
    return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("handoff", True)]


def emergency_lines(text: str) -> list[str]:
    """The emergency numbers first, the most relevant one leading."""
    lines: list[str] = []
    if FIRE.search(text):
        lines.append("请马上拨打119火警电话，能离开的话先离开危险的地方。")
    if MEDICAL.search(text):
        lines.append("如果有生命危险，请马上拨打120急救电话。")
    if SELF_HARM.search(text):
        lines.append("您的安全最重要。如果有生命危险，请马上拨打110或120。")
    if POLICE.search(text):
        lines.append("请马上拨打110报警。")
    if not lines:
        lines.append("如果有危险，请马上拨打110报警；有人受伤或生病，请拨打120急救。")
    return lines


class ActionHandoff(Action):
    """Hands the session to a person; the gateway reports `handoff: true`."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if tracker.get_slot("reply_style") == "easy" and channel_of(tracker) != "voice":
            dispatcher.utter_message(text=HANDOFF_EASY)
        else:
            say(dispatcher, tracker, HANDOFF_TEXT, voice=HANDOFF_VOICE)
        dispatcher.utter_message(json_message={"handoff": True, "reason": "citizen_request"})
        return handoff_events("citizen_request")


class ActionEmergency(Action):
    """Emergency numbers first, an urgent work order, then a person takes over."""

    def name(self) -> str:
        return "action_emergency"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        text = text_of(tracker)
        for line in emergency_lines(text):
            dispatcher.utter_message(text=line)
        ticket = {
            "kind": "紧急",
            "category": guess_category(text) or "其他",
            "description": text,
            "district": "",
            "street": "",
            "community": "",
            "occurred_at_text": "刚刚",
            "wish": "紧急情况，请立即联系",
            "contact_phone": tracker.get_slot("caller_phone") or "",
            "contact_name": "",
            "confidential": True,
            "channel": channel_of(tracker),
            "session_id": tracker.sender_id,
            "priority": "urgent",
        }
        events: list[EventType] = []
        try:
            created = await asyncio.to_thread(get_client().create_ticket, ticket)
            number = str(created.get("number") or "")
        except AppUnavailable:
            number = ""
        say(
            dispatcher,
            tracker,
            "我已经按紧急情况登记，正在马上为您转接工作人员，请不要挂断，也不要关闭对话。",
            voice="我已经按紧急情况登记，正在为您转接工作人员，请不要挂机。",
        )
        if number:
            dispatcher.utter_message(json_message={"ticket_number": number})
            events.append(SlotSet("last_ticket_number", number))
        dispatcher.utter_message(json_message={"handoff": True, "reason": "emergency"})
        return events + handoff_events("emergency")


def misunderstood_in_a_row(tracker: Tracker) -> int:
    """How many user turns in a row, the current one included, ended in a fallback.

    A turn counts when the first action after the user message was `action_fallback`
    (this action); the current turn is in progress and counts as one.
    """
    count = 1
    events = list(tracker.events or [])
    idx = len(events) - 1
    while idx >= 0 and events[idx].get("event") != "user":
        idx -= 1
    idx -= 1  # before the current user message
    while idx >= 0:
        # walk back to the previous user message, remembering the first action after it
        first_action = None
        while idx >= 0 and events[idx].get("event") != "user":
            event = events[idx]
            if event.get("event") == "action" and event.get("name") not in (
                "action_listen", None
            ):
                first_action = event.get("name")
            idx -= 1
        if idx < 0:
            break
        if first_action == "action_fallback":
            count += 1
            idx -= 1
        else:
            break
    return count


class ActionFallback(Action):
    """Not understood: ask to rephrase; the second time in a row, hand over."""

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        if misunderstood_in_a_row(tracker) >= 2:
            say(dispatcher, tracker, NOT_UNDERSTOOD_TEXT, voice=NOT_UNDERSTOOD_VOICE)
            dispatcher.utter_message(json_message={"handoff": True, "reason": "not_understood"})
            return handoff_events("not_understood")
        dispatcher.utter_message(response="utter_default")
        return []
