"""Issue 18, item 9: rate limits per citizen, so one caller can neither flood the hotline nor lock out others."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.models.grievance import GrievanceRecord
from tests.backoffice.conftest import create


def _app_client(monkeypatch: pytest.MonkeyPatch, host: str, **env: str) -> Iterator[TestClient]:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    from api.settings import get_settings

    get_settings.cache_clear()
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False, client=(host, 40000)) as c:
        yield c
    get_settings.cache_clear()


@pytest.fixture
def outside(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """A client on another machine (203.0.113.7), with small limits."""
    yield from _app_client(
        monkeypatch,
        "203.0.113.7",
        HOTLINE_CHAT_RATE_LIMIT="3",
        HOTLINE_CHAT_API_PER_ADDRESS_PER_MINUTE="5",
        HOTLINE_PUBLIC_LOOKUP_PER_MINUTE="3",
    )


def _say(client: TestClient, session: str, text: str, **headers: str) -> int:
    resp = client.post(
        "/api/chat/messages", json={"session_id": session, "text": text, "channel": "web"}, headers=headers
    )
    if resp.status_code == 429:
        body = resp.json()["error"]
        assert body["code"] == "rate_limited" and "请稍后再试" in body["message"]
    return resp.status_code


def test_chat_api_limits_one_conversation_and_one_address(outside: TestClient, db: Session) -> None:
    # 30 forged emergencies in a second made 30 urgent work orders; now the 4th turn of a session is refused.
    codes = [_say(outside, "web-flood", f"救命 第{i}次") for i in range(4)]
    assert codes == [200, 200, 200, 429]
    # New sessions from the same address: 5 turns a minute in all, then refused.
    more = [_say(outside, f"web-flood-{i}", "救命") for i in range(3)]
    assert more == [200, 200, 429]
    refused = db.exec(select(GrievanceRecord).where(GrievanceRecord.error_code == "rate_limited")).all()
    assert len(refused) == 2  # refused turns are still in the log, with their text
    assert {r.text for r in refused} == {"救命 第3次", "救命"}


def test_proxied_clients_are_limited_by_their_own_address(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for client in _app_client(
        monkeypatch,
        "10.0.0.2",
        HOTLINE_TRUSTED_PROXIES="10.0.0.2",
        HOTLINE_CHAT_API_PER_ADDRESS_PER_MINUTE="2",
    ):
        first = [_say(client, f"web-a{i}", "你好", **{"X-Forwarded-For": "198.51.100.1"}) for i in range(3)]
        other = _say(client, "web-b", "你好", **{"X-Forwarded-For": "198.51.100.2"})
        assert first == [200, 200, 429] and other == 200


def test_this_machine_is_not_limited(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for client in _app_client(monkeypatch, "127.0.0.1", HOTLINE_CHAT_RATE_LIMIT="2"):
        assert [_say(client, "web-local", f"问题{i}") for i in range(4)] == [200] * 4


def test_one_callers_wrong_digits_never_lock_out_another_caller(outside: TestClient) -> None:
    from api.settings import get_settings

    service = {"Authorization": f"Bearer {get_settings().effective_service_token}"}
    number = create(outside, service)["number"]  # contact phone ends in 8000

    def lookup(digits: str, **headers: str) -> int:
        return outside.get(f"/api/public/tickets/{number}", params={"phone_last4": digits}, headers=headers).status_code

    # The assistant asks for citizen A, who keeps guessing: A alone is slowed down.
    guesses = [lookup("1111", **service, **{"X-Hotline-Citizen": "web-guesser"}) for _ in range(4)]
    assert guesses == [404, 404, 404, 429]
    # Citizen B, through the same action server (same address), still gets an answer at once.
    assert lookup("8000", **service, **{"X-Hotline-Citizen": "sms-owner"}) == 200
    # Naming a citizen without the assistant's token does not escape the per-address limit.
    anonymous = [lookup("2222", **{"X-Hotline-Citizen": f"fake-{i}"}) for i in range(4)]
    assert anonymous == [404, 404, 404, 429]


def test_an_abnormal_work_order_rate_raises_one_alert_for_supervisors(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch, db: Session
) -> None:
    """Many senders at once (each under its own limit) open work orders: supervisors are alerted, once."""
    from api.models.staff import AuditEvent
    from api.services import flood_watch
    from tests.console.conftest import Staff, make_user

    for client in _app_client(
        monkeypatch,
        "10.0.0.2",
        HOTLINE_TRUSTED_PROXIES="10.0.0.2",
        HOTLINE_WORK_ORDER_ALERT_PER_10_MINUTES="6",
    ):
        assert client.get("/health").json()["checks"]["work_order_rate"]["status"] == "ok"
        # Rasa is down in this app, so every message becomes a work order (the citizen is never left unanswered).
        numbers = []
        for i in range(8):
            resp = client.post(
                "/api/chat/messages",
                json={"session_id": f"web-flood-{i}", "text": "救命 有人摔倒了", "channel": "web"},
                headers={"X-Forwarded-For": f"198.51.100.{i + 1}"},
            )
            assert resp.status_code == 200
            numbers.append(resp.json()["ticket_number"])
        assert all(numbers) and len(set(numbers)) == 8
        alerts = db.exec(select(AuditEvent).where(AuditEvent.action == flood_watch.ACTION)).all()
        assert len(alerts) == 1, alerts  # one alert per window, not one per work order
        assert alerts[0].detail is not None and alerts[0].detail["opened_last_10_minutes"] >= 6
        assert alerts[0].detail["numbers_left_today"] <= 9999 - 6
        health = client.get("/health").json()
        assert health["checks"]["work_order_rate"]["status"] == "down" and health["status"] == "degraded"
        supervisor = Staff(client, make_user(db, "supervisor"))
        page = supervisor.get("/staff/oversight")
        assert page.status_code == 200 and "异常提醒" in page.text and "最近10分钟新建工单" in page.text
