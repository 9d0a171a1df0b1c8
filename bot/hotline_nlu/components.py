"""NLU graph components: normalisation before tokenisation, emergency safety net, FAQ answers."""

from __future__ import annotations

import re
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.selectors.response_selector import ResponseSelector
from rasa.shared.nlu.constants import (
    INTENT,
    INTENT_NAME_KEY,
    INTENT_RANKING_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from hotline_nlu.normalize import MORE, normalize

# Words that mean danger to life or safety whatever the rest of the sentence says.
EMERGENCY_PATTERN = re.compile(
    r"(不想活|想死|活不下去|自杀|轻生|寻死|跳楼|跳河|割腕|救命|"
    r"家暴|被打|打我|打他|打她|虐待|掐我|拿刀|动刀|砍人|"
    r"走丢|走失|找不到人了|人不见了|失踪|"
    r"晕倒|昏倒|昏迷|不省人事|抽搐|喘不上气|喘不过气|不能呼吸|没有呼吸|大出血|流了好多血|心脏病犯了|"
    r"倒地|叫不醒|喊不醒|不醒人事|噎住|噎着|被车撞|撞倒了|被撞了|抢劫|被抢|打伤|流血不止|"
    r"被.{0,12}(关|锁)起来|被(困|锁|关)(在|住)|困住了|被绑|绑架|被拐|拐走|着火|失火|火灾|煤气泄漏|燃气泄漏|"
    r"(出门|出去|走了).{0,12}(没回来|没回家|找不到|联系不上))"
)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class TextNormalizer(GraphComponent):
    """Rewrites the message text (see `hotline_nlu.normalize`) before the tokenizer.

    Placed first in the pipeline so that training, evaluation and inference all see
    normalised text.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextNormalizer:
        return cls()

    @staticmethod
    def _apply(message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str) and text:
            message.set(TEXT, normalize(text))

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._apply(example)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._apply(message)
        return messages


# A bare number (phone, work-order number, last four digits), typed, spoken or keyed.
NUMBER_ONLY = re.compile(r"^[\s+\-#*()（）0-9]{4,}$")
# Key 0 alone, or a text saying it was pressed ("按0", "我按0了"): a person (the voice
# gateway may pass the keypad digit through, and a texter follows the spoken menu).
KEY_ZERO = re.compile(r"^\s*(我?(已经)?按了?\s*)?[0零〇]\s*(号?键)?\s*了?\s*#?\s*$")
# "登记" alone (or "帮我登记一下"): yes to the consultation work order the knowledge base offered; the spoken
# prompt says "请说登记". The classifier took the bare word for cancel.
REGISTER = re.compile(r"^\s*(好的?|行|嗯)?[，, ]*(要|帮我|给我|请|那就|就)?登记(一下|吧|一个|工单)?[。！!]?\s*$")
# A bare answer to the assistant's contact question (电话/短信/网上/不需要联系, as typed or as its buttons send
# it): the classifier took "打电话" for a question about office hours, and the answer was lost.
CONTACT_ANSWER = re.compile(
    r"^\s*(请|就|还是)?(给我)?(打电话|电话|回电话?|发短信|短信|在?网上回复|网上对话|在线回复|不需要联系|不用联系|不需要回复|不用回复)"
    r"(联系我?|通知我?|回复我?|告诉我?|我)?(吧|就行了?|就可以了?|好了)?[。！!]?\s*$"
)
# Typed input with no Chinese character and no digit: keyboard noise, stray punctuation,
# unless it is one of the few Latin words people do type to the hotline.
NO_CHINESE_NOR_DIGIT = re.compile(r"^[^\u4e00-\u9fff0-9]*$")
LATIN_WORDS = frozenset(
    [
        "ok",
        "okay",
        "okk",
        "yes",
        "yeah",
        "yep",
        "y",
        "no",
        "nope",
        "n",
        "hi",
        "hello",
        "hey",
        "bye",
        "byebye",
        "goodbye",
        "see",
        "you",
        "u",
        "good",
        "morning",
        "night",
        "thanks",
        "thx",
        "thank",
        "please",
        "sorry",
        "help",
        "sos",
        "hao",
        "haode",
        "shi",
        "bushi",
        "dui",
        "xiexie",
        "zaijian",
        "nihao",
        "rengong",
    ]
)
# Onomatopoeia and interjections alone (嗡嗡嗡, 汪汪汪, 哈哈哈, 噼里啪啦): laughter, a pet, a
# line noise typed or transcribed. They carry no request, and the classifier, seeing
# only characters it has rarely met, guessed a short intent (affirm). 嗯 is left out
# (嗯嗯 is a yes), and one or two of 哦/噢/喔/啊 stay with the classifier (哦哦: "I see").
_SOUND_CHARS = (
    "嘤嘎嗡嘀汪叮咚啧噼里啪啦咿呀哎喵哈嘿呵嘻呜哇嗷咯叽喳嘟哒嗒咕噜吱砰嘭轰咩哞呱咻嗖啾咳噗啊哦噢喔诶欸唉哼咦呃"
)
ONOMATOPOEIA = re.compile(rf"^[{_SOUND_CHARS}]{{2,}}$")
SHORT_ACKNOWLEDGEMENT = re.compile(r"^[哦噢喔啊]{1,2}$")
_NOT_WORDS = re.compile(r"[\s，,。.？?！!、…~～]+")
# Words that name the federation's own people and services. None of the out-of-scope
# training or held-out examples holds one, so a text with one is never out of scope:
# "残疾证过期了怎么办" was sent there by everyday "X过期了怎么办" questions.
IN_SCOPE_PATTERN = re.compile(
    r"(残疾|残联|残协|助残|盲人|盲道|聋|轮椅|助听器|辅具|辅助器具|假肢|托养|补贴|评残|残保金|无障碍|手语|"
    r"12385|专职委员|康复|导盲|自闭症|孤独症|特殊教育|特教|智障|智力障碍|精神障碍|肢体障碍|视力障碍|听力障碍|"
    r"视障|听障|聋哑|失明|截肢|瘫痪|护理补贴|生活补贴)"
)


def set_ranking(message: Message, ranking: list[dict[str, Any]]) -> None:
    """Make `ranking` (best first) the message's intent ranking and its first row the intent."""
    message.set(INTENT, dict(ranking[0]), add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)


def promote(message: Message, intent: str, confidence: float) -> None:
    """Put `intent` first with `confidence`; the others share what is left, in their order.

    Leaving their old scores would let the FallbackClassifier's ambiguity rule (two intents
    within 0.05) undo a deliberate decision.
    """
    rest = [dict(r) for r in (message.get(INTENT_RANKING_KEY) or []) if r.get(INTENT_NAME_KEY) != intent]
    total = sum(float(r.get(PREDICTED_CONFIDENCE_KEY) or 0.0) for r in rest) or 1.0
    for row in rest:
        row[PREDICTED_CONFIDENCE_KEY] = (1.0 - confidence) * float(row.get(PREDICTED_CONFIDENCE_KEY) or 0.0) / total
    set_ranking(message, [{INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: confidence}, *rest])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class IntentOverrides(GraphComponent, IntentClassifier):
    """Deterministic corrections after the statistical classifier, before
    FallbackClassifier:

    - a text that names a danger to life or safety is `emergency` (a missed
      emergency costs far more than a needless transfer to a person);
    - a bare number is `inform` (a phone number must never look like key 0);
    - key 0 alone is `request_human`;
    - typed noise without a Chinese character or a digit ("hnfk", "。。。") and
      onomatopoeia alone ("嗡嗡嗡") are `out_of_scope`: with no known feature the
      classifier fell back on its most frequent short intent, affirm, and at a
      read-back that would have submitted;
    - a text that names the federation's own services is not `out_of_scope`: the
      best in-scope intent of the ranking is taken (with its own confidence, so an
      unsure one still goes to the fallback and is asked again).
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"confidence": 0.99}

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> IntentOverrides:
        return cls(config)

    @staticmethod
    def forced_intent(text: str) -> str | None:
        if EMERGENCY_PATTERN.search(text):
            return "emergency"
        if KEY_ZERO.match(text):
            return "request_human"
        if REGISTER.match(text):
            return "affirm"
        if MORE.match(text):
            return "ask_policy"
        if NUMBER_ONLY.match(text):
            return "inform"
        if CONTACT_ANSWER.match(text):
            return "inform"
        bare = _NOT_WORDS.sub("", text)
        if ONOMATOPOEIA.match(bare) and not SHORT_ACKNOWLEDGEMENT.match(bare):
            return "out_of_scope"
        if not text.startswith("/") and NO_CHINESE_NOR_DIGIT.match(text):
            words = re.findall(r"[a-z]+", text.lower())
            if not words or not all(w in LATIN_WORDS for w in words):
                return "out_of_scope"
        return None

    @staticmethod
    def in_scope_ranking(text: str, ranking: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """The ranking with out_of_scope moved last, when the text names our services and
        out_of_scope came first; None when nothing is to change."""
        if not ranking or ranking[0].get(INTENT_NAME_KEY) != "out_of_scope" or not IN_SCOPE_PATTERN.search(text):
            return None
        in_scope = [r for r in ranking if r.get(INTENT_NAME_KEY) != "out_of_scope"]
        return [*in_scope, ranking[0]] if in_scope else None

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            intent = self.forced_intent(text)
            current = message.get(INTENT) or {}
            if not intent and current.get(INTENT_NAME_KEY) == "out_of_scope":
                reordered = self.in_scope_ranking(text, message.get(INTENT_RANKING_KEY) or [])
                if reordered:
                    set_ranking(message, reordered)
                continue
            if not intent:
                continue
            if current.get(INTENT_NAME_KEY) == intent and float(current.get(PREDICTED_CONFIDENCE_KEY) or 0.0) >= float(
                self.config["confidence"]
            ):
                continue
            promote(message, intent, float(self.config["confidence"]))
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class RetrievalResponseSelector(ResponseSelector):
    """Rasa's ResponseSelector, run only on messages classified as its retrieval intent.

    The stock component runs its network on every message although only an FAQ turn
    (`utter_faq`) reads its answer; that was an eighth of the assistant's CPU per turn.
    It must come after the intent classifiers (and `IntentOverrides`).
    """

    def process(self, messages: list[Message]) -> list[Message]:
        wanted = [m for m in messages if (m.get(INTENT) or {}).get(INTENT_NAME_KEY) == self.retrieval_intent]
        if wanted:
            super().process(wanted)
        return messages
