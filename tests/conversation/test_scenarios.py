"""Multi-turn conversations through the real gateway, Rasa and action server (tests/conversation/scenarios.yml).

Staff are real too: an operator signs in to the real console (so the assistant's hand-off
sees someone on duty) and takes conversations over through the console's own form; the
work orders are read back through the staff API. Test stacks are staffed round the clock
(tests/conftest.py), so "on duty" depends only on who is signed in, not on the hour CI runs at.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from stack import Stack  # scripts/, on the path through tests/conftest.py

from tests.conftest import start_stack
from tests.conversation.runner import Gateway, load_scenarios, run_scenario
from tests.staff_support import PASSWORD, Console, create_user

pytestmark = pytest.mark.stack

SCENARIOS = load_scenarios()


@pytest.fixture(scope="module")
def hotline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack of its own: who is signed in to its console decides the hand-offs here."""
    stack = start_stack(
        tmp_path_factory.mktemp("scenarios"),
        HOTLINE_SERVICE_DAYS="every_day",
        HOTLINE_VOICE_SERVICE_HOURS="00:00-24:00",
    )
    try:
        create_user(stack, "scenario.op", "operator")
        create_user(stack, "scenario.sup", "supervisor")
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def supervisor_api(hotline: Stack) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=hotline.app_url, timeout=30)
    token = client.post("/api/auth/token", data={"username": "scenario.sup", "password": PASSWORD}).json()
    client.headers["Authorization"] = f"Bearer {token['access_token']}"
    yield client
    client.close()


def _ticket_for_status(hotline: Stack, fields: dict[str, Any]) -> str:
    body = {
        "kind": "投诉",
        "category": "无障碍",
        "description": "测试用：小区盲道被占用",
        "district": "和平区",
        "wish": "希望清理",
        **fields,
    }
    resp = httpx.post(
        f"{hotline.app_url}/api/tickets",
        json=body,
        headers={"Authorization": f"Bearer {hotline.env()['HOTLINE_SERVICE_TOKEN']}"},
        timeout=30,
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["number"])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_scenario(scenario: dict[str, Any], hotline: Stack, supervisor_api: httpx.Client) -> None:
    gateway = Gateway(hotline.app_url)
    console = Console(hotline.app_url, "scenario.op") if scenario.get("staff") else None
    ticket = _ticket_for_status(hotline, scenario["uses_ticket"]) if scenario.get("uses_ticket") else ""

    def after_turn(session_id: str, step: dict[str, Any]) -> None:
        if step.get("take") and console is not None and scenario.get("staff") == "take_over":
            console.take(session_id)

    try:
        problems, number, _ = run_scenario(gateway, scenario, ticket=ticket, after_turn=after_turn)
    finally:
        gateway.close()
        if console is not None:
            console.close()
    expected = scenario.get("ticket_fields") or {}
    if expected and number:
        stored = supervisor_api.get(f"/api/tickets/{number}").json()
        for key, value in expected.items():
            if isinstance(value, bool) or key in ("kind", "contact_phone"):
                ok = stored.get(key) == value
            else:
                ok = str(value) in str(stored.get(key) or "")
            if not ok:
                problems.append(f"work order {number}: {key} is {stored.get(key)!r}, wanted {value!r}")
    elif expected:
        problems.append("no work order was made")
    assert not problems, "\n".join(problems)


def test_the_scenarios_cover_what_the_issue_names() -> None:
    assert len(SCENARIOS) >= 25
    channels = {s.get("channel") for s in SCENARIOS}
    assert channels == {"web", "sms", "voice"}
