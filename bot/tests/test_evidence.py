"""Routing by evidence and the hand-off policy: what a citizen's turn is taken for.

Pins `hotline_nlu.evidence.decide` (a question the documents answer goes to ask_policy
whatever the classifier guessed; complaints, requests for a person, greetings, form answers
and emergencies keep their intent when their own words say so), `marks`, the
`EvidenceRouter`'s choice of which texts are worth asking about, `handoff_choice` (the
assistant steps back while a person is wanted, but never goes deaf), and `promote`
(a deliberate decision survives the FallbackClassifier).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from hotline_nlu.components import EMERGENCY_PATTERN, promote
from hotline_nlu.evidence import (
    NEXT_INTENT,
    POLICY_INTENT,
    EvidenceClient,
    EvidenceRouter,
    decide,
    marks,
    prefetched,
    worth_asking,
)
from hotline_nlu.policies import WAITING_ACTION, WITHDRAW_ACTION, handoff_choice

DOMAIN = Domain.load(str(Path(__file__).resolve().parent.parent / "domain.yml"))


def _evidence(answered: bool, exact: bool, confidence: float) -> dict[str, Any]:
    """An `/api/knowledge/evidence` answer."""
    return {
        "answered": answered,
        "exact": exact,
        "confidence": confidence,
        "score": confidence * 10,
        "doc_id": "doc-1" if answered else None,
        "place_not_covered": False,
    }


EXACT = _evidence(True, True, 0.9)
CLOSE = _evidence(True, False, 0.6)
NONE_FOUND = _evidence(False, False, 0.1)


def _decide(text: str, intent: str, confidence: float, evidence: dict[str, Any] | None) -> str | None:
    return decide(text, intent, confidence, evidence, strong=0.75, answer_strong=0.5)


@pytest.mark.parametrize(
    ("text", "intent", "confidence"),
    [
        ("村里残协主席能不能由村干部兼着", "faq", 0.9),
        ("残疾人两项补贴的标准是多少", "complain", 0.7),  # no complaint words
        ("喂 你好 我问个事 残疾人代表大会几年开一次", "greet", 0.8),
        ("盲人按摩店开业有没有扶持", "out_of_scope", 0.7),
        ("残疾人就业保障金按什么比例交", "faq", 0.3),  # the classifier is unsure
        ("专职委员一个月补助多少钱", "request_human", 0.6),  # asks for nobody
    ],
)
def test_a_question_the_documents_answer_goes_to_ask_policy(text: str, intent: str, confidence: float) -> None:
    assert _decide(text, intent, confidence, EXACT) == POLICY_INTENT


def test_a_complaint_in_its_own_words_stays_a_complaint_even_with_an_exact_answer() -> None:
    assert _decide("我要投诉社区工作人员态度差", "complain", 0.9, EXACT) is None


@pytest.mark.parametrize("evidence", [EXACT, CLOSE, NONE_FOUND])
@pytest.mark.parametrize("intent", ["complain", "request_help"])
def test_asking_after_an_earlier_report_is_a_status_lookup(intent: str, evidence: dict[str, Any]) -> None:
    text = "我上周投诉过残联窗口态度的事 想问问处理结果"
    assert _decide(text, intent, 0.9, evidence) == "check_ticket_status"


def test_naming_staff_without_asking_for_a_person_falls_to_the_next_intent() -> None:
    assert _decide("主要是那个工作人员说话太冲", "request_human", 0.6, NONE_FOUND) == NEXT_INTENT


def test_a_request_for_a_person_in_its_own_words_stays() -> None:
    assert _decide("我要转人工", "request_human", 0.9, EXACT) is None


@pytest.mark.parametrize(("intent", "confidence"), [("greet", 0.7), ("out_of_scope", 0.7), ("inform", 0.3)])
def test_asking_for_a_call_back_is_a_request_for_a_person(intent: str, confidence: float) -> None:
    assert _decide("让你们那里的人给我回个电话", intent, confidence, NONE_FOUND) == "request_human"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("人工耳蜗手术补助多少钱", False),
        ("残疾人工作能不能列进清单", False),
        ("人工智能能帮盲人读书吗", False),
        ("我要人工", True),
        ("帮我转接一下", True),
        ("找你们的负责人来跟我说", True),
    ],
)
def test_what_counts_as_asking_for_a_person(text: str, expected: bool) -> None:
    assert marks("request_human", text) is expected


def test_a_greeting_alone_stays_a_greeting_even_with_exact_evidence() -> None:
    assert _decide("喂 你好 听得到吗", "greet", 0.9, EXACT) is None


def test_a_form_answer_is_not_re_routed() -> None:
    assert _decide("和平区南营门街道西康路公交站", "inform", 0.9, CLOSE) is None


@pytest.mark.parametrize(("kb_confidence", "expected"), [(0.55, POLICY_INTENT), (0.45, None)])
def test_a_question_typed_into_a_form_needs_close_evidence(kb_confidence: float, expected: str | None) -> None:
    evidence = _evidence(True, False, kb_confidence)
    assert _decide("盲道被占了应该找哪个部门", "inform", 0.8, evidence) == expected


def test_an_unanswered_question_about_the_federations_matters_goes_to_the_knowledge_base() -> None:
    # the knowledge base then declines honestly and offers a work order
    assert _decide("北京残疾人坐地铁免费吗", "out_of_scope", 0.8, NONE_FOUND) == POLICY_INTENT


def test_an_everyday_out_of_scope_question_stays() -> None:
    assert _decide("红烧肉怎么做好吃", "out_of_scope", 0.8, NONE_FOUND) is None


@pytest.mark.parametrize("evidence", [EXACT, CLOSE, NONE_FOUND, None])
def test_a_confident_emergency_is_never_re_routed(evidence: dict[str, Any] | None) -> None:
    assert _decide("我爸晕倒了 残疾人补贴怎么申请", "emergency", 0.9, evidence) is None


@pytest.mark.parametrize("intent", ["faq", "greet", "out_of_scope", "complain"])
def test_without_the_app_a_confident_intent_is_left_alone(intent: str) -> None:
    assert _decide("残疾证过期了怎么办理", intent, 0.9, None) is None


def test_without_the_app_an_unsure_guess_takes_the_kind_its_words_name() -> None:
    assert _decide("我要投诉", "greet", 0.2, None) == "complain"


@pytest.mark.parametrize("text", ["/greet", "0", "我按0了", "13812345678", "救命 有人拿刀", "你好"])
def test_the_router_does_not_ask_the_knowledge_base_about(text: str) -> None:
    assert not worth_asking(text)


def test_the_router_asks_about_a_question() -> None:
    assert worth_asking("残疾人两项补贴怎么申请")


def _routed_with(prefetch: tuple[str, dict[str, Any] | None] | None, text: str) -> str:
    """The intent the router gives a text the classifier took for a greeting, with the app unreachable."""
    router = EvidenceRouter(EvidenceRouter.get_default_config())
    router._client = EvidenceClient("http://127.0.0.1:9/api/knowledge/evidence", "", 0.5)  # nothing listens
    message = Message(data={TEXT: text})
    message.set(INTENT, {INTENT_NAME_KEY: "greet", PREDICTED_CONFIDENCE_KEY: 0.3}, add_to_output=True)
    reset = prefetched.set(prefetch)
    try:
        router.process([message])
    finally:
        prefetched.reset(reset)
    return str(message.get(INTENT)[INTENT_NAME_KEY])


def test_the_router_uses_the_evidence_the_channel_fetched_for_this_text() -> None:
    text = "残疾人两项补贴怎么申请"
    assert _routed_with((text, EXACT), text) == POLICY_INTENT


def test_evidence_fetched_for_another_text_is_not_used() -> None:
    assert _routed_with(("残联代表大会几年开一次", EXACT), "残疾人两项补贴怎么申请") == "greet"


def test_a_failed_prefetch_is_not_retried_on_rasas_loop() -> None:
    """The channel's lookup found the app down: the classifier decides alone, with no second wait."""
    text = "残疾人两项补贴怎么申请"
    assert _routed_with((text, None), text) == "greet"


# --- handoff_choice -------------------------------------------------------------------------


def _tracker(
    text: str, intent: str, *, held: bool = False, handoff: bool = True, after: str | None = None
) -> DialogueStateTracker:
    events = [
        SlotSet("handoff", handoff),
        ActionExecuted("action_listen"),
        UserUttered(text, intent={"name": intent, "confidence": 1.0}, metadata={"held": held}),
    ]
    if after:
        events.append(ActionExecuted(after))
    return DialogueStateTracker.from_events("handoff-test", events, DOMAIN.slots)


@pytest.mark.parametrize("held", [False, True])
def test_an_emergency_during_a_handoff_is_left_to_the_rules(held: bool) -> None:
    assert handoff_choice(_tracker("救命 我妈晕倒了", "emergency", held=held)) is None


@pytest.mark.parametrize(
    ("text", "intent", "held"),
    [("算了不用了", "greet", False), ("算了不用了", "greet", True), ("嗯", "cancel", False), ("不", "deny", True)],
)
def test_a_withdrawal_gives_the_conversation_back(text: str, intent: str, held: bool) -> None:
    assert handoff_choice(_tracker(text, intent, held=held)) == WITHDRAW_ACTION


@pytest.mark.parametrize("intent", ["greet", "ask_policy", "complain"])
def test_while_a_person_holds_the_session_the_assistant_is_silent(intent: str) -> None:
    assert handoff_choice(_tracker("你好 还在吗", intent, held=True)) == "action_listen"


@pytest.mark.parametrize("intent", ["ask_policy", "faq"])
def test_while_waiting_questions_are_still_answered(intent: str) -> None:
    assert handoff_choice(_tracker("残疾证怎么办", intent)) is None


def test_while_waiting_anything_else_gets_the_waiting_message() -> None:
    assert handoff_choice(_tracker("你好", "greet")) == WAITING_ACTION


def test_without_a_handoff_the_policy_does_not_decide() -> None:
    assert handoff_choice(_tracker("你好", "greet", handoff=False)) is None


@pytest.mark.parametrize(
    ("after", "handoff"), [(WAITING_ACTION, True), (WITHDRAW_ACTION, True), (WITHDRAW_ACTION, False)]
)
def test_after_its_own_action_the_policy_listens(after: str, handoff: bool) -> None:
    assert handoff_choice(_tracker("你好", "greet", handoff=handoff, after=after)) == "action_listen"


# --- promote --------------------------------------------------------------------------------


def _message(ranking: dict[str, float]) -> Message:
    rows = [{"name": name, "confidence": value} for name, value in ranking.items()]
    return Message(data={TEXT: "村里残协主席能不能由村干部兼着", INTENT: rows[0], INTENT_RANKING_KEY: rows})


@pytest.mark.parametrize("target", [POLICY_INTENT, "complain"])
def test_promote_puts_the_intent_first_and_the_rest_share_what_is_left(target: str) -> None:
    message = _message({"faq": 0.5, "complain": 0.3, "greet": 0.2})
    promote(message, target, 0.95)
    ranking = message.get(INTENT_RANKING_KEY)
    assert message.get(INTENT) == {"name": target, "confidence": 0.95}
    assert ranking[0] == {"name": target, "confidence": 0.95}
    rest = ranking[1:]
    assert [r["name"] for r in rest] == [n for n in ("faq", "complain", "greet") if n != target]  # order kept
    assert sum(r["confidence"] for r in rest) == pytest.approx(0.05)
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)


def test_a_promoted_intent_survives_the_fallback_classifier() -> None:
    # two intents within 0.05 would be "ambiguous": the promotion must leave a clear winner
    message = _message({"faq": 0.41, "ask_policy": 0.40, "greet": 0.19})
    FallbackClassifier({"threshold": 0.4, "ambiguity_threshold": 0.05}).process([message])
    assert message.get(INTENT)["name"] == "nlu_fallback"  # the unpromoted turn falls back
    message = _message({"faq": 0.41, "ask_policy": 0.40, "greet": 0.19})
    promote(message, POLICY_INTENT, 0.95)
    FallbackClassifier({"threshold": 0.4, "ambiguity_threshold": 0.05}).process([message])
    assert message.get(INTENT)["name"] == POLICY_INTENT


@pytest.mark.parametrize(
    "text",
    ["他说被人骗到一个地方关起来了", "我坐轮椅被困在电梯里一个多小时了", "老人被锁在屋里了", "我们困住了出不去"],
)
def test_being_trapped_is_an_emergency(text: str) -> None:
    assert EMERGENCY_PATTERN.search(text)


@pytest.mark.parametrize("text", ["办公室的门关起来了吗", "残疾证办下来要多久", "被评为残疾人之家示范点"])
def test_ordinary_words_are_not_an_emergency(text: str) -> None:
    assert not EMERGENCY_PATTERN.search(text)


def test_a_plea_the_documents_do_not_answer_is_a_request_for_help() -> None:
    text = "你好 我是成都的 我妈卧床三年了 一直办不了残疾证 能不能派人上门给她做评定"
    assert _decide(text, POLICY_INTENT, 0.8, _evidence(False, False, 0.2)) == "request_help"
    # the same words about what the documents answer exactly stay a policy question
    assert _decide(text, POLICY_INTENT, 0.8, EXACT) in (None, POLICY_INTENT)


def test_asking_the_hotline_to_arrange_help_is_not_an_faq() -> None:
    text = "在吗 我刚搬到杭州 是盲人 想找人教我用手机读屏软件 你们能安排人帮我吗"
    assert _decide(text, "faq", 0.9, NONE_FOUND) == "request_help"


def test_another_services_order_number_is_not_a_work_order() -> None:
    assert _decide("快递 到 哪 了 单号 SF1234567890 查", "out_of_scope", 0.6, NONE_FOUND) is None
    assert _decide("我想查一下单号 202612040001 的进度", "faq", 0.6, NONE_FOUND) == "check_ticket_status"


def test_a_plea_taken_for_a_complaint_is_a_request_for_help() -> None:
    text = "我妈卧床三年了 一直办不了残疾证 能不能派人上门给她做评定"
    assert _decide(text, "complain", 0.7, _evidence(False, False, 0.2)) == "request_help"


def test_offering_help_in_a_question_about_the_association_is_not_a_plea() -> None:
    assert _decide("残协除了帮忙，还搞不搞宣传和活动", "faq", 0.7, CLOSE) != "request_help"


def test_an_unsure_guess_about_a_parcel_is_no_status_lookup() -> None:
    assert _decide("快递 到 哪 了 单号 SF1234567890 查", "greet", 0.2, None) != "check_ticket_status"
