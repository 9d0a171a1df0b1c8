"""The complaint / help-request form: custom questions and slot validation."""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.helpers import (
    CATEGORIES,
    CONTACT_LABELS,
    channel_of,
    clean_text,
    contact_preference_in,
    guess_category,
    is_affirm,
    is_deny,
    latest_metadata,
    match_category,
    normalize,
    reply_style,
    say,
    spoken_phone,
    validate_phone,
)
from actions.knowledge import answer_policy

INTAKE_SLOTS = [
    "intake_description",
    "intake_category",
    "intake_location",
    "intake_time",
    "intake_wish",
    "intake_phone",
    "intake_contact",
    "intake_name",
    "intake_confidential",
]
FIELD_LABELS = {
    "intake_description": "事情经过",
    "intake_category": "问题类别",
    "intake_location": "地点",
    "intake_time": "时间",
    "intake_wish": "诉求",
    "intake_phone": "联系电话",
    "intake_contact": "联系方式",
    "intake_name": "称呼",
    "intake_confidential": "是否保密",
}
FIELD_KEYWORDS = [
    ("intake_contact", r"联系方式|怎么联系|短信|回电|不需要联系|不用联系|网上回复"),
    ("intake_phone", r"电话|号码|手机|座机"),
    ("intake_confidential", r"保密|公开"),
    ("intake_name", r"名字|称呼|姓名|姓|匿名"),
    ("intake_category", r"类别|类型|分类|哪一类"),
    ("intake_location", r"地点|地址|位置|哪里|街道|社区|区县"),
    ("intake_time", r"时间|什么时候|日期|哪天"),
    ("intake_wish", r"诉求|要求|希望|怎么解决"),
    ("intake_description", r"经过|事情|内容|描述|情况"),
]
ANONYMOUS = re.compile(r"匿名|不留|不想留|不愿意留|不方便|不想说|不说名|无名")
NO_CONFIDENTIAL = re.compile(r"不用保密|不需要保密|不保密|不要保密|无所谓|可以公开|公开|没关系|不用|不需要|不要")
YES_CONFIDENTIAL = re.compile(r"保密|需要|要|是|对")
UNKNOWN = re.compile(r"^(不知道|不清楚|不记得|忘了|记不清|说不清)")
# An answer to a form question that is a question of its own ("等等 先问一下 助残志愿者去哪报名"):
# it is answered, and the form's question is asked again; it never becomes a field.
SIDE_QUESTION = re.compile(
    r"^(等等|等一下|稍等|先问|请问|问一下|问下|顺便问|对了|另外问)|[吗呢？?]$|怎么(办|申请|报名|弄|领)|如何|"
    r"多少钱|去哪|哪里(报名|办|申请|领)|能不能|可不可以|是不是|有没有"
)
GREETING_ONLY = re.compile(r"^(喂+|你好|您好|在吗|在不在|哈喽|嗨)[啊呀吗？?！!。，, ]*$")
# While these are asked, the answer itself is read for a contact preference (see their validations).
OWN_CONTACT_READING = ("intake_phone", "intake_contact", "intake_confirmed", "intake_fix_field")


def contact_label(tracker: Tracker) -> str:
    """The contact preference as the read-back shows it (未说明 when the citizen gave none)."""
    value = tracker.get_slot("intake_contact") or ""
    return CONTACT_LABELS.get(value, CONTACT_LABELS[""])


def field_named_in(text: str) -> str | None:
    for slot, pattern in FIELD_KEYWORDS:
        if re.search(pattern, text):
            return slot
    return None


def phone_in(text: str) -> str | None:
    """The phone number in an answer that may say more ("13912345678，一定发短信"): the digits of the whole
    answer, else of the longest run of digit characters (so the 一 of 一定 is not taken as a digit)."""
    whole = validate_phone(text)
    if whole:
        return whole
    runs = sorted(re.findall(r"[+\d０-９零〇一二三四五六七八九幺两 \-]{7,}", text), key=len, reverse=True)
    return next((found for found in map(validate_phone, runs) if found), None)


def clean_name(text: str) -> str:
    name = re.sub(r"^(我叫|我姓|叫我|我是|名字是|名字叫|姓名是|称呼我|就叫我)", "", text)
    name = re.sub(r"(就行了?|就可以了?|吧|啊|呀|。|,|，)+$", "", name)
    return name.strip()[:20]


def intake_summary(tracker: Tracker) -> tuple[str, str]:
    """The read-back (text, voice) before submission."""
    slots = {s: tracker.get_slot(s) for s in INTAKE_SLOTS}
    kind = tracker.get_slot("ticket_kind") or "投诉"
    phone = slots["intake_phone"] or ""
    name = slots["intake_name"] or "匿名"
    confidential = "保密" if slots["intake_confidential"] else "不保密"
    contact = contact_label(tracker)
    text = (
        f"请核对您的{kind}信息：\n"
        f"1. 事情经过：{slots['intake_description']}\n"
        f"2. 问题类别：{slots['intake_category']}\n"
        f"3. 地点：{slots['intake_location']}\n"
        f"4. 时间：{slots['intake_time']}\n"
        f"5. 诉求：{slots['intake_wish']}\n"
        f"6. 联系电话：{phone}\n"
        f"7. 联系方式：{contact}\n"
        f"8. 称呼：{name}\n"
        f"9. 身份：{confidential}\n"
        "信息正确请点“确认提交”，需要修改请点“需要修改”。"
    )
    voice = (
        f"我读一下您的{kind}信息。"
        f"类别是{slots['intake_category']}。"
        f"地点是{slots['intake_location']}。"
        f"时间是{slots['intake_time']}。"
        f"您的诉求是{slots['intake_wish']}。"
        f"电话是{spoken_phone(phone)}。"
        f"联系方式是{contact}。"
        f"称呼是{name}，身份{confidential}。"
        "都对的话请说对，要修改请说修改。"
    )
    return text, voice


class ActionAskIntakeCategory(Action):
    """Propose the category guessed from the description, or list the categories."""

    def name(self) -> str:
        return "action_ask_intake_category"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        guess = tracker.get_slot("intake_category_guess")
        if guess:
            say(
                dispatcher,
                tracker,
                f"听起来这是关于“{guess}”方面的问题，对吗？",
                voice=f"听起来是{guess}方面的问题，对吗？",
                buttons=[{"title": "对", "payload": "/affirm"}, {"title": "不对", "payload": "/deny"}],
            )
        else:
            say(
                dispatcher,
                tracker,
                "请选择这件事属于哪一类：",
                voice="请说是哪一类。比如补贴、残疾人证、康复、辅助器具。"
                "也可以是托养、就业、教育、无障碍、法律维权、服务态度，或者其他。",
                buttons=[{"title": c, "payload": c} for c in CATEGORIES],
            )
        return []


class ActionAskIntakePhone(Action):
    """Ask for a contact phone; on voice propose the caller's number first."""

    def name(self) -> str:
        return "action_ask_intake_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        caller = tracker.get_slot("caller_phone") or latest_metadata(tracker).get("caller_phone")
        caller = validate_phone(str(caller)) if caller else None
        events: list[EventType] = []
        if caller and reply_style(tracker) == "voice" and not tracker.get_slot("caller_phone_declined"):
            dispatcher.utter_message(text=f"您现在用的号码是{spoken_phone(caller)}。用这个号码联系您，可以吗？")
            events.append(SlotSet("caller_phone", caller))
        else:
            say(
                dispatcher,
                tracker,
                "请留一个联系电话，手机或者带区号的座机都可以。不方便接电话的话，请在号码后面写上“发短信”。",
                voice="请说一个联系电话。也可以按键输入，按井号键结束。",
            )
        return events


class ActionAskIntakeContact(Action):
    """Ask once how staff may contact the citizen; on the phone line every answer has a key."""

    def name(self) -> str:
        return "action_ask_intake_contact"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        channel = channel_of(tracker)
        if channel == "voice":
            dispatcher.utter_message(text="工作人员怎么联系您？打电话请按1，发短信请按2，不需要联系请按3。")
        elif channel == "sms":
            say(dispatcher, tracker, "工作人员怎么联系您？请回复：电话、短信，或者不需要联系。")
        else:
            say(
                dispatcher,
                tracker,
                "工作人员怎么联系您？请选择：电话、短信、在网上回复，或者不需要联系。",
                buttons=[
                    {"title": "电话", "payload": "打电话联系我"},
                    {"title": "短信", "payload": "发短信联系我"},
                    {"title": "网上对话", "payload": "在网上回复我"},
                    {"title": "不需要联系", "payload": "不需要联系"},
                ],
            )
        return []


class ActionAskIntakeConfirmed(Action):
    """Read the summary back and ask for confirmation."""

    def name(self) -> str:
        return "action_ask_intake_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        text, voice = intake_summary(tracker)
        say(
            dispatcher,
            tracker,
            text,
            voice=voice,
            buttons=[
                {"title": "确认提交", "payload": "/affirm"},
                {"title": "需要修改", "payload": "/deny"},
            ],
        )
        return []


async def side_turn(dispatcher: CollectingDispatcher, tracker: Tracker, text: str) -> bool:
    """A greeting or a question given as a field's answer: greet back or answer it; True when it was one."""
    if GREETING_ONLY.match(text):
        say(dispatcher, tracker, "您好，我们接着登记。")
        return True
    if SIDE_QUESTION.search(text) and not UNKNOWN.match(text):
        await answer_policy(dispatcher, tracker, text)
        say(dispatcher, tracker, "我们接着登记。")
        return True
    return False


class ValidateIntakeForm(FormValidationAction):
    def name(self) -> str:
        return "validate_intake_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        slots = [s for s in domain_slots if s not in ("intake_confirmed", "intake_fix_field")]
        if tracker.get_slot("intake_fixing"):
            slots.append("intake_fix_field")
        slots.append("intake_confirmed")
        return slots

    def validate_intake_description(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = normalize(str(value or "")).strip()
        if len(text) < 2 or text.startswith("/"):
            say(dispatcher, tracker, "请再具体说一下发生了什么。", voice="请再具体说一下。")
            return {"intake_description": None}
        events: dict[str, Any] = {"intake_description": clean_text(str(value))}
        if not tracker.get_slot("intake_category"):
            events["intake_category_guess"] = guess_category(text) or ""
        return events

    def validate_intake_category(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        guess = tracker.get_slot("intake_category_guess")
        named = match_category(str(value or ""))
        if named and not is_deny(tracker):
            return {"intake_category": named}
        if guess and is_affirm(tracker):
            return {"intake_category": guess}
        if guess and is_deny(tracker):
            return {"intake_category": None, "intake_category_guess": ""}
        if is_deny(tracker) and named:
            return {"intake_category": named}
        return {"intake_category": "其他"}

    async def validate_intake_location(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = normalize(str(value or "")).strip()
        if await side_turn(dispatcher, tracker, text):
            return {"intake_location": None}
        if UNKNOWN.match(text):
            return {"intake_location": "未说明"}
        if len(text) < 2:
            say(dispatcher, tracker, "请写一下在哪个区、哪个街道或社区。", voice="请说一下在哪个区、哪个街道或社区。")
            return {"intake_location": None}
        # kept whole as read back, up to what the work order holds (location_text, 200 characters)
        return {"intake_location": clean_text(str(value))[:200]}

    async def validate_intake_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = normalize(str(value or "")).strip()
        if await side_turn(dispatcher, tracker, text):
            return {"intake_time": None}
        if UNKNOWN.match(text):
            return {"intake_time": "不记得了"}
        return {"intake_time": clean_text(str(value)) or "未说明"}

    async def validate_intake_wish(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = normalize(str(value or "")).strip()
        if await side_turn(dispatcher, tracker, text):
            return {"intake_wish": None}
        if is_deny(tracker) and len(text) <= 4:
            return {"intake_wish": "希望尽快处理"}
        return {"intake_wish": clean_text(str(value)) or "希望尽快处理"}

    async def extract_intake_contact(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """A contact preference said anywhere in the intake ("我听不见" in the description) is kept."""
        if tracker.get_slot("requested_slot") in OWN_CONTACT_READING:
            return {}
        said = str((tracker.latest_message or {}).get("text") or "")
        found = contact_preference_in(said, channel=channel_of(tracker))
        return {"intake_contact": found} if found else {}

    def validate_intake_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        caller = tracker.get_slot("caller_phone")
        text = str(value or "")
        # "13912345678，我听不见，请发短信联系我": the number and the wish are both kept
        found = contact_preference_in(text, channel=channel_of(tracker), where="phone")
        contact = {"intake_contact": found} if found else {}
        phone = phone_in(text)
        if phone:
            return {"intake_phone": phone, **contact}
        if caller and reply_style(tracker) == "voice" and not tracker.get_slot("caller_phone_declined"):
            if is_affirm(tracker) or re.search(r"这个|本机|来电", text):
                return {"intake_phone": caller, **contact}
            if is_deny(tracker):
                return {"intake_phone": None, "caller_phone_declined": True}
        say(
            dispatcher,
            tracker,
            "这个号码好像不对。手机号是以1开头的11位数字；座机请带上区号，比如010开头。",
            voice="这个号码好像不对。手机号是1开头的11位数字，座机请带区号。",
        )
        return {"intake_phone": None}

    async def validate_intake_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(value or "").strip()
        if text in ("call", "sms", "chat", "none"):  # already read (the phone answer, or earlier words)
            return {"intake_contact": text}
        found = contact_preference_in(text, channel=channel_of(tracker), where="question")
        if found:
            return {"intake_contact": found}
        if await side_turn(dispatcher, tracker, normalize(text)):
            return {"intake_contact": None}
        if channel_of(tracker) == "voice":
            say(dispatcher, tracker, "没听清。打电话请按1，发短信请按2，不需要联系请按3。")
        elif channel_of(tracker) == "sms":
            say(dispatcher, tracker, "请回复“电话”“短信”或者“不需要联系”。")
        else:
            say(dispatcher, tracker, "请回复“电话”“短信”“在网上回复”或者“不需要联系”。")
        return {"intake_contact": None}

    def validate_intake_name(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = normalize(str(value or "")).strip()
        if is_deny(tracker) or ANONYMOUS.search(text) or not clean_name(text):
            # anonymous: nobody outside the hotline learns who called
            return {"intake_name": "匿名", "intake_confidential": True}
        return {"intake_name": clean_name(text)}

    def validate_intake_confidential(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = normalize(str(value or "")).strip()
        if NO_CONFIDENTIAL.search(text) or (is_deny(tracker) and "保密" not in text):
            return {"intake_confidential": False}
        if is_affirm(tracker) or YES_CONFIDENTIAL.search(text):
            return {"intake_confidential": True}
        say(dispatcher, tracker, "请回复“需要保密”或者“不用保密”。", voice="请说“需要保密”或者“不用保密”。")
        return {"intake_confidential": None}

    def validate_intake_fix_field(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        field = field_named_in(normalize(str(value or "")))
        if not field:
            say(dispatcher, tracker, "没听清要改哪一项。", voice="没听清要改哪一项。")
            return {"intake_fix_field": None}
        return self._reopen(field)

    @staticmethod
    def _reopen(field: str) -> dict[str, Any]:
        events: dict[str, Any] = {
            field: None,
            "intake_fix_field": field,
            "intake_fixing": False,
            "intake_confirmed": None,
        }
        if field == "intake_category":
            events["intake_category_guess"] = ""
        if field == "intake_name":
            events["intake_confidential"] = None
        if field == "intake_phone":
            events["caller_phone_declined"] = True
        return events

    def validate_intake_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = normalize(str(value or "")).strip()
        field = field_named_in(text)
        if field and (is_deny(tracker) or re.search(r"改|错|不对", text)):
            events = self._reopen(field)
            # a new value in the same sentence: 电话改成139…, 联系方式改成短信
            if field == "intake_phone" and validate_phone(text):
                events["intake_phone"] = validate_phone(text)
            if field == "intake_contact":
                changed_to = re.split(r"改成|改为|换成|要", text)[-1]
                found = contact_preference_in(changed_to, channel=channel_of(tracker), where="question")
                if found:
                    events["intake_contact"] = found
            return events
        if is_deny(tracker) or re.search(r"修改|改一下|不对|有误", text):
            return {"intake_confirmed": None, "intake_fixing": True, "intake_fix_field": None}
        if is_affirm(tracker):
            return {"intake_confirmed": True}
        say(dispatcher, tracker, "请回复“确认”提交，或者回复“修改”。", voice="请说“确认”提交，或者说“修改”。")
        return {"intake_confirmed": None}
