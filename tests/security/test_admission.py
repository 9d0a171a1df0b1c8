"""Issue 21, item 2: one admission step for every citizen channel (model limits, refusals logged, one limiter)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from api.models.grievance import GrievanceRecord
from api.models.ticket import TicketCreate
from api.services.admission import MemoryLimiter, RedisLimiter, field_limit, redis_client
from tests.web.test_pages import _complaint, _csrf

REDIS_URL = "redis://127.0.0.1:6379/5"


def test_field_limit_is_the_models_own() -> None:
    assert field_limit(TicketCreate, "wish") == 2000  # api/models/ticket.py: Field(max_length=2000)
    with pytest.raises(ValueError):
        TicketCreate.model_validate({"kind": "投诉", "description": "盲道被占", "wish": "望" * 2001})
    with pytest.raises(LookupError):
        field_limit(TicketCreate, "confidential")


def test_memory_limiter_slides_its_window() -> None:
    limiter = MemoryLimiter(2, window=10.0)
    assert [limiter.hit("a", now=t) for t in (0.0, 1.0)] == [0.0, 0.0]
    assert limiter.hit("a", now=2.0) == pytest.approx(8.0)
    assert limiter.hit("b", now=2.0) == 0.0  # another citizen is not held back
    assert limiter.hit("a", now=10.5) == 0.0  # the first hit has left the window


@pytest.fixture
def shared_redis() -> Iterator[object]:
    client = redis_client(REDIS_URL)
    try:
        client.ping()
    except Exception as exc:  # any connection failure means: no Redis here
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    yield client
    for key in client.scan_iter("hotline:limit:test-*"):
        client.delete(key)


def test_two_instances_share_one_count_in_redis(shared_redis: object) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    first, second = RedisLimiter(shared_redis, name, 3, 60.0), RedisLimiter(shared_redis, name, 3, 60.0)
    assert [first.hit("citizen"), second.hit("citizen"), first.hit("citizen")] == [0.0, 0.0, 0.0]
    wait = second.hit("citizen")
    assert 0 < wait <= 60.0
    assert first.hit("another") == 0.0


def test_redis_window_ends(shared_redis: object) -> None:
    limiter = RedisLimiter(shared_redis, f"test-{uuid.uuid4().hex[:8]}", 1, 0.2)
    assert limiter.hit("k") == 0.0
    assert limiter.hit("k") > 0
    time.sleep(0.3)
    assert limiter.hit("k") == 0.0


def test_the_app_uses_redis_when_configured(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch, shared_redis: object
) -> None:
    """Two app instances with one Redis: the chat API's per-address limit counts both together."""
    monkeypatch.setenv("HOTLINE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("HOTLINE_CHAT_API_PER_ADDRESS_PER_MINUTE", "3")
    from api.settings import get_settings

    get_settings.cache_clear()
    from hotline.app import create_app

    address = f"203.0.113.{uuid.uuid4().int % 200 + 20}"
    try:
        with (
            TestClient(create_app(), raise_server_exceptions=False, client=(address, 40000)) as one,
            TestClient(create_app(), raise_server_exceptions=False, client=(address, 40001)) as two,
        ):
            codes = [
                c.post("/api/chat/messages", json={"session_id": f"web-r{i}", "text": "你好"}).status_code
                for i, c in enumerate([one, two, one, two])
            ]
    finally:
        shared_redis.delete(f"hotline:limit:chat_address:{address}")  # type: ignore[attr-defined]
        for i in range(4):
            shared_redis.delete(f"hotline:limit:chat_session:web-r{i}")  # type: ignore[attr-defined]
        get_settings.cache_clear()
    assert codes == [200, 200, 200, 429]


def test_the_web_chats_flood_guard_is_shared_by_instances_in_redis(
    settings_env: Path, monkeypatch: pytest.MonkeyPatch, shared_redis: object
) -> None:
    """The same text sent again at once, or a burst, is refused even when each message reaches another
    instance: the flood guard's counts and last text live in Redis beside the other limits."""
    monkeypatch.setenv("HOTLINE_REDIS_URL", REDIS_URL)
    monkeypatch.setenv("HOTLINE_CHAT_RATE_LIMIT", "2")
    from api.settings import get_settings

    get_settings.cache_clear()
    from hotline.app import create_app

    def send(client: TestClient, text: str) -> int:
        token = _csrf(client, "/")
        resp = client.post("/chat/send", json={"text": text}, headers={"x-csrf-token": token})
        return resp.status_code

    address = f"198.51.100.{uuid.uuid4().int % 200 + 20}"  # its own address: parallel runs do not share counts
    sid = ""
    try:
        with (
            TestClient(create_app(), raise_server_exceptions=False, client=(address, 40000)) as one,
            TestClient(create_app(), raise_server_exceptions=False, client=(address, 40001)) as two,
        ):
            one.get("/")
            two.cookies = one.cookies  # one citizen, whose messages the balancer spreads
            codes = [send(one, "你好"), send(two, "你好"), send(two, "我想问补贴"), send(one, "还有盲道的事")]
            sid = str(one.cookies.get("hotline_sid", "")).rpartition(".")[0]
            in_redis = shared_redis.get(f"hotline:last:chat:sid:{sid}")  # type: ignore[attr-defined]
    finally:
        for key in (f"hotline:limit:flood_chat:sid:{sid}", f"hotline:last:chat:sid:{sid}",
                    f"hotline:limit:flood_chat_ip:ip:{address}"):  # fmt: skip
            shared_redis.delete(key)  # type: ignore[attr-defined]
        get_settings.cache_clear()
    assert in_redis is not None  # the last text was kept in Redis, not in either instance
    assert codes == [200, 429, 200, 429]  # a repeat on the other instance, then one message over the limit of 2


# --- every channel refuses over-long input at the model's limit and logs it ---------------------


def _rejected(db: Session, code: str) -> list[GrievanceRecord]:
    db.rollback()
    return list(db.exec(select(GrievanceRecord).where(GrievanceRecord.error_code == code)).all())


def test_complaint_form_takes_the_work_orders_limits(client: TestClient, db: Session) -> None:
    token = _csrf(client, "/complaint")
    limit = field_limit(TicketCreate, "wish")
    # The form once stopped at 500 characters where the work order takes 2,000.
    assert _complaint(client, token, wish="希" * limit).status_code == 303
    refused = _complaint(client, token, wish="望" * (limit + 1))
    assert refused.status_code == 422 and f"最多 {limit} 个字" in refused.text
    logged = _rejected(db, "invalid_form")
    assert len(logged) == 1 and "望" * (limit + 1) in logged[0].text and logged[0].status == "rejected"


def test_web_chat_refuses_and_logs_over_long_text(client: TestClient, db: Session) -> None:
    from api.settings import get_settings

    limit = get_settings().max_message_chars
    token = _csrf(client, "/")
    resp = client.post("/chat", data={"csrf": token, "text": "长" * (limit + 1), "action": "send"})
    assert resp.status_code == 422
    logged = _rejected(db, "text_too_long")
    assert [r.channel for r in logged] == ["web"] and logged[0].text == "长" * (limit + 1)


def test_chat_api_refuses_and_logs_over_long_text(client: TestClient, db: Session) -> None:
    from api.settings import get_settings

    limit = get_settings().max_message_chars
    resp = client.post("/api/chat/messages", json={"session_id": "web-long", "text": "长" * (limit + 1)})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "text_too_long"
    logged = _rejected(db, "text_too_long")
    assert [(r.channel, r.session_id) for r in logged] == [("web", "web-long")]


def test_sms_refuses_and_logs_over_long_text(settings_env: Path, monkeypatch: pytest.MonkeyPatch, db: Session) -> None:
    token, base = "twilio-test-token", "https://hotline.example.cn"
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", token)
    monkeypatch.setenv("HOTLINE_PUBLIC_BASE_URL", base)
    from api.settings import get_settings

    get_settings.cache_clear()
    from hotline.app import create_app

    limit = get_settings().max_message_chars
    params = {"From": "+8613800138000", "To": "+8610012345", "Body": "长" * (limit + 1), "MessageSid": "SM" + "1" * 32}
    signature = RequestValidator(token).compute_signature(base + "/sms/incoming", params)
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        resp = client.post("/sms/incoming", data=params, headers={"X-Twilio-Signature": signature})
    get_settings.cache_clear()
    assert resp.status_code == 200 and f"不超过{limit}个字" in resp.text
    logged = _rejected(db, "text_too_long")
    assert [r.channel for r in logged] == ["sms"] and logged[0].text == "长" * (limit + 1)
