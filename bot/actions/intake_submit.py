"""Start, submit and cancel a complaint or help request."""

from __future__ import annotations

import asyncio
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.app_client import AppUnavailable, get_client
from actions.escalation import handoff_events
from actions.helpers import (
    channel_of,
    clean_text,
    contact_preference_in,
    guess_category,
    intent_of,
    number_for,
    say,
    split_location,
    text_of,
)
from actions.intake_form import INTAKE_SLOTS

LEAD_PHRASES = re.compile(
    r"^(你好|您好|喂)?[,，]?(我要|我想|我需要|想|要|帮我|我替我?\S{0,2}|我代我?\S{0,2})?"
    r"(投诉一下|投诉|举报|反映一下|反映个问题|反映|求助一下|求助|求求你们帮帮我|帮帮我)[,，:：]?"
)
REPEATED = re.compile(
    r"又|第[二三四五六七八九两\d]+次|好几次|好多次|多次|几次了|多少[次回遍]|无数次|一直没人|还是没人|都没人管|没人管"
)
ANGRY = re.compile(
    r"[!！]|太不像话|什么玩意|气死|混蛋|垃圾|到底管不管|忍无可忍|骗子|废物|太过分|欺人太甚|简直|受够了|有没有人管"
)

RESET_SLOTS = [*INTAKE_SLOTS, "intake_confirmed", "intake_fix_field", "intake_category_guess", "caller_phone_declined"]


def is_angry_repeat(tracker: Tracker, text: str) -> bool:
    """An angry complaint about something reported before."""
    earlier_complaints = sum(
        1
        for e in (tracker.events or [])[:-1]
        if e.get("event") == "user" and (e.get("parse_data") or {}).get("intent", {}).get("name") == "complain"
    )
    return bool(REPEATED.search(text) and (ANGRY.search(text) or earlier_complaints >= 1)) or (
        earlier_complaints >= 2 and bool(ANGRY.search(text))
    )


class ActionTriageIntake(Action):
    """Decide the kind of work order; prefill what the first sentence already says;
    hand an angry repeated complaint straight to a person."""

    def name(self) -> str:
        return "action_triage_intake"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = text_of(tracker)
        kind = "求助" if intent_of(tracker) == "request_help" else "投诉"
        if kind == "投诉" and is_angry_repeat(tracker, text):
            say(
                dispatcher,
                tracker,
                "非常抱歉，让您多次反映还没有解决。我马上为您转接工作人员优先处理，"
                "您的对话已经记录，工作人员接手后会直接在这里回复您。",
                voice="非常抱歉，让您多次反映还没解决。我马上为您转接工作人员，请不要挂机。",
            )
            dispatcher.utter_message(json_message={"handoff": True, "reason": "repeated_complaint"})
            return [SlotSet("ticket_kind", kind), *handoff_events("repeated_complaint")]
        events: list[EventType] = [SlotSet("ticket_kind", kind)]
        events += [SlotSet(s, None) for s in RESET_SLOTS]
        events.append(SlotSet("intake_fixing", False))
        # "我听不见，我要投诉…": how to be contacted is kept from the first sentence on
        said = str((tracker.latest_message or {}).get("text") or text)
        preference = contact_preference_in(said, channel=channel_of(tracker)) if not text.startswith("/") else None
        if preference:
            events.append(SlotSet("intake_contact", preference))
        rest = LEAD_PHRASES.sub("", text)
        if not text.startswith("/") and len(re.findall(r"[\u4e00-\u9fff]", rest)) >= 6:
            raw = (tracker.latest_message or {}).get("text") or text
            events.append(SlotSet("intake_description", clean_text(raw)))
            events.append(SlotSet("intake_category_guess", guess_category(text) or ""))
            say(dispatcher, tracker, f"好的，我来帮您登记{kind}，已记下您说的情况。")
        return events


# What happens next, in the citizen's own terms: never a call for one who asked for SMS or no contact.
NEXT_STEP_TEXT = {
    "sms": "工作人员会用短信和您联系，处理结果也会发短信告诉您。",
    "chat": "工作人员会在网上对话里回复您。",
    "none": "按您的意思，工作人员不会主动联系您，您可以随时用工单号查询进度。",
    "call": "工作人员会打电话和您联系。",
}
NEXT_STEP_VOICE = {
    "sms": "工作人员会发短信和您联系。",
    "chat": "工作人员会在网上对话里回复您。",
    "none": "工作人员不会主动联系您，您可以用工单号查进度。",
    "call": "工作人员会打电话和您联系。",
}
# When no number could be given: the promise still follows the preference.
UNSAVED_NEXT_STEP = {
    "sms": "工作人员会尽快跟进，并用短信和您联系。",
    "chat": "工作人员会尽快跟进，并在网上对话里回复您。",
    "none": "工作人员会尽快跟进；按您的意思，不会主动联系您。",
    "call": "工作人员会尽快跟进，并打电话和您联系。",
    "": "工作人员会尽快跟进，并按您留的号码联系您。",
}


class ActionSubmitIntake(Action):
    """Create the work order through the app and give its number and deadline."""

    def name(self) -> str:
        return "action_submit_intake"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        kind = tracker.get_slot("ticket_kind") or "投诉"
        location = tracker.get_slot("intake_location") or ""
        parts = split_location(location)
        name = tracker.get_slot("intake_name") or ""
        contact = tracker.get_slot("intake_contact") or ""
        contact = contact if contact in NEXT_STEP_TEXT else ""
        ticket = {
            "kind": kind,
            "category": tracker.get_slot("intake_category") or "其他",
            "description": tracker.get_slot("intake_description") or "",
            "district": (parts["district"] or location)[:64],
            # the place as it was read back, whole ("…街道，西康路公交站"); the parts above are for sorting
            "location_text": location[:200],
            "street": parts["street"],
            "community": parts["community"],
            "occurred_at_text": tracker.get_slot("intake_time") or "",
            "wish": tracker.get_slot("intake_wish") or "",
            "contact_phone": tracker.get_slot("intake_phone") or "",
            "contact_name": "" if name == "匿名" else name,
            "contact_preference": contact,
            "confidential": bool(tracker.get_slot("intake_confidential")),
            "channel": channel_of(tracker),
            "session_id": tracker.sender_id,
            "priority": "normal",
        }
        reset = [SlotSet(s, None) for s in RESET_SLOTS] + [SlotSet("intake_fixing", False)]
        try:
            created = await asyncio.to_thread(
                get_client().create_ticket, ticket, f"{tracker.sender_id}-{len(tracker.events or [])}"
            )
        except AppUnavailable:
            say(
                dispatcher,
                tracker,
                "非常抱歉，系统暂时无法生成工单号。您刚才说的内容已经完整记录，" + UNSAVED_NEXT_STEP[contact],
                voice="非常抱歉，系统暂时不能生成工单号。您说的内容已经记录。" + UNSAVED_NEXT_STEP[contact],
            )
            dispatcher.utter_message(
                json_message={"follow_up": True, "reason": "ticket_api_unreachable", "ticket": ticket}
            )
            return reset
        number = str(created.get("number") or "")
        deadline = created.get("deadline_text") or "规定期限内"
        say(
            dispatcher,
            tracker,
            f"已为您登记成功。工单号是 {number}，请记好。我们会在{deadline}答复您。"
            + NEXT_STEP_TEXT.get(contact, "")
            + "查询进度时，请提供工单号和联系电话的后四位。",
            voice=f"登记好了。工单号是：{number_for(tracker, number)}。"
            f"我们会在{deadline}答复您。"
            + NEXT_STEP_VOICE.get(contact, "")
            + "要再听一遍工单号，请说再说一遍，或者按井号键。",
        )
        dispatcher.utter_message(json_message={"ticket_number": number})
        phone = str(ticket["contact_phone"] or "")
        return [
            *reset,
            SlotSet("last_ticket_number", number),
            SlotSet("last_ticket_phone4", phone[-4:] if len(phone) >= 4 else None),
            SlotSet("ticket_deadline_text", deadline),
        ]


class ActionCancelIntake(Action):
    def name(self) -> str:
        return "action_cancel_intake"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_intake_cancelled")
        return (
            [ActiveLoop(None), SlotSet("requested_slot", None)]
            + [SlotSet(s, None) for s in [*RESET_SLOTS, "status_number", "status_last4"]]
            + [SlotSet("intake_fixing", False)]
        )
