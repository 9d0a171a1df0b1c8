"""Policy questions, answered from the app's knowledge base."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.app_client import AppUnavailable, get_client
from actions.helpers import channel_of, reply_style, say, text_of, voice_sentences

NOT_FOUND_TEXT = (
    "这个问题我暂时没有找到准确的政策依据，不想给您说错。"
    "您可以说“转人工”，由工作人员为您解答。"
)
NOT_FOUND_VOICE = "这个问题我没有找到准确的答案。要找工作人员，请说转人工，或者按0。"
UNAVAILABLE_TEXT = (
    "非常抱歉，政策资料库暂时连不上。您的问题已经记录，工作人员会尽快跟进答复您；"
    "您也可以说“转人工”。"
)
UNAVAILABLE_VOICE = "非常抱歉，政策资料暂时查不到。您的问题已经记录，工作人员会跟进。"


class ActionAskPolicy(Action):
    def name(self) -> str:
        return "action_ask_policy"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        question = text_of(tracker)
        if not question or question.startswith("/"):
            dispatcher.utter_message(response="utter_ask_question")
            return []
        try:
            result = await asyncio.to_thread(get_client().ask_knowledge, question, channel_of(tracker))
        except AppUnavailable:
            say(dispatcher, tracker, UNAVAILABLE_TEXT, voice=UNAVAILABLE_VOICE)
            return []
        if not result.get("answered") or not result.get("answer"):
            say(
                dispatcher, tracker, NOT_FOUND_TEXT, voice=NOT_FOUND_VOICE,
                buttons=[{"title": "转人工", "payload": "/request_human"}],
            )
            return []
        style = reply_style(tracker)
        if style == "voice":
            spoken = result.get("voice_answer") or result["answer"]
            dispatcher.utter_message(text="".join(voice_sentences(str(spoken))))
            return []
        answer = str(result["answer"])
        if style == "easy":
            answer = "\n".join(voice_sentences(answer, limit=30))
        citation = result.get("citation")
        text = f"{answer}\n（依据：{citation}）" if citation else answer
        dispatcher.utter_message(
            text=text,
            buttons=[{"title": "没解决，转人工", "payload": "/request_human"}],
        )
        return []
