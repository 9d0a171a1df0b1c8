"""Conversation control: session start, repeat, slow down, easy-read."""

from __future__ import annotations

from typing import Any, cast

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.helpers import channel_of, last_bot_messages, validate_phone, voice_sentences


class ActionSessionStart(Action):
    """Start a session, carrying slots over, and note channel and caller ID."""

    def name(self) -> str:
        return "action_session_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        # Rasa sends the whole domain; the SDK's DomainDict leaves session_config out.
        session_config = cast("dict[str, Any]", domain).get("session_config") or {}
        carry = session_config.get("carry_over_slots_to_new_session", True)
        if carry:
            for key, value in (tracker.slots or {}).items():
                if value is not None and key not in ("session_started_metadata", "requested_slot"):
                    events.append(SlotSet(key, value))
        meta = tracker.get_slot("session_started_metadata") or {}
        channel = meta.get("channel") or "web"
        if channel == "voice":
            events.append(SlotSet("reply_style", "voice"))
        elif tracker.get_slot("reply_style") == "voice":
            events.append(SlotSet("reply_style", "text"))
        caller = validate_phone(str(meta.get("caller_phone") or "")) if meta.get("caller_phone") else None
        if caller:
            events.append(SlotSet("caller_phone", caller))
        events.append(ActionExecuted("action_listen"))
        return events


def _resend(dispatcher: CollectingDispatcher, tracker: Tracker, slow: bool = False) -> bool:
    """Send the previous turn's messages again; responses are re-rendered (so a new
    reply style applies), texts from custom actions are sent as they were."""
    sent = False
    for event in last_bot_messages(tracker):
        utter = (event.get("metadata") or {}).get("utter_action")
        if utter and utter.startswith("utter_") and "/" not in utter:
            dispatcher.utter_message(response=utter)
        else:
            text = event.get("text") or ""
            if slow or channel_of(tracker) == "voice":
                text = "".join(voice_sentences(text, limit=20))
            buttons = (event.get("data") or {}).get("buttons")
            if buttons and channel_of(tracker) != "voice":
                dispatcher.utter_message(text=text, buttons=buttons)
            else:
                dispatcher.utter_message(text=text)
        sent = True
    return sent


class ActionRepeat(Action):
    """再说一遍: inside a form the form asks its question again, so nothing to add."""

    def name(self) -> str:
        return "action_repeat"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.active_loop.get("name"):
            dispatcher.utter_message(text="好的，我再说一遍。")
            return []
        if not _resend(dispatcher, tracker):
            dispatcher.utter_message(response="utter_greet")
        return []


class ActionSlowDown(Action):
    """说慢一点: tells the voice gateway to slow the speech and says it again."""

    def name(self) -> str:
        return "action_slow_down"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(json_message={"speech_rate": "slow"})
        dispatcher.utter_message(text="好的，我说慢一点。")
        if not tracker.active_loop.get("name"):
            _resend(dispatcher, tracker, slow=True)
        return [SlotSet("speech_rate", "slow")]


class ActionEasyRead(Action):
    """简单点说: easy-read replies from now on (text channels; voice is short already)."""

    def name(self) -> str:
        return "action_easy_read"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text="好的。我会说得简单一些。")
        if channel_of(tracker) == "voice":
            return []
        return [SlotSet("reply_style", "easy")]
