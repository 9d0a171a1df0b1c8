"""Hand the conversation over to a person."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

HANDOFF_TEXT = "好的，正在为您转接工作人员。您的对话已经记录，工作人员接手后会在这里回复您，请稍候。"


class ActionHandoff(Action):
    """Marks the session as held by staff; the gateway reports `handoff: true`."""

    def name(self) -> str:
        return "action_handoff"

    def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        dispatcher.utter_message(text=HANDOFF_TEXT)
        dispatcher.utter_message(json_message={"handoff": True, "reason": "citizen_request"})
        return [SlotSet("handoff", True)]
