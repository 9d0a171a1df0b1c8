"""Issue 18, item 1 and the restart criterion: Rasa and the action server are private and answer only the
stack's own parts; a crash of any part during a web chat loses no message and keeps the conversation."""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.stack

INTAKE_CALL = {
    "next_action": "action_submit_intake",
    "sender_id": "web-forged",
    "version": "3.6.0",
    "tracker": {
        "sender_id": "web-forged",
        "slots": {"complaint_kind": "投诉", "description": "伪造的投诉", "contact_phone": "13800138000"},
        "latest_message": {"text": "x", "intent": {"name": "affirm"}},
        "events": [],
        "active_loop": {},
    },
    "domain": {},
}


def _listening_addresses(port: int) -> set[str]:
    """Local addresses with a socket in LISTEN on `port`, from the kernel's own tables."""
    found: set[str] = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port and len(addr) == width:
                found.add(addr)
    return found


def _tickets(stack) -> int:  # type: ignore[no-untyped-def]
    with sqlite3.connect(stack.data_dir / "hotline.db") as db:
        return int(db.execute("SELECT count(*) FROM ticket").fetchone()[0])


def test_rasa_and_the_action_server_listen_on_loopback_only(stack) -> None:  # type: ignore[no-untyped-def]
    for port in (stack.rasa_port, stack.actions_port):
        addresses = _listening_addresses(port)
        assert addresses, f"nothing listens on {port}"
        assert addresses <= {"0100007F"}, f"port {port} listens on {addresses} (0100007F is 127.0.0.1)"


def test_rasas_api_needs_the_token(stack) -> None:  # type: ignore[no-untyped-def]
    said = httpx.post(
        f"{stack.app_url}/api/chat/messages",
        json={"session_id": "web-door-1", "text": "我的电话13912345678，残疾人证怎么办", "channel": "web"},
        timeout=30,
    )
    assert said.status_code == 200
    tracker = f"{stack.rasa_url}/conversations/web-door-1/tracker"
    for params in ({}, {"token": "guessed"}):
        resp = httpx.get(tracker, params=params, timeout=10)
        assert resp.status_code in (401, 403) and "13912345678" not in resp.text
    silence = httpx.post(
        f"{stack.rasa_url}/conversations/web-door-1/tracker/events",
        json={"event": "slot", "name": "handoff", "value": True},
        timeout=10,
    )
    assert silence.status_code in (401, 403)
    # With the stack's own token the API works, so the refusals above are the token's doing.
    own = httpx.get(tracker, params={"token": stack.rasa_token}, timeout=10)
    assert own.status_code == 200 and own.json()["slots"].get("handoff") in (None, False)
    answered = httpx.post(
        f"{stack.app_url}/api/chat/messages",
        json={"session_id": "web-door-1", "text": "你是机器人吗", "channel": "web"},
        timeout=30,
    ).json()
    assert answered["replies"] and answered["handoff"] is False  # not silenced


def test_the_gateway_channel_speaks_only_for_the_app(stack) -> None:  # type: ignore[no-untyped-def]
    url = f"{stack.rasa_url}/webhooks/gateway/webhook"
    body = {"sender": "web-door-2", "message": "我要投诉"}
    for headers in ({}, {"Authorization": "Bearer guessed"}):
        assert httpx.post(url, json=body, headers=headers, timeout=10).status_code == 401


def test_the_action_server_runs_actions_only_for_rasa(stack) -> None:  # type: ignore[no-untyped-def]
    before = _tickets(stack)
    url = f"{stack.actions_url}/webhook"
    for params in ({}, {"token": "guessed"}):
        resp = httpx.post(url, params=params, json=INTAKE_CALL, timeout=10)
        assert resp.status_code == 401
    assert httpx.get(f"{stack.actions_url}/actions", timeout=10).status_code == 401
    assert httpx.get(f"{stack.actions_url}/health", timeout=10).status_code == 200
    assert _tickets(stack) == before  # no work order was filed as the assistant


def _send(client: httpx.Client, csrf: str, text: str) -> None:
    resp = client.post("/chat", data={"csrf": csrf, "text": text}, follow_redirects=False)
    assert resp.status_code == 303, resp.text[:500]


def _transcript(client: httpx.Client) -> str:
    page = client.get("/")
    assert page.status_code == 200
    return page.text


def test_a_restart_of_any_part_keeps_the_web_chat(own_stack) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=own_stack.app_url, timeout=30) as citizen:
        page = citizen.get("/").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', page)
        assert csrf is not None
        _send(citizen, csrf.group(1), "你好")

        own_stack.kill_part("app")
        time.sleep(0.5)
        own_stack.wait_ready(timeout=180)
        _send(citizen, csrf.group(1), "残疾人证怎么办理")  # the same page and cookie, after the restart
        after_app = _transcript(citizen)
        assert "你好" in after_app and "残疾人证怎么办理" in after_app

        own_stack.kill_part("rasa")
        time.sleep(0.5)
        _send(citizen, csrf.group(1), "小区门口的盲道被电动车占了")  # while the assistant is down
        assert "已经记录" in _transcript(citizen)
        own_stack.wait_ready(timeout=240)

        own_stack.kill_part("actions")
        time.sleep(0.5)
        own_stack.wait_ready(timeout=180)
        _send(citizen, csrf.group(1), "谢谢")
        final = _transcript(citizen)
    for text in ("你好", "残疾人证怎么办理", "小区门口的盲道被电动车占了", "谢谢"):
        assert text in final
    with sqlite3.connect(own_stack.data_dir / "hotline.db") as db:
        sessions = db.execute(
            "SELECT DISTINCT session_id FROM grievance_log WHERE channel = 'web' AND text IN (?, ?, ?, ?)",
            ("你好", "残疾人证怎么办理", "小区门口的盲道被电动车占了", "谢谢"),
        ).fetchall()
        unanswered = db.execute(
            "SELECT count(*) FROM grievance_log WHERE channel = 'web' AND status = 'received' AND outcome IS NULL"
        ).fetchone()[0]
    assert len(sessions) == 1  # one conversation throughout
    assert unanswered == 0


def test_databases_and_secrets_are_private_to_the_hotline_user(stack) -> None:  # type: ignore[no-untyped-def]
    names = ["hotline.db", "tracker.db", "secret_key", "caller_key_salt", "service_token", "rasa_token"]
    for name in names:
        path = stack.data_dir / name
        assert path.exists(), name
        assert path.stat().st_mode & 0o077 == 0, f"{name} is readable by others: {oct(path.stat().st_mode)}"
