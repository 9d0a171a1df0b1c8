"""A turn sent again under its turn id is answered once, through the real gateway and Rasa.

The cases a citizen meets: the page lost the connection and sends the turn again; the app instance
that took the first copy died before it answered (the record is there, incomplete), or after the
assistant had answered but before the answer was sealed and sent.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.stack


def _turn(stack: Any, session_id: str, text: str, turn_id: str | None) -> httpx.Response:
    body: dict[str, Any] = {"session_id": session_id, "text": text, "channel": "web"}
    if turn_id is not None:
        body["turn_id"] = turn_id
    return httpx.post(f"{stack.app_url}/api/chat/messages", json=body, timeout=30)


def _records(stack: Any, session_id: str) -> list[tuple[int, str, str | None, str | None]]:
    with sqlite3.connect(stack.data_dir / "hotline.db") as db:
        return db.execute(
            "SELECT id, text, turn_id, outcome FROM grievance_log WHERE session_id = ? ORDER BY id", (session_id,)
        ).fetchall()


def _user_texts(stack: Any, session_id: str) -> list[str]:
    tracker = httpx.get(
        f"{stack.rasa_url}/conversations/{session_id}/tracker",
        params={"include_events": "ALL", "token": stack.rasa_token},
        timeout=10,
    ).json()
    return [e["text"] for e in tracker["events"] if e["event"] == "user"]


def _first_copy_received(stack: Any, session_id: str, text: str, turn_id: str) -> int:
    """The record a dying instance wrote for the first copy: received, never answered (the stack's own key)."""
    code = (
        "import sys\n"
        "from api.db import new_session\n"
        "from api.services import grievance_log\n"
        "with new_session() as db:\n"
        "    print(grievance_log.append(db, channel='web', session_id=sys.argv[1], text=sys.argv[2],"
        " turn_id=sys.argv[3]).id)\n"
    )
    done = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", code, session_id, text, turn_id],
        env=stack.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1])


def test_a_turn_sent_twice_is_answered_once(stack: Any) -> None:
    turn_id = str(uuid.uuid4())
    first = _turn(stack, "web-turn-twice", "残疾人证怎么办理", turn_id)
    again = _turn(stack, "web-turn-twice", "残疾人证怎么办理", turn_id)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert again.json()["log_id"] == first.json()["log_id"]
    assert again.json()["replies"] == first.json()["replies"] and first.json()["replies"]
    assert again.json()["intent"] == first.json()["intent"]
    assert [r[2] for r in _records(stack, "web-turn-twice")] == [turn_id]
    assert _user_texts(stack, "web-turn-twice") == ["残疾人证怎么办理"]

    # A new turn id is a new turn, even with the same words.
    other = _turn(stack, "web-turn-twice", "残疾人证怎么办理", str(uuid.uuid4()))
    assert other.status_code == 200 and other.json()["log_id"] != first.json()["log_id"]
    assert len(_records(stack, "web-turn-twice")) == 2


def test_a_first_copy_that_died_unanswered_is_completed_not_duplicated(stack: Any) -> None:
    turn_id = uuid.uuid4().hex
    record_id = _first_copy_received(stack, "web-turn-died", "你好", turn_id)
    # A copy that says something else under the same id is still that turn: the words on record are answered.
    resp = _turn(stack, "web-turn-died", "我要投诉", turn_id)
    assert resp.status_code == 200, resp.text
    assert resp.json()["log_id"] == record_id and resp.json()["replies"]
    [(rid, text, tid, outcome)] = _records(stack, "web-turn-died")
    assert (rid, text, tid, outcome) == (record_id, "你好", turn_id, "answered")
    assert _user_texts(stack, "web-turn-died") == ["你好"]


def test_a_first_copy_the_assistant_answered_is_not_taken_twice(stack: Any) -> None:
    """The instance died after Rasa answered and before it sealed the answer: the retry gets that answer."""
    turn_id = uuid.uuid4().hex
    record_id = _first_copy_received(stack, "web-turn-half", "你是机器人吗", turn_id)
    heard = httpx.post(
        f"{stack.rasa_url}/webhooks/gateway/webhook",
        json={
            "sender": "web-turn-half",
            "message": "你是机器人吗",
            "metadata": {"channel": "web", "log_id": record_id, "held": False},
        },
        headers={"Authorization": f"Bearer {stack.rasa_token}"},
        timeout=30,
    )
    assert heard.status_code == 200, heard.text
    said = [m.get("text") for m in heard.json()["messages"] if m.get("text")]
    assert said

    resp = _turn(stack, "web-turn-half", "你是机器人吗", turn_id)
    assert resp.status_code == 200, resp.text
    assert resp.json()["log_id"] == record_id
    assert [r.get("text") for r in resp.json()["replies"] if r.get("text")] == said
    assert resp.json()["intent"]["name"] == "bot_challenge"
    assert _user_texts(stack, "web-turn-half") == ["你是机器人吗"]  # the assistant took the message once
    [(_, _, _, outcome)] = _records(stack, "web-turn-half")
    assert outcome == "answered"


def test_a_malformed_turn_id_is_refused_in_both_languages(stack: Any) -> None:
    for bad in ("", "有中文", "x" * 65, 12, ["a"]):
        resp = httpx.post(
            f"{stack.app_url}/api/chat/messages",
            json={"session_id": "web-turn-bad", "text": "你好", "turn_id": bad},
            timeout=30,
        )
        assert resp.status_code == 422, (bad, resp.text)
        error = resp.json()["error"]
        assert error["code"] == "invalid_turn_id" and "消息编号" in error["message"] and "turn_id" in error["message"]
    # Refused, and still kept: the log holds what was sent.
    assert {r[3] for r in _records(stack, "web-turn-bad")} <= {None}
    assert len(_records(stack, "web-turn-bad")) == 5


def test_the_web_page_sends_a_turn_again_without_a_repeat_refusal(stack: Any) -> None:
    """The chat page's JSON path: the same turn id after a lost answer gets the same answer, not 'sent twice'."""
    with httpx.Client(base_url=stack.app_url, timeout=30) as citizen:
        token = re.search(r'name="csrf-token" content="([0-9a-f]+)"', citizen.get("/").text)
        assert token
        headers = {"X-CSRF-Token": token.group(1)}
        turn_id = str(uuid.uuid4())
        first = citizen.post("/chat/send", json={"text": "谢谢你", "after": 0, "turn_id": turn_id}, headers=headers)
        again = citizen.post("/chat/send", json={"text": "谢谢你", "after": 0, "turn_id": turn_id}, headers=headers)
        assert first.status_code == again.status_code == 200, (first.text, again.text)
        assert first.json()["log_id"] == again.json()["log_id"]
        mine = [m for m in again.json()["messages"] if m["sender"] == "me"]
        assert [m["text"] for m in mine] == ["谢谢你"], json.dumps(again.json(), ensure_ascii=False)
        # Without the turn id, the same words sent at once are a repeat, refused as before.
        repeat = citizen.post("/chat/send", json={"text": "谢谢你", "after": 0}, headers=headers)
        assert repeat.status_code == 429, repeat.text
