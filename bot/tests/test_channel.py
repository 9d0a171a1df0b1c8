"""The gateway channel's answer to a resumed turn: the answer already given, never a second one."""

from __future__ import annotations

from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from hotline_nlu.channel import answered_before


def _tracker() -> DialogueStateTracker:
    events = [
        UserUttered("你好", intent={"name": "greet", "confidence": 0.99}, metadata={"log_id": 7}),
        ActionExecuted("utter_greet"),
        BotUttered("您好，这里是残联服务热线。", data={"buttons": [{"title": "转人工", "payload": "/request_human"}]}),
        ActionExecuted("action_listen"),
        UserUttered("转人工", intent={"name": "request_human", "confidence": 0.97}, metadata={"log_id": 8}),
        SlotSet("handoff", True),
        BotUttered("好的，正在为您转接工作人员。"),
        BotUttered(None, data={"custom": {"handoff": True}}),
        ActionExecuted("action_listen"),
    ]
    return DialogueStateTracker.from_events("web-resume", events, slots=[])


def test_a_message_the_assistant_saw_is_answered_from_the_tracker() -> None:
    first = answered_before(_tracker(), 7, ("handoff",))
    assert first is not None
    assert [m.get("text") for m in first["messages"]] == ["您好，这里是残联服务热线。"]
    assert first["messages"][0]["buttons"] == [{"title": "转人工", "payload": "/request_human"}]
    assert first["intent"] == {"name": "greet", "confidence": 0.99}

    second = answered_before(_tracker(), 8, ("handoff",))
    assert second is not None
    assert [m.get("text") for m in second["messages"]] == ["好的，正在为您转接工作人员。", None]
    assert second["messages"][1]["custom"] == {"handoff": True}
    assert second["intent"]["name"] == "request_human"


def test_a_message_the_assistant_never_saw_is_left_to_answer() -> None:
    assert answered_before(_tracker(), 9, ("handoff",)) is None
    assert answered_before(None, 7, ("handoff",)) is None
    assert answered_before(_tracker(), None, ("handoff",)) is None
