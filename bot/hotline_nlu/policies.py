"""Dialogue policies: silence while a person holds the session, rules over recent turns."""

from __future__ import annotations

import re
from typing import Any

from rasa.core.policies.policy import Policy, PolicyPrediction
from rasa.core.policies.rule_policy import RULES, RulePolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted
from rasa.shared.core.generator import TrackerWithCachedStates
from rasa.shared.core.trackers import DialogueStateTracker

HANDOFF_SLOT = "handoff"


# Words by which a citizen takes back a request for a person.
WITHDRAW = re.compile(
    r"不用了|不需要了|不要了|算了|不找了|不转了|不用转|不要转|取消|撤回|不用人工|不要人工|没事了|自己问"
)
WITHDRAW_ACTION = "action_withdraw_handoff"
WAITING_ACTION = "action_waiting_for_person"
# While waiting (nobody holds the conversation yet) the assistant still answers these.
ANSWERED_WHILE_WAITING = frozenset({"ask_policy", "faq"})


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class HandoffPolicy(Policy):
    """While the bool slot `handoff` is true, the assistant steps back, but never goes deaf.

    - an emergency is left to the rules (the emergency reply, numbers first, at once);
    - a withdrawal ("不用了", "算了", cancel, deny) runs `action_withdraw_handoff`, which
      gives the conversation back to the assistant;
    - while a person holds the conversation (the gateway says so in the message metadata,
      `held`), anything else is theirs: `action_listen`;
    - while the citizen only waits, questions are still answered, and anything else gets
      `action_waiting_for_person` (what happens next and how to withdraw).

    Its priority is above RulePolicy's, so it wins every tie at confidence 1.0. The app
    hands the session back by setting the slot to false through the tracker events API.
    """

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {"priority": 7, "slot": HANDOFF_SLOT}

    def train(self, training_trackers: list[TrackerWithCachedStates], domain: Domain, **kwargs: Any) -> Resource:
        with self._model_storage.write_to(self._resource) as path:
            (path / "handoff_policy.json").write_text("{}", encoding="utf-8")
        return self._resource

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        probabilities = self._default_predictions(domain)
        choice = handoff_choice(tracker, self.config.get("slot", HANDOFF_SLOT))
        if choice is not None and choice in domain.action_names_or_texts:
            probabilities[domain.index_for_action(choice)] = 1.0
        return self._prediction(probabilities)


def handoff_choice(tracker: DialogueStateTracker, slot: str = HANDOFF_SLOT) -> str | None:
    """The action the hand-off state dictates, or None to let the other policies decide."""
    latest = tracker.latest_action_name
    if latest in (WITHDRAW_ACTION, WAITING_ACTION):
        return ACTION_LISTEN_NAME
    if tracker.get_slot(slot) is not True:
        return None
    if latest != ACTION_LISTEN_NAME:
        # after the assistant's own reply (an answer, the emergency reply): wait for the citizen
        return ACTION_LISTEN_NAME
    message = tracker.latest_message
    if message is None:
        return ACTION_LISTEN_NAME
    intent = (message.intent or {}).get("name")
    text = message.text or ""
    if intent == "emergency":
        return None
    if intent in ("cancel", "deny") or WITHDRAW.search(text):
        return WITHDRAW_ACTION
    held = bool((message.metadata or {}).get("held"))
    if held:
        return ACTION_LISTEN_NAME
    if intent in ANSWERED_WHILE_WAITING:
        return None
    return WAITING_ACTION


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITHOUT_END_TO_END_SUPPORT, is_trainable=True)
class RecentRulePolicy(RulePolicy):
    """RulePolicy that describes only the recent turns a rule can look at.

    Rasa's RulePolicy turns every earlier turn of the conversation into a state dict on
    each of the two predictions per turn, so a turn cost more the longer the call or chat
    went on (a rule policy at turn 150 spent 45% of the assistant's CPU there). A rule of
    n steps only ever compares the last n states (`RulePolicy._get_possible_keys`
    accepts every rule once it has looked further back than the rule is long), so the
    states of the turns before the longest rule plus one change no prediction. The whole
    conversation is still replayed, because a state depends on every slot set before it.
    """

    def _prediction_states(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        use_text_for_last_user_input: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[State]:
        rules = self.lookup.get(RULES) or {}
        if not rules:
            return super()._prediction_states(tracker, domain, use_text_for_last_user_input, rule_only_data)
        states = recent_states(tracker, domain, self._states_to_keep(rules))
        self.featurizer._choose_last_user_input([states], use_text_for_last_user_input)
        return states

    def _states_to_keep(self, rules: dict[str, str]) -> int:
        """The longest rule's length plus one, worked out once per set of rules (the set
        only changes while training), not on each of the two predictions of every turn."""
        known: tuple[dict[str, str], int, int] | None = getattr(self, "_keep_for_rules", None)
        if known is None or known[0] is not rules or known[1] != len(rules):
            known = (rules, len(rules), max(len(self._rule_key_to_state(key)) for key in rules) + 1)
            self._keep_for_rules = known
        return known[2]


def recent_states(tracker: DialogueStateTracker, domain: Domain, keep: int) -> list[State]:
    """The last `keep` states of `domain.states_for_tracker_history(tracker)` (with its
    defaults: unset slots kept, rule-only turns kept), computed only for those turns."""
    events = tracker.applied_events()
    total = sum(isinstance(event, ActionExecuted) for event in events) + 1
    first = total - keep
    replay = tracker.init_copy()
    states: list[State] = []
    index = 0
    for event in events:
        if isinstance(event, ActionExecuted):
            if index >= first:
                states.append(domain._clean_state(domain.get_active_state(replay)))
            index += 1
        replay.update(event)
    states.append(domain._clean_state(domain.get_active_state(replay)))
    return states
