"""Shared helpers: channel and reply style, spoken numbers, validation of values."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

# `hotline_nlu` lives next to this package in bot/, `chinese_numbers` (shared with the app) in the
# project root above it; make both importable however the action server was started (the root last,
# as hotline_nlu/__init__.py puts it for Rasa, so it shadows nothing).
_BOT_DIR = Path(__file__).resolve().parent.parent
if str(_BOT_DIR) not in sys.path:
    sys.path.insert(0, str(_BOT_DIR))
if str(_BOT_DIR.parent) not in sys.path:
    sys.path.append(str(_BOT_DIR.parent))

from chinese_numbers.digits import read_digits  # noqa: E402
from chinese_numbers.phones import is_callback_number, is_mobile  # noqa: E402

from hotline_nlu.normalize import (  # noqa: E402
    MORE,
    digits_only,
    fix_asr_errors,
    normalize,
    remove_cjk_spaces,
    to_simplified,
)

__all__ = ["MORE", "clean_text", "digits_only", "normalize"]


def clean_text(text: str) -> str:
    """Free text as staff will read it: Simplified, without ASR spaces, punctuation kept."""
    return to_simplified(remove_cjk_spaces(str(text or ""))).strip()


VOICE_SENTENCE_CHARS = 40

CATEGORIES = [
    "残疾人证",
    "补贴",
    "康复",
    "辅助器具",
    "托养",
    "就业",
    "教育",
    "无障碍",
    "法律维权",
    "服务态度",
    "其他",
]
CATEGORY_KEYWORDS: dict[str, str] = {
    "残疾人证": r"残疾人?证|评残|年审|换证|办证|补证|残疾等级",
    "补贴": r"补贴|补助|低保|救助金|发钱|没发|护理费|生活费|扣了",
    "康复": r"康复|训练|自闭|孤独症|人工耳蜗|治疗|复查",
    "辅助器具": r"辅具|辅助器具|轮椅|助听器|假肢|盲杖|助行器|拐杖|器具",
    "托养": r"托养|日间照料|照护|养护|护工|照顾|照料",
    "就业": r"就业|找工作|招聘|辞退|工资|上班|岗位|按摩店|面试|单位",
    "教育": r"学校|上学|入学|老师|助学|教育|随班就读|读书",
    "无障碍": r"盲道|坡道|无障碍|电梯|停车位|厕所|导盲犬|改造|台阶",
    "法律维权": r"律师|官司|法律|维权|骗|冒领|欠薪|拖欠|打官司",
    "服务态度": r"态度|吼|骂|敷衍|刁难|推诿|不理|吃拿卡要|不作为|难听|踢皮球",
}

TICKET_RE = re.compile(r"^20\d{10}$")

AFFIRM_WORDS = re.compile(r"^(是|对|好|行|可以|确认|确定|没错|没问题|嗯|恩|提交|ok|yes|中|成|要的|需要|同意)")
# 没问题 / 没错 start like a deny but agree
DENY_WORDS = re.compile(r"^(?!没问题|没错|没毛病)(不|没|否|错|别|no)")


# --- channel and style -------------------------------------------------------


def latest_metadata(tracker: Tracker) -> dict[str, Any]:
    meta = (tracker.latest_message or {}).get("metadata") or {}
    if not meta:
        meta = tracker.get_slot("session_started_metadata") or {}
    return meta if isinstance(meta, dict) else {}


def channel_of(tracker: Tracker) -> str:
    channel = latest_metadata(tracker).get("channel") or tracker.get_latest_input_channel() or "web"
    return channel if channel in ("web", "sms", "voice") else "web"


def reply_style(tracker: Tracker) -> str:
    """voice (short, no buttons), easy (one idea per sentence) or text."""
    if channel_of(tracker) == "voice":
        return "voice"
    return "easy" if tracker.get_slot("reply_style") == "easy" else "text"


def voice_sentences(text: str, limit: int = VOICE_SENTENCE_CHARS) -> list[str]:
    """Split a text into sentences of about `limit` characters for speech, only at punctuation: a piece
    without a comma stays whole rather than being cut inside a word ("无障碍。化")."""
    text = re.sub(r"[*#_`>\[\]()（）]", "", text)
    text = re.sub(r"\s*\n+\s*", "。", text)
    parts = [p for p in re.split(r"(?<=[。！？!?；;])", text) if p.strip()]
    out: list[str] = []
    for part in parts:
        part = part.strip()
        while len(part) > limit:
            cut = max(part.rfind(mark, 0, limit) for mark in "，、,：:")
            if cut <= 8:
                cut = min((i for i in (part.find(mark, limit) for mark in "，、,：:") if i > 0), default=-1)
            if cut <= 0 or cut >= len(part) - 1:
                break
            out.append(part[: cut + 1].rstrip("，、,：:") + "。")
            part = part[cut + 1 :].strip()
        if part:
            out.append(part)
    return out


def easy_lines(text: str, limit: int = 30) -> str:
    """An answer for easy reading: short sentences, one per line; a source line kept whole."""
    lines: list[str] = []
    for line in text.split("\n"):
        if line.startswith(("（出处", "（依据")):
            lines.append(line)
        elif line.strip():
            lines.extend(voice_sentences(line, limit=limit))
    return "\n".join(lines)


def say(
    dispatcher: CollectingDispatcher,
    tracker: Tracker,
    text: str,
    *,
    voice: str | None = None,
    buttons: list[dict[str, str]] | None = None,
) -> None:
    """Utter `text` on text channels (with buttons), `voice` (or `text`) in short
    sentences without buttons on the voice channel."""
    if reply_style(tracker) == "voice":
        dispatcher.utter_message(text="".join(voice_sentences(voice or text)))
    elif buttons and channel_of(tracker) != "sms":
        dispatcher.utter_message(text=text, buttons=buttons)
    else:
        dispatcher.utter_message(text=text)


def spoken_digits(number: str, group: int = 4) -> str:
    """'202611230007' -> '二零二六，一一二三，零零零七' (read digit by digit)."""
    words = read_digits(number or "")
    return "，".join(words[i : i + group] for i in range(0, len(words), group))


def spoken_phone(phone: str) -> str:
    digits = re.sub(r"\D", "", phone or "")
    if is_mobile(digits):
        parts = [digits[:3], digits[3:7], digits[7:]]
    else:
        parts = [digits[:4], digits[4:]] if digits.startswith("0") else [digits]
    return "，".join(read_digits(p) for p in parts if p)


def number_for(tracker: Tracker, number: str) -> str:
    return spoken_digits(number) if reply_style(tracker) == "voice" else number


# --- values -------------------------------------------------------------------


def intent_of(tracker: Tracker) -> str:
    return ((tracker.latest_message or {}).get("intent") or {}).get("name") or ""


def text_of(tracker: Tracker) -> str:
    return normalize((tracker.latest_message or {}).get("text") or "").strip()


def said_text(tracker: Tracker) -> str:
    """The newest message as the citizen wrote or said it (the user event keeps it; the parse data holds
    the normalised text). The knowledge base has its own reading, and a deaf writer's spaces between
    topic words ("街道 残疾人工作 专人 几个") help it."""
    for event in reversed(tracker.events or []):
        if event.get("event") == "user":
            said = str(event.get("text") or "").strip()
            # the recogniser's known homophones (残连 -> 残联) are still corrected; spaces stay
            return fix_asr_errors(to_simplified(said)) if said else text_of(tracker)
    return text_of(tracker)


def is_affirm(tracker: Tracker) -> bool:
    text = text_of(tracker).lower().lstrip("/")
    return (
        intent_of(tracker) == "affirm"
        or (text.startswith("affirm"))
        or bool(AFFIRM_WORDS.match(text) and not DENY_WORDS.match(text))
    )


def is_deny(tracker: Tracker) -> bool:
    text = text_of(tracker).lower().lstrip("/")
    return intent_of(tracker) == "deny" or text.startswith("deny") or bool(DENY_WORDS.match(text))


def validate_phone(text: str) -> str | None:
    """A mainland mobile (11 digits) or a landline with area code, else None.

    Accepts typed, spoken (一三八…, 幺) and keypad (…#) input, +86/86 prefixes and
    separators."""
    digits = digits_only(text)
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if is_callback_number(digits):
        return digits
    return None


def validate_ticket_number(text: str) -> str | None:
    digits = digits_only(text)
    return digits if TICKET_RE.match(digits) else None


def validate_last4(text: str) -> str | None:
    digits = digits_only(text)
    return digits[-4:] if len(digits) >= 4 else None


def guess_category(text: str) -> str | None:
    """The category whose keywords occur most often in the text, if any."""
    best, best_hits = None, 0
    for category, pattern in CATEGORY_KEYWORDS.items():
        hits = len(re.findall(pattern, text or ""))
        if hits > best_hits:
            best, best_hits = category, hits
    return best


def match_category(text: str) -> str | None:
    """A category named in the citizen's answer (exact name first, then keywords)."""
    text = normalize(text or "")
    for category in CATEGORIES:
        if category in text:
            return category
    if re.search(r"残疾证|证件", text):
        return "残疾人证"
    if re.search(r"辅具|器具", text):
        return "辅助器具"
    if re.search(r"态度", text):
        return "服务态度"
    if re.search(r"法律|维权", text):
        return "法律维权"
    return guess_category(text)


def split_location(text: str) -> dict[str, str]:
    """'朝阳区八里庄街道红庙社区' -> district / street / community (best effort)."""
    text = normalize(text or "")
    district = re.search(r"[\u4e00-\u9fff]{1,8}?(?:新区|区|县|市|旗)", text)
    street = re.search(r"[\u4e00-\u9fff]{1,10}?(?:街道|镇|乡|苏木)", text)
    community = re.search(r"[\u4e00-\u9fff]{1,10}?(?:社区|村|小区|嘎查)", text)

    def clean(m: re.Match[str] | None, prefix: str | None = None) -> str:
        if not m:
            return ""
        value = re.sub(r"^(我在|在|就在|是|我们|我家在|地址是|地点是)+", "", m.group(0))
        if prefix and value.startswith(prefix):
            value = value[len(prefix) :]
        return value

    d = clean(district)
    s = clean(street)
    if d and s.startswith(d):
        s = s[len(d) :]
    c = clean(community)
    for p in (d, s):
        if p and c.startswith(p):
            c = c[len(p) :]
    return {"district": d, "street": s, "community": c}


# --- contact preference -----------------------------------------------------------

# The values the ticket API takes (api/models/ticket.py, ContactPreference); "" is "not said".
CONTACT_LABELS = {"call": "电话", "sms": "短信", "chat": "网上对话", "none": "不需要联系", "": "未说明"}
# Said anywhere in an intake, these decide how staff may reach the citizen: a deaf citizen who writes
# "我听不见" in the description is never called, and is not asked again.
_CHAT_SAID = re.compile(r"(网上|网页|线上|在线|页面上?|这里|聊天窗口)(回复|回我|答复|联系我)")
_SMS_SAID = re.compile(
    r"发短信|短信(联系|通知|回复|答复|告诉|发给)|用短信|(不要|别|不用|不能|没法|无法)(给我)?(打电话|来电|回电)|"
    r"(不能|不方便|没法|无法)接电话|接不了电话|我?听不见|我?听不到|听不清电话|我是?聋|我耳聋|聋哑|听障|听力(障碍|残疾)"
)
_NONE_SAID = re.compile(r"(不用|不需要|不必|无需|不要|别)(再)?(联系|回复|答复|回访|通知)")
_CALL_SAID = re.compile(
    r"(给我|请|麻烦)?打电话(联系|给|告诉)我|给我(打个?电话|回电)|请回电|回个电话|电话联系我|打我电话"
)
# Beside the phone number: a bare "短信" or "聋" is meant for the contact ("13912345678 短信").
_SMS_BESIDE_PHONE = re.compile(r"短信|聋")
# Only as the answer to the question itself: short words that elsewhere mean something else
# ("他在电话里骂我", "收到一条短信"), and the keys 1 call, 2 SMS, 3 no contact.
_KEY = r"^按?{}号?键?$"
_SMS_ANSWER = re.compile(r"短信|聋|" + _KEY.format("[2二]"))
_NONE_ANSWER = re.compile(r"^(都)?(不用|不需要|不必|没必要|算了)|" + _KEY.format("[3三]"))
_CHAT_ANSWER = re.compile(r"网上|网页|在线|线上|聊天|这里|对话")
_CALL_ANSWER = re.compile(r"电话|回电|打给我|" + _KEY.format("[1一幺]"))


def contact_preference_in(text: str, *, channel: str = "web", where: str = "anywhere") -> str | None:
    """The contact preference the citizen states in `text` (call, sms, chat, none), or None.

    `where`: "anywhere" in an intake only unmistakable phrases count; "phone" (the answer to the phone
    question) also a bare 短信; "question" (the answer to the contact question) also the short words
    and the keys 1/2/3. A wish not to be called wins over a mention of calls; chat only in the web chat."""
    text = normalize(text or "").replace("#", "").strip()
    if not text:
        return None
    if channel == "web" and _CHAT_SAID.search(text):
        return "chat"
    if _SMS_SAID.search(text):
        return "sms"
    if _NONE_SAID.search(text):
        return "none"
    if _CALL_SAID.search(text):
        return "call"
    if where == "phone" and _SMS_BESIDE_PHONE.search(text):
        return "sms"
    if where != "question":
        return None
    if _SMS_ANSWER.search(text):
        return "sms"
    if _NONE_ANSWER.search(text):
        return "none"
    if channel == "web" and _CHAT_ANSWER.search(text):
        return "chat"
    if _CALL_ANSWER.search(text):
        return "call"
    return None


def mask_phone(phone: str) -> str:
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else phone


def last_bot_messages(tracker: Tracker) -> list[dict[str, Any]]:
    """The assistant's messages of the previous turn (before the current user message)."""
    events = list(tracker.events or [])
    # skip back to the current user message
    idx = len(events) - 1
    while idx >= 0 and events[idx].get("event") != "user":
        idx -= 1
    idx -= 1
    collected: list[dict[str, Any]] = []
    while idx >= 0 and events[idx].get("event") != "user":
        event = events[idx]
        if event.get("event") == "bot" and event.get("text"):
            collected.append(event)
        idx -= 1
    collected.reverse()
    return collected
