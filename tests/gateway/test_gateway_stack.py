"""The gateway against the real Rasa: one webhook call per turn carries replies, intent and handoff.

The gateway channel (bot/hotline_nlu/channel.py) and the tracker store that hands a
conversation's tracker from one turn to the next (bot/hotline_nlu/tracker_store.py)
must give the same answers and store the same events as reading everything back.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from tests.staff_support import on_duty

pytestmark = pytest.mark.stack


def _turn(stack, session_id: str, text: str) -> dict:
    resp = httpx.post(
        f"{stack.app_url}/api/chat/messages",
        json={"session_id": session_id, "text": text, "channel": "web"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_each_turn_reports_its_own_intent_and_every_event_is_stored_once(stack) -> None:
    said = ["你好", "谢谢", "你是机器人吗", "再见", "你好", "谢谢"]
    intents = [_turn(stack, "web-gw-intents", text)["intent"]["name"] for text in said]
    assert intents == ["greet", "thank", "bot_challenge", "goodbye", "greet", "thank"]
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/web-gw-intents/tracker",
        params={"include_events": "ALL", "token": stack.rasa_token},
        timeout=10,
    ).json()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == said
    with sqlite3.connect(stack.data_dir / "tracker.db") as db:
        stored, distinct = db.execute(
            "SELECT count(*), count(DISTINCT data) FROM events WHERE sender_id = ?", ("web-gw-intents",)
        ).fetchone()
    assert stored == len(tracker["events"]) == distinct


def test_handoff_keeps_the_bot_silent_until_staff_hand_back(stack) -> None:
    with on_duty(stack, "gw.operator") as console:
        first = _turn(stack, "web-gw-handoff", "转人工")
        assert first["handoff"] is True
        console.take("web-gw-handoff")
        silent = _turn(stack, "web-gw-handoff", "你好")
    assert silent["replies"] == [] and silent["handoff"] is True and silent["intent"]["name"] == "greet"
    back = httpx.post(
        f"{stack.rasa_url}/conversations/web-gw-handoff/tracker/events",
        json={"event": "slot", "name": "handoff", "value": False},
        params={"token": stack.rasa_token},
        timeout=10,
    )
    assert back.status_code == 200
    answered = _turn(stack, "web-gw-handoff", "你是机器人吗")
    assert answered["handoff"] is False and answered["intent"]["name"] == "bot_challenge"
    assert "机器人" in answered["replies"][0]["text"] or "智能助手" in answered["replies"][0]["text"]


def test_gateway_channel_refuses_a_turn_without_sender(stack) -> None:
    resp = httpx.post(
        f"{stack.rasa_url}/webhooks/gateway/webhook",
        json={"message": "你好"},
        headers={"Authorization": f"Bearer {stack.rasa_token}"},
        timeout=10,
    )
    assert resp.status_code == 400


def test_goodbye_during_the_intake_asks_before_anything_is_dropped(stack) -> None:
    session = "web-gw-goodbye-intake"
    started = _turn(stack, session, "我要投诉，社区康复站的工作人员态度很差")
    assert started["intent"]["name"] == "complain"
    pending_question = started["replies"][-1]["text"]
    goodbye = _turn(stack, session, "再见")
    texts = [reply["text"] for reply in goodbye["replies"]]
    assert goodbye["intent"]["name"] == "goodbye"
    assert "还没有提交" in texts[0] and "取消" in texts[0]
    assert texts[-1] == pending_question, "the form asks its open question again"
    cancelled = _turn(stack, session, "取消")
    assert "已经取消" in cancelled["replies"][0]["text"]
