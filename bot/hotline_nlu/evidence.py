"""Routing by evidence: the knowledge base's confidence weighed against the intent ranking.

The classifier only knows the training sentences; the documents know what they answer.
A citizen's question in everyday words ("村里残协主席能不能由村干部兼着") looks to the
classifier like an FAQ, a complaint or nothing it knows, while the knowledge base finds
the sentence that answers it. So on every free-text turn this component asks the app's
knowledge base how well the documents answer the text (`POST /api/knowledge/evidence`,
a few milliseconds, nothing recorded) and decides with both:

- an emergency, key 0, a bare number or a slash payload is never re-routed;
- a request for a person, a complaint, a help request or a status lookup keeps its
  intent when the text says so in words of its own (`KIND_MARKERS`); otherwise a
  question the documents answer goes to `ask_policy`;
- any other intent (greeting, thanks, FAQ, out of scope, an unsure guess) gives way to
  `ask_policy` when the text is a question the documents answer, or names the
  federation's services and asks something (the knowledge base then declines honestly
  and offers a consultation work order, instead of a canned reply that does not fit);
- a question inside a form is routed the same way, so the form's rules answer it and ask
  the open question again instead of storing the question as a field.

When the app cannot be reached the classifier decides alone.

Rasa runs the NLU graph synchronously on its event loop, so a lookup made from `process`
holds up every other conversation while the app searches. The gateway channel therefore
fetches the evidence asynchronously before the turn is parsed (`prefetch`) and hands it
over through a context variable; `process` makes the blocking call only for messages
that did not come through the channel (NLU evaluation, `/model/parse`).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import re
import threading
from typing import Any

import aiohttp
import requests
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from hotline_nlu.components import (
    EMERGENCY_PATTERN,
    IN_SCOPE_PATTERN,
    KEY_ZERO,
    NUMBER_ONLY,
    promote,
    set_ranking,
)

logger = logging.getLogger(__name__)

POLICY_INTENT = "ask_policy"
# decide()'s answer for "not this intent: take the next one of the ranking".
NEXT_INTENT = "<next>"
# A question, or a statement that asks ("我想了解…", "请问…").
QUESTION = re.compile(
    r"[?？]|吗|么|呢|多少|几|怎么|怎样|咋|如何|什么|啥|哪|谁|是否|能否|可否|是不是|能不能|可不可以|可以不|"
    r"有没有|有无|会不会|要不要|需不需要|用不用|算不算|行不行|够不够|还是|对不对|对吗|是吗|没错吧|多久|多长|多大|"
    r"想了解|想问|请问|问一下|问下|问问|问个|咨询|打听|了解一下|规定|要求|标准|比例|"
    r"([\u4e00-\u9fff])[不没]\1"
)
# Words by which a citizen says the message is of a protected kind (and not a question about rules).
KIND_MARKERS: dict[str, re.Pattern[str]] = {
    "request_human": re.compile(
        r"(?<!疾)人工(?!耳蜗|智能|关节|晶体|流产)|真人|活人|转接|不要机器|不跟机器|不和机器|"
        r"(找|要|叫|换|接|转)(个|一个|你们的?)?(工作人员|客服|值班的?|领导|负责人|接线员|人来?)|"
        r"(跟|和|同|让|请)(你们)?(那边|那里|这边)?的?(工作人员?|客服|值班的?|领导|负责人|接线员|人)"
        r".{0,6}(说|聊|讲|谈|通话|联系|接|回个?电话|打个?电话|来)|"
        r"(让|叫)(他|她)(来)?(跟|和|给)我(说|聊|讲|打)|(工作人员|值班的?人?)(在不在|在吗|呢)"
    ),
    "complain": re.compile(r"投诉|投宿|举报|告状|控告|维权|讨说法|我要反映|我反映|反映一下|反映个"),
    "request_help": re.compile(
        r"求助|帮帮我|救救|需要帮助|请帮我|帮我(联系|申请|办|找|打|叫|问|弄)|你们能帮|能帮我|"
        r"(你们|能不能|能否|可不可以|可以)(给我|帮我)?(安排|派)(个|一个)?人|(你们|能不能)(派人|安排人)|你们(能|可以).{0,8}帮我"
    ),
    "check_ticket_status": re.compile(
        r"工单|单号|\d{12}|"
        r"(上回|上次|上周|上礼拜|上个礼拜|上个星期|上个月|前几天|前些天|之前|昨天|早先).{0,16}"
        r"(投诉|反映|报|说|打|登记|提).{0,40}(咋样|怎么样|结果|有信|进展|处理|回复|回覆|答复|有人管|没人管|人回)"
    ),
}
# Words that show a complaint or a request for help in a statement; in a message that says it is
# asking ("我想问一下…管不管"), they describe the question's topic and do not count.
WEAK_MARKERS: dict[str, re.Pattern[str]] = {
    "complain": re.compile(
        r"不满|太差|很差|真差|恶劣|态度(差|不好|恶劣|太)|刁难|推诿|推脱|踢皮球|拖着|不给(我|俺)?办|不办|不理|"
        r"欺负|歧视|骂|凶|吼|太冲|克扣|扣了|没发|不发|拖欠|乱收费|被占|占用|堵了|坏了|气死|没人管|没人理|不接"
    ),
    "check_ticket_status": re.compile(
        r"进度|进展|处理(得|到|的)?(怎么样|咋样|如何|哪|了没)|办(得|到)?(怎么样|咋样|哪)|"
        r"有(结果|回复|答复|信)了?(吗|没)|结果(出来|怎么样)"
    ),
    "request_help": re.compile(
        r"帮忙|帮一下|我需要|我想要|给我(弄|办|找|送)|没人照顾|急需|能不能来|派人|派个|没钱|看不起病|吃不上|"
        r"出不了门|下不了楼|陪一下|陪我|教我"
    ),
}
# Numbers of other services' orders ("快递单号"): a parcel or a take-away is not a work order of ours.
OTHER_SERVICES = re.compile(r"快递|外卖|物流|包裹|顺丰|圆通|中通|申通|韵达|京东|淘宝|拼多多|订单号|运单|航班|车票")
# A message that says it asks: "我想问一下", "请问", "打听", "请教".
ASKING = re.compile(r"请问|想问|问一下|问下|问问|问个|打听|请教|咨询|了解一下|想知道|我想了解")
PROTECTED = frozenset(KIND_MARKERS) | {"emergency"}
# Intents that describe a reply to the assistant rather than a topic: a short text with one of
# these needs stronger evidence (a bare place or a time typed into a form is not a question).
ANSWER_INTENTS = frozenset({"inform", "affirm", "deny", "cancel"})
SMALL_TALK_INTENTS = frozenset({"greet", "thank", "goodbye", "bot_challenge", "affirm"})
SMALL_TALK = re.compile(
    r"喂|你好|您好|哈喽|嗨|谢谢|多谢|感谢|谢啦|好的|好吧|知道了|明白了|晓得了|再见|拜拜|听得到|听得见|听到|"
    r"在吗|在不在|是不是|是残联|残联吗|残联吧|残联啊|热线|客服|机器人|真人|你是谁|啊|呀|哎|唉|嗯|哦|了|吧|吗|呢|我"
)
# Chinese characters a message needs besides small talk to hold a question of its own.
MIN_SUBSTANCE = 4
# What the canned FAQ replies are about: the hotline itself (where, when, cost, privacy, how long,
# what it can do, access for deaf and blind users, the keypad). A question on anything else that the
# documents come near is theirs to answer.
FAQ_TOPIC = re.compile(
    r"地址|电话|号码|在哪|哪里办|怎么走|几点|上班|下班|周末|节假日|收费|要钱|免费|话费|保密|隐私|个人信息|泄露|"
    r"(多久|几天|多长时间).{0,4}(答复|回复|处理|办好|办完|结果|回电)|答复时间|你能|你会|能做什么|能干什么|功能|"
    r"手语|读屏|短信|打字|文字|按键|按几|按0|热线"
)
# The FallbackClassifier's threshold (config.yml): below it the classifier's guess counts as none.
FALLBACK_THRESHOLD = 0.4
CHINESE = re.compile(r"[\u4e00-\u9fff]")


# The key of the evidence in a turn's parse data (`tracker.latest_message` in the actions).
EVIDENCE_KEY = "hotline_evidence"
# Below this many Chinese characters a text is an answer, a number or small talk: not worth a lookup.
MIN_CHINESE = 4
DEFAULT_TIMEOUT = 1.5
# (normalised text, evidence or None when the app did not answer) fetched by the channel for this turn.
prefetched: contextvars.ContextVar[tuple[str, dict[str, Any] | None] | None] = contextvars.ContextVar(
    "hotline_prefetched_evidence", default=None
)


def evidence_endpoint() -> tuple[str, str]:
    """The app's evidence URL and the service token that opens it (from the environment)."""
    base = os.environ.get("HOTLINE_APP_URL") or "http://127.0.0.1:8000"
    return f"{base.rstrip('/')}/api/knowledge/evidence", os.environ.get("HOTLINE_SERVICE_TOKEN", "")


def worth_asking(text: str, min_chinese: int = MIN_CHINESE) -> bool:
    """A free-text turn the knowledge base could answer (not a payload, an emergency, a key or a number)."""
    if not text or text.startswith("/") or EMERGENCY_PATTERN.search(text):
        return False
    if KEY_ZERO.match(text) or NUMBER_ONLY.match(text):
        return False
    return len(CHINESE.findall(text)) >= min_chinese


def _usable(data: Any) -> dict[str, Any] | None:
    return data if isinstance(data, dict) else None


class AsyncEvidenceClient:
    """The channel's non-blocking lookup: one aiohttp session per event loop, made on first use."""

    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _current(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            _, token = evidence_endpoint()
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            self._session = aiohttp.ClientSession(headers=headers)
            self._loop = loop
        return self._session

    async def evidence(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> dict[str, Any] | None:
        url, _ = evidence_endpoint()
        try:
            async with self._current().post(
                url, json={"text": text[:2000]}, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as response:
                if response.status != 200:
                    logger.warning("knowledge evidence answered %s", response.status)
                    return None
                return _usable(await response.json())
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            logger.warning("knowledge evidence unavailable: %s", type(exc).__name__)
            return None


_async_client = AsyncEvidenceClient()


async def prefetch(normalized_text: str) -> contextvars.Token[Any] | None:
    """Fetch the evidence for a turn's normalised text before Rasa parses it; returns the reset token."""
    if not worth_asking(normalized_text):
        return None
    found = await _async_client.evidence(normalized_text)
    return prefetched.set((normalized_text, found))


class EvidenceClient:
    """One HTTP session to the app's knowledge base, made on first use (never at import)."""

    def __init__(self, url: str, token: str, timeout: float) -> None:
        self.url = url
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            if self.token:
                session.headers["Authorization"] = f"Bearer {self.token}"
            self._local.session = session
        return session

    def evidence(self, text: str) -> dict[str, Any] | None:
        try:
            response = self._session().post(self.url, json={"text": text[:2000]}, timeout=self.timeout)
        except requests.RequestException as exc:
            logger.warning("knowledge evidence unavailable: %s", type(exc).__name__)
            return None
        if response.status_code != 200:
            logger.warning("knowledge evidence answered %s", response.status_code)
            return None
        return _usable(response.json())


def small_talk_only(text: str) -> bool:
    """A greeting, thanks or "can you hear me" with no question of substance left once those are taken out."""
    rest = SMALL_TALK.sub("", text)
    return len(CHINESE.findall(rest)) < MIN_SUBSTANCE


def kind_marker(kind: str, text: str) -> re.Match[str] | None:
    """Where the text names this protected kind in words of its own; another service's order number
    ("快递单号") names no work order of ours."""
    if kind == "check_ticket_status" and OTHER_SERVICES.search(text):
        return None
    return KIND_MARKERS[kind].search(text)


def marks(kind: str, text: str) -> bool:
    """The text says it is of this protected kind: its own words, or (in a statement, not a question
    that says it asks) the words of a complaint or a plea."""
    if kind_marker(kind, text):
        return True
    weak = WEAK_MARKERS.get(kind)
    return bool(weak and weak.search(text) and not ASKING.search(text))


def marked_kind(text: str) -> str | None:
    """The one protected kind the text names in words of its own, if exactly one."""
    kinds = [kind for kind in KIND_MARKERS if marks(kind, text)]
    return kinds[0] if len(kinds) == 1 else None


def decide(
    text: str,
    intent: str,
    confidence: float,
    evidence: dict[str, Any] | None,
    *,
    strong: float,
    answer_strong: float,
) -> str | None:
    """The intent the turn should have, or None to keep the classifier's.

    Pure (no network) so that the rule can be tested and read on its own.
    """
    unsure = confidence < FALLBACK_THRESHOLD
    if intent == "emergency" and not unsure:
        return None
    if evidence is None:
        return marked_kind(text) if unsure else None
    asks = bool(QUESTION.search(text))
    exact = bool(evidence.get("exact", evidence.get("answered")))
    close = bool(evidence.get("answered"))
    kb_confidence = float(evidence.get("confidence") or 0.0)
    in_scope = bool(IN_SCOPE_PATTERN.search(text))
    # The documents answer it, or it asks about the federation's own matters: the knowledge base
    # gives the answer, the closest rule, or its honest "no reliable answer" with a work-order offer.
    about_policy = (
        (exact and (asks or kb_confidence >= strong))
        or (in_scope and asks)
        or (close and (in_scope or (asks and kb_confidence >= answer_strong)))
    )
    if intent in ("complain", "request_help") and kind_marker("check_ticket_status", text):
        return "check_ticket_status"  # "我上周投诉过…想问问处理结果": about a report already made
    # a plea or a complaint in so many words ("能不能派人上门", "我要投诉")
    strong_kind = next((k for k in ("request_help", "complain") if kind_marker(k, text)), None)
    if intent in KIND_MARKERS:
        if marks(intent, text):
            return None
        if strong_kind and not exact:
            return strong_kind
        if about_policy and (exact or asks):
            return POLICY_INTENT
        # "主要是那个工作人员说话太冲" names staff but asks for nobody: the next intent decides.
        return NEXT_INTENT if intent == "request_human" else None
    if intent in ANSWER_INTENTS and not unsure:
        # Taken for an answer to a form question: only a question the documents come near is re-routed
        # (a place, a time or a wish typed into a form asks nothing).
        return POLICY_INTENT if asks and close and kb_confidence >= answer_strong else None
    if intent in SMALL_TALK_INTENTS and small_talk_only(text):
        return None
    found = {k: kind_marker(k, text) for k in ("request_human", "check_ticket_status")}
    explicit = [k for k, m in found.items() if m]
    # "人工服务几点上班" is about the hotline's hours; "让你们那里的人给我回个电话" asks for a person
    bare_word = len(explicit) == 1 and len(found[explicit[0]].group(0)) <= 2  # type: ignore[union-attr]
    if len(explicit) == 1 and not (intent == "faq" and bare_word and FAQ_TOPIC.search(text)) and not (exact and asks):
        # "让你们那里的人给我回个电话" asks for a person in so many words, whatever the classifier guessed
        return explicit[0]
    if unsure and marked_kind(text) and not (exact and asks):
        return marked_kind(text)
    if intent == POLICY_INTENT:
        if strong_kind and not exact:
            # "能不能派人上门给她做评定": a plea in so many words that the documents do not answer
            return strong_kind
        return POLICY_INTENT if about_policy else None
    if intent in ("faq", "out_of_scope") and not (exact and asks) and strong_kind:
        # "你们能安排人教我用读屏软件吗" asks for help, even though it names an FAQ topic
        return strong_kind
    if intent == "faq" and FAQ_TOPIC.search(text) and not exact:
        return None
    if about_policy and (unsure or exact or intent in SMALL_TALK_INTENTS or intent in ("out_of_scope", "faq")):
        return POLICY_INTENT
    return None


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class EvidenceRouter(GraphComponent, IntentClassifier):
    """Re-routes a turn to `ask_policy` when the documents answer it better than the intent fits (see module)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            # knowledge-base confidence that is enough without a question word
            "strong": 0.75,
            # confidence needed when the classifier took the text for an answer to a form question
            "answer_strong": 0.5,
            # a routed turn's confidence: above the FallbackClassifier's threshold
            "confidence": 0.95,
            "timeout": DEFAULT_TIMEOUT,
            "min_chinese": MIN_CHINESE,
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self._client: EvidenceClient | None = None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> EvidenceRouter:
        return cls(config)

    def client(self) -> EvidenceClient:
        if self._client is None:
            url, token = evidence_endpoint()
            self._client = EvidenceClient(url, token, float(self.config["timeout"]))
        return self._client

    def _evidence(self, text: str) -> dict[str, Any] | None:
        """The channel's prefetched evidence for this very text, else a (blocking) lookup now."""
        ready = prefetched.get()
        if ready is not None and ready[0] == text:
            return ready[1]
        return self.client().evidence(text)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            current = message.get(INTENT) or {}
            name = str(current.get(INTENT_NAME_KEY) or "")
            confident_emergency = name == "emergency" and float(current.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= (
                FALLBACK_THRESHOLD
            )
            if confident_emergency or not worth_asking(text, int(self.config["min_chinese"])):
                continue
            found = self._evidence(text)
            if found is not None:
                # kept with the turn's parse data: the actions read it instead of asking the app again
                kept = {"exact": bool(found.get("exact")), "answered": bool(found.get("answered"))}
                message.set(EVIDENCE_KEY, kept, add_to_output=True)
            routed = decide(
                text,
                name,
                float(current.get(PREDICTED_CONFIDENCE_KEY) or 0.0),
                found,
                strong=float(self.config["strong"]),
                answer_strong=float(self.config["answer_strong"]),
            )
            if routed is None:
                continue
            ranking = message.get(INTENT_RANKING_KEY) or []
            if routed == NEXT_INTENT:
                rest = [r for r in ranking if r.get(INTENT_NAME_KEY) != name]
                if rest:
                    demoted = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 0.0}
                    set_ranking(message, [*rest, demoted])
                continue
            promote(message, routed, float(self.config["confidence"]))
        return messages
