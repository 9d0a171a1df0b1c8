"""RecentRulePolicy must see exactly the recent states RulePolicy would have seen."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from hotline_nlu.policies import recent_states

DOMAIN = Domain.load(str(Path(__file__).resolve().parent.parent / "domain.yml"))


def _user(intent: str) -> UserUttered:
    return UserUttered("…", {"name": intent, "confidence": 1.0})


# A complaint taken through the form, a repeat that is reverted, thanks, then a restart.
CONVERSATION: list[Event] = [
    ActionExecuted("action_session_start"),
    SessionStarted(),
    ActionExecuted("action_listen"),
    _user("greet"),
    ActionExecuted("utter_greet"),
    ActionExecuted("action_listen"),
    _user("complain"),
    ActionExecuted("action_triage_intake"),
    ActionExecuted("intake_form"),
    ActiveLoop("intake_form"),
    SlotSet("requested_slot", "intake_what"),
    ActionExecuted("action_listen"),
    _user("inform"),
    ActionExecuted("intake_form"),
    SlotSet("intake_what", "盲道被占"),
    SlotSet("requested_slot", None),
    ActiveLoop(None),
    ActionExecuted("action_submit_intake"),
    ActionExecuted("action_listen"),
    _user("repeat"),
    ActionExecuted("action_repeat"),
    UserUtteranceReverted(),
    _user("thank"),
    ActionExecuted("utter_thank"),
    ActionExecuted("action_listen"),
    Restarted(),
    ActionExecuted("action_listen"),
    _user("greet"),
]


@pytest.mark.parametrize("cut", range(1, len(CONVERSATION) + 1))
def test_recent_states_equal_the_tail_of_all_states(cut: int) -> None:
    tracker = DialogueStateTracker.from_events("policy-test", CONVERSATION[:cut], DOMAIN.slots)
    every_state = DOMAIN.states_for_tracker_history(tracker)
    for keep in range(1, 8):
        assert recent_states(tracker, DOMAIN, keep) == every_state[-keep:]
