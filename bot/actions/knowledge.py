"""Policy questions, answered from the app's knowledge base.

The knowledge base writes the answer with its source (once); this action only fits it to
the channel, greets or thanks back when the message began that way ("喂 你好 我问个事 …"),
and keeps an unanswered question so that a "yes" to the offered consultation work order
files it (`action_file_consultation`).
"""

from __future__ import annotations

import asyncio
import re

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.app_client import AppUnavailable, get_client
from actions.helpers import (
    MORE,
    channel_of,
    easy_lines,
    guess_category,
    number_for,
    reply_style,
    said_text,
    say,
    text_of,
    voice_sentences,
)

UNAVAILABLE_TEXT = "非常抱歉，政策资料库暂时连不上。您的问题已经记录，工作人员会尽快跟进答复您；您也可以说“转人工”。"
UNAVAILABLE_VOICE = "非常抱歉，政策资料暂时查不到。您的问题已经记录，工作人员会跟进。"
CONSULTATION_DONE = "好的，已为您登记咨询工单，工单号是{number}。工作人员会在规定时限内答复您。"
CONSULTATION_FAILED = "抱歉，咨询工单暂时没有登记成功。您的问题已经记录，工作人员会跟进；也可以说“转人工”。"
NOTHING_PENDING = "好的。还有什么可以帮您？"

# How the message began, and what the reply says first.
GREETING_LEAD = re.compile(r"^\s*(喂+|你好|您好|哈喽|嗨|hello|hi)")
THANKS_LEAD = re.compile(r"^\s*(谢谢|多谢|感谢|谢啦)")
PENDING_SLOT = "consultation_question"
# The last question answered from the documents: "详细" asks for the fuller passage behind it.
LAST_QUESTION_SLOT = "last_policy_question"
NOTHING_FOR_MORE = "请先问一个政策问题，我再给您详细内容。"


def lead_for(text: str) -> str:
    if THANKS_LEAD.search(text):
        return "不客气。"
    if GREETING_LEAD.search(text):
        return "您好！"
    return ""


class ActionAskPolicy(Action):
    def name(self) -> str:
        return "action_ask_policy"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        question = text_of(tracker)
        if not question or question.startswith("/"):
            dispatcher.utter_message(response="utter_ask_question")
            return []
        last = tracker.get_slot(LAST_QUESTION_SLOT)
        if MORE.match(question):
            if last:
                return await answer_policy(dispatcher, tracker, str(last), more=True)
            say(dispatcher, tracker, NOTHING_FOR_MORE)
            return []
        return await answer_policy(dispatcher, tracker, said_text(tracker) or question)


async def answer_policy(
    dispatcher: CollectingDispatcher, tracker: Tracker, question: str, *, more: bool = False
) -> list[EventType]:
    """Answer from the documents, or decline honestly and offer a consultation work order.

    Also used by the forms, so that a question asked in the middle of an intake is answered
    before the open question is asked again.
    """
    try:
        result = await asyncio.to_thread(get_client().ask_knowledge, question, channel_of(tracker), more)
    except AppUnavailable:
        say(dispatcher, tracker, UNAVAILABLE_TEXT, voice=UNAVAILABLE_VOICE)
        return [SlotSet(PENDING_SLOT, None)]
    lead = lead_for(question)
    style = reply_style(tracker)
    if not result.get("answered") or result.get("offer_work_order"):
        # The knowledge base's own honest refusal (or the closest rule, said to be only that), which
        # offers a consultation work order.
        say(
            dispatcher,
            tracker,
            lead + str(result.get("answer") or ""),
            voice=lead + str(result.get("voice_answer") or result.get("answer") or ""),
            buttons=[
                {"title": "登记咨询工单", "payload": "/affirm"},
                {"title": "转人工", "payload": "/request_human"},
            ],
        )
        return [SlotSet(PENDING_SLOT, question[:2000])]
    remembered = [SlotSet(PENDING_SLOT, None), SlotSet(LAST_QUESTION_SLOT, question[:2000])]
    if more:
        lead = ""
    if style == "voice":
        spoken = result.get("voice_answer") or result["answer"]
        dispatcher.utter_message(text=lead + "".join(voice_sentences(str(spoken))))
        return remembered
    answer = lead + str(result["answer"])
    if style == "easy":
        answer = easy_lines(answer)
    dispatcher.utter_message(
        text=answer,
        buttons=[{"title": "没解决，转人工", "payload": "/request_human"}],
    )
    return remembered


# A statement outside a form needs this many Chinese characters to be taken for a topic of its own.
TOPIC_MIN_CHINESE = 6
CHINESE = re.compile(r"[\u4e00-\u9fff]")


class ActionInformWithoutContext(Action):
    """A statement outside any form. A deaf writer's topic words ("兰州 城市街道 独立生活中心 试点") carry
    no question word, so the classifier takes them for an answer; when the documents answer them
    exactly, they get that answer. Otherwise the citizen is asked what the message is for."""

    def name(self) -> str:
        return "action_inform_without_context"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text = said_text(tracker) or text_of(tracker)
        # the evidence the NLU's EvidenceRouter fetched for this very turn (hotline_nlu/evidence.py)
        found = (tracker.latest_message or {}).get("hotline_evidence") or {}
        if len(CHINESE.findall(text)) >= TOPIC_MIN_CHINESE and found.get("exact"):
            return await answer_policy(dispatcher, tracker, text)
        dispatcher.utter_message(response="utter_what_for")
        return []


class ActionFileConsultation(Action):
    """A "yes" after the knowledge base could not answer: the question becomes a consultation work order."""

    def name(self) -> str:
        return "action_file_consultation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        question = tracker.get_slot(PENDING_SLOT)
        if not question:
            dispatcher.utter_message(text=NOTHING_PENDING)
            return []
        ticket = {
            "kind": "咨询",
            "category": guess_category(str(question)) or "其他",
            "description": f"市民咨询（政策文件中未找到答案）：{question}",
            "wish": "请工作人员答复",
            "contact_phone": tracker.get_slot("caller_phone") or "",
            "channel": channel_of(tracker),
            "session_id": tracker.sender_id,
        }
        try:
            key = f"consult-{tracker.sender_id}-{len(tracker.events)}"
            created = await asyncio.to_thread(get_client().create_ticket, ticket, key)
        except AppUnavailable:
            say(dispatcher, tracker, CONSULTATION_FAILED)
            dispatcher.utter_message(
                json_message={"follow_up": True, "reason": "ticket_api_unreachable", "ticket": ticket}
            )
            return [SlotSet(PENDING_SLOT, None)]
        number = str(created.get("number") or "")
        say(dispatcher, tracker, CONSULTATION_DONE.format(number=number_for(tracker, number)))
        dispatcher.utter_message(json_message={"ticket_number": number})
        return [SlotSet(PENDING_SLOT, None), SlotSet("last_ticket_number", number)]
