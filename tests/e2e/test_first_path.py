"""Browser text → gateway → real Rasa → reply, logged; and the assistant crashing mid-run."""

from __future__ import annotations

import re
import subprocess
import time

import httpx
import pytest

from tests.conftest import ROOT
from tests.staff_support import on_duty

pytestmark = pytest.mark.stack


def _log_tail(stack_env: dict[str, str], limit: int = 5) -> str:
    out = subprocess.run(
        [str(ROOT / ".venv/bin/hotline"), "log", "tail", "--limit", str(limit)],
        env=stack_env,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout


def test_greeting_is_answered_in_chinese_and_logged(stack) -> None:
    resp = httpx.post(
        f"{stack.app_url}/api/chat/messages",
        json={"session_id": "web-e2e-1", "text": "你好", "channel": "web"},
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["handoff"] is False and body["ticket_number"] is None
    assert body["intent"]["name"] == "greet" and body["intent"]["confidence"] > 0.5
    assert "您好" in body["replies"][0]["text"]
    tail = _log_tail(stack.env())
    assert f'"id": {body["log_id"]}' in tail and "你好" in tail and "您好" in tail and '"outcome": "answered"' in tail


def test_request_for_a_person_hands_over(stack) -> None:
    with on_duty(stack, "e2e.operator"):
        resp = httpx.post(
            f"{stack.app_url}/api/chat/messages",
            json={"session_id": "web-e2e-2", "text": "转人工", "channel": "web"},
            timeout=30,
        )
    body = resp.json()
    assert body["handoff"] is True
    assert all("custom" not in r for r in body["replies"])
    assert any("工作人员" in (r.get("text") or "") for r in body["replies"])


def test_health_reports_every_part_ok(stack) -> None:
    checks = httpx.get(f"{stack.app_url}/health", timeout=10).json()["checks"]
    for part in ("database", "rasa", "action_server"):
        assert checks[part]["status"] == "ok", checks


def test_the_task_worker_runs_and_is_restarted_when_it_dies(stack) -> None:
    """The Procfile's worker is supervised like every other part: killed, it is started again."""
    assert stack.processes["worker"].poll() is None
    before = stack.restarts.get("worker", 0)
    stack.kill_part("worker")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        started = stack.log_file.read_text(errors="replace").count("consumer started")
        if stack.restarts.get("worker", 0) > before and started >= before + 2:
            break
        time.sleep(0.5)
    assert stack.restarts.get("worker", 0) == before + 1
    assert stack.processes["worker"].poll() is None and "worker" not in stack.problems()


def test_chat_page_is_served_in_chinese(stack) -> None:
    page = httpx.get(f"{stack.app_url}/", timeout=10)
    assert page.status_code == 200 and 'lang="zh-CN"' in page.text and 'role="log"' in page.text
    assert httpx.get(f"{stack.app_url}/static/chat.js", timeout=10).status_code == 200


def test_killing_rasa_keeps_the_hotline_answering(own_stack) -> None:
    own_stack.kill_part("rasa")
    time.sleep(0.5)
    resp = httpx.post(
        f"{own_stack.app_url}/api/chat/messages",
        json={"session_id": "web-e2e-3", "text": "我家老人的残疾人证丢了怎么补办", "channel": "web"},
        timeout=30,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["handoff"] is True and re.fullmatch(r"\d{12}", body["ticket_number"])
    assert "已经记录" in body["replies"][0]["text"]
    health = httpx.get(f"{own_stack.app_url}/health", timeout=10).json()
    assert health["checks"]["rasa"]["status"] == "down"
    tail = _log_tail(own_stack.env())
    assert "残疾人证丢了" in tail and '"outcome": "fallback"' in tail and body["ticket_number"] in tail
    verify = subprocess.run(
        [str(ROOT / ".venv/bin/hotline"), "log", "verify"], env=own_stack.env(), capture_output=True, text=True
    )
    assert verify.returncode == 0 and "OK" in verify.stdout
    own_stack.wait_ready(timeout=180)
    assert own_stack.restarts.get("rasa") == 1


def test_action_server_down_is_never_silence(own_stack) -> None:
    """With the action server gone, Rasa answers a complaint with nothing; the citizen still hears that the
    message is recorded, and a work order keeps it."""
    own_stack.kill_part("actions")
    time.sleep(0.2)
    resp = httpx.post(
        f"{own_stack.app_url}/api/chat/messages",
        json={"session_id": "web-e2e-actions-down", "text": "我要投诉社区办事员态度太差", "channel": "web"},
        timeout=30,
    )
    assert resp.status_code == 200
    body = resp.json()
    assert body["replies"] and "已经记录" in body["replies"][0]["text"]
    assert body["handoff"] is True and re.fullmatch(r"\d{12}", body["ticket_number"])
    tail = _log_tail(own_stack.env())
    assert "态度太差" in tail and '"outcome": "fallback"' in tail and body["ticket_number"] in tail
    own_stack.wait_ready(timeout=180)
