"""Escalation to a person: on request, after misunderstandings, for emergencies."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.app_client import AppUnavailable, get_client
from actions.helpers import channel_of, guess_category, number_for, say, text_of

HANDOFF_TEXT = (
    "好的，正在为您转接工作人员。您的对话已经记录，工作人员接手后会直接在这里回复您，"
    "一般几分钟内；如果暂时没有空闲的工作人员，会在下一个工作日内联系您。"
)
HANDOFF_VOICE = "好的，正在为您转接工作人员，请不要挂机。您说的内容已经记录。"
HANDOFF_EASY = "好的。我帮您找工作人员。请等一下。工作人员会在这里回复您。"

NOT_UNDERSTOOD_TEXT = (
    "抱歉，我两次都没能理解您的意思。我为您转接工作人员，您刚才说的内容已经记录，工作人员接手后会直接在这里回复您。"
)
NOT_UNDERSTOOD_VOICE = "抱歉，我没能听懂。现在为您转接工作人员，请不要挂机。"

MEDICAL = re.compile(
    r"晕倒|昏倒|昏迷|不省人事|抽搐|喘不上气|喘不过气|不能呼吸|没有呼吸|出血|流血|流了好多血|心脏|摔倒|吃了很多|"
    r"安眠药|中毒|受伤|起不来|倒地|叫不醒|喊不醒|噎|被车撞|撞倒|撞了|救护车"
)
POLICE = re.compile(
    r"打我|打他|打她|被打|打伤|家暴|虐待|拿刀|动刀|砍|威胁|闯进|走丢|走失|找不到|不见了|失踪|联系不上|欺负|关在|"
    r"关起来|被抢|抢劫|绑|拐|骗到|没回来|报警"
)
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


async def staff_on_duty(channel: str = "web") -> dict[str, Any] | None:
    """The app's answer to "can a person take this now?" on this channel, or None when it cannot be asked."""
    try:
        return await asyncio.to_thread(get_client().on_duty, channel)
    except AppUnavailable:
        return None


def nobody_text(state: dict[str, Any]) -> str:
    """Why no person can answer now, honestly and in one sentence."""
    if state.get("reason") == "no_phone_transfer":
        return "电话现在不能直接转接工作人员。"
    if state.get("reason") == "out_of_hours":
        when = f"，工作人员{state['next_service']}上班" if state.get("next_service") else ""
        return f"现在是非工作时间（工作日{state.get('hours') or ''}有人值班）{when}。"
    return "现在暂时没有工作人员在线。"


def recent_citizen_texts(tracker: Tracker, limit: int = 5) -> list[str]:
    texts = [str(e.get("text") or "") for e in (tracker.events or []) if e.get("event") == "user"]
    return [t for t in texts if t and not t.startswith("/")][-limit:]


class ActionHandoff(Action):
    """Hands the session to a person when one is on duty; otherwise says so honestly, keeps the
    request as a work order and goes on answering (the gateway reports `handoff` from the slot)."""

    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        state = await staff_on_duty(channel_of(tracker))
        if state is not None and not state.get("available"):
            return await self._nobody(dispatcher, tracker, state)
        if tracker.get_slot("reply_style") == "easy" and channel_of(tracker) != "voice":
            dispatcher.utter_message(text=HANDOFF_EASY)
        else:
            say(dispatcher, tracker, HANDOFF_TEXT, voice=HANDOFF_VOICE)
        dispatcher.utter_message(json_message={"handoff": True, "reason": "citizen_request"})
        return handoff_events("citizen_request")

    async def _nobody(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, state: dict[str, Any]
    ) -> list[EventType]:
        said = recent_citizen_texts(tracker)
        ticket = {
            "kind": "咨询",
            "category": guess_category(" ".join(said)) or "其他",
            "description": "市民要求人工服务。对话中说：" + "／".join(said),
            "wish": "请工作人员联系答复",
            "contact_phone": tracker.get_slot("caller_phone") or "",
            "channel": channel_of(tracker),
            "session_id": tracker.sender_id,
        }
        key = f"handoff-{tracker.sender_id}-{len(tracker.events or [])}"
        try:
            created = await asyncio.to_thread(get_client().create_ticket, ticket, key)
        except AppUnavailable:
            dispatcher.utter_message(text=nobody_text(state) + "您的请求已经记录，工作人员上班后会跟进。")
            dispatcher.utter_message(
                json_message={"follow_up": True, "reason": "ticket_api_unreachable", "ticket": ticket}
            )
            return [ActiveLoop(None), SlotSet("requested_slot", None)]
        number = str(created.get("number") or "")
        say(
            dispatcher,
            tracker,
            nobody_text(state) + f"我已为您登记工单，工单号是{number}，工作人员会按工单联系您。"
            "在这之前，您有问题可以继续问我；遇到紧急情况请直接拨打110或120。",
            voice=nobody_text(state) + f"我已经为您登记了工单，工单号是{number_for(tracker, number)}。"
            "工作人员会联系您。您可以继续问我问题。",
        )
        dispatcher.utter_message(json_message={"ticket_number": number})
        return [ActiveLoop(None), SlotSet("requested_slot", None), SlotSet("last_ticket_number", number)]


class ActionWithdrawHandoff(Action):
    """The citizen no longer wants a person: the assistant answers again."""

    def name(self) -> str:
        return "action_withdraw_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(
            dispatcher,
            tracker,
            "好的，已为您取消转人工。您有问题可以继续问我。",
            voice="好的，已经取消转人工。您有问题可以继续问我。",
        )
        dispatcher.utter_message(json_message={"handoff": False, "withdrawn": True})
        return [SlotSet("handoff", False)]


class ActionWaitingForPerson(Action):
    """While the citizen waits for a person: what happens next, and how to take the request back."""

    def name(self) -> str:
        return "action_waiting_for_person"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        say(
            dispatcher,
            tracker,
            "您说的已经记录，工作人员接手后会看到并在这里回复您。如果不需要人工了，请回复“不用了”。",
            voice="您说的已经记录，工作人员接手后会回复您。不需要人工了，请说不用了。",
        )
        return []


class ActionEmergency(Action):
    """Emergency numbers first, an urgent work order, then a person takes over."""

    def name(self) -> str:
        return "action_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
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
            if event.get("event") == "action" and event.get("name") not in ("action_listen", None):
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

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if misunderstood_in_a_row(tracker) >= 2:
            say(dispatcher, tracker, NOT_UNDERSTOOD_TEXT, voice=NOT_UNDERSTOOD_VOICE)
            dispatcher.utter_message(json_message={"handoff": True, "reason": "not_understood"})
            return handoff_events("not_understood")
        dispatcher.utter_message(response="utter_default")
        return []
