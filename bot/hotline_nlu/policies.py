"""Dialogue policy that keeps the assistant silent while a person holds the session."""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

HANDOFF_SLOT = "handoff"


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True
)
class HandoffPolicy(Policy):
    """While the bool slot `handoff` is true, the only prediction is `action_listen`.

    Its priority is above RulePolicy's, so it wins every tie at confidence 1.0. The app
    hands the session back by setting the slot to false through the tracker events API.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7, "slot": HANDOFF_SLOT}

    def train(
        self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any
    ) -> Resource:
        with self._model_storage.write_to(self._resource) as path:
            (path / "handoff_policy.json").write_text("{}", encoding="utf-8")
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: Optional[dict[str, Any]] = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        if tracker.get_slot(self.config.get("slot", HANDOFF_SLOT)) is True:
            probabilities[domain.index_for_action(ACTION_LISTEN_NAME)] = 1.0
        return self._prediction(probabilities)
