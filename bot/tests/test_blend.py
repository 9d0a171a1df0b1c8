"""NgramIntentBlend: trained, stored and loaded through Rasa's own model storage."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from hotline_nlu.blend import NgramIntentBlend

EXAMPLES = {
    "greet": ["你好", "您好", "喂你好", "你好啊", "早上好", "下午好"],
    "thank": ["谢谢", "谢谢你", "多谢", "太感谢了", "谢谢您", "非常感谢"],
    "request_human": ["转人工", "人工服务", "找工作人员", "我要人工", "转接人工", "帮我转人工"],
}


def _blend(tmp_path: Path, weight: float) -> tuple[NgramIntentBlend, LocalModelStorage, Resource]:
    storage = LocalModelStorage(tmp_path)
    resource = Resource("blend")
    context = ExecutionContext(GraphSchema({}), "test")
    config = {**NgramIntentBlend.get_default_config(), "diet_weight": weight}
    component = NgramIntentBlend.create(config, storage, resource, context)
    data = TrainingData(
        [Message(data={TEXT: text, INTENT: intent}) for intent, texts in EXAMPLES.items() for text in texts]
    )
    component.train(data)
    return component, storage, resource


def _diet_message(text: str, ranking: dict[str, float]) -> Message:
    rows = [{"name": name, "confidence": value} for name, value in ranking.items()]
    return Message(data={TEXT: text, INTENT: rows[0], INTENT_RANKING_KEY: rows})


def test_blend_is_the_weighted_mean_of_diet_and_the_ngram_model(tmp_path: Path) -> None:
    component, _, _ = _blend(tmp_path, 0.5)
    assert component.model is not None
    ngram = dict(zip(component.model.classes_, component.model.predict_proba(["谢谢你了"])[0], strict=False))
    message = _diet_message("谢谢你了", {"greet": 0.9, "thank": 0.1})
    component.process([message])
    ranking = {row["name"]: row["confidence"] for row in message.get(INTENT_RANKING_KEY)}
    assert set(ranking) == {"greet", "thank", "request_human"}
    assert ranking["greet"] == pytest.approx(0.5 * 0.9 + 0.5 * ngram["greet"])
    assert ranking["request_human"] == pytest.approx(0.5 * ngram["request_human"])
    assert sum(ranking.values()) == pytest.approx(1.0)
    # the n-gram model has seen 谢谢 under thank only: it outweighs DIET's mistake
    assert message.get(INTENT)["name"] == "thank"
    assert message.get(INTENT)["confidence"] == max(ranking.values())


def test_the_fast_scorer_matches_the_pipeline(tmp_path: Path) -> None:
    component, _, _ = _blend(tmp_path, 0.5)
    assert component.model is not None and component.scorer is not None
    assert component.scorer.classes == list(component.model.classes_)
    for text in ["你好", "谢谢谢谢", "我要找人工", "完全没见过的句子", "ok", "OK 好", "", "好 好  好"]:
        assert component.scorer.probabilities(text) == pytest.approx(component.model.predict_proba([text])[0])


def test_a_full_diet_weight_keeps_diets_choice(tmp_path: Path) -> None:
    component, _, _ = _blend(tmp_path, 1.0)
    message = _diet_message("谢谢你了", {"greet": 0.9, "thank": 0.1})
    component.process([message])
    assert message.get(INTENT) == {"name": "greet", "confidence": pytest.approx(0.9)}


def test_the_stored_model_loads_and_gives_the_same_ranking(tmp_path: Path) -> None:
    component, storage, resource = _blend(tmp_path, 0.5)
    context = ExecutionContext(GraphSchema({}), "test")
    loaded = NgramIntentBlend.load(component.config, storage, resource, context)
    diet = {"request_human": 0.6, "greet": 0.4}
    first, second = _diet_message("我要找人工", diet), _diet_message("我要找人工", diet)
    component.process([first])
    loaded.process([second])
    assert first.get(INTENT_RANKING_KEY) == second.get(INTENT_RANKING_KEY)
    assert second.get(INTENT)["name"] == "request_human"


def test_an_untrained_blend_and_an_empty_text_leave_the_message_alone(tmp_path: Path) -> None:
    storage = LocalModelStorage(tmp_path)
    context = ExecutionContext(GraphSchema({}), "test")
    config = NgramIntentBlend.get_default_config()
    untrained = NgramIntentBlend.load(config, storage, Resource("missing"), context)
    message = _diet_message("你好", {"greet": 0.7, "thank": 0.3})
    untrained.process([message])
    assert message.get(INTENT) == {"name": "greet", "confidence": 0.7}
    (tmp_path / "trained").mkdir()
    trained, _, _ = _blend(tmp_path / "trained", 0.5)
    blank = _diet_message("   ", {"thank": 0.8, "greet": 0.2})
    trained.process([blank])
    assert blank.get(INTENT) == {"name": "thank", "confidence": 0.8}


def test_ngrams_know_where_the_text_begins_and_ends(tmp_path: Path) -> None:
    component, _, _ = _blend(tmp_path, 0.5)
    assert component.model is not None
    vocabulary = component.model.steps[0][1].vocabulary_
    assert {"^谢", "谢$", "^你好", "你好$"} <= set(vocabulary)
    assert "^好" not in vocabulary
