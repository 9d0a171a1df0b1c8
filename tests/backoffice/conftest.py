"""Factories for the back-office tests: staff users with tokens, departments, work orders."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

PASSWORD = "correct horse battery"

TICKET: dict[str, Any] = {
    "kind": "投诉",
    "category": "无障碍",
    "description": "小区门口的盲道被电动车占了，我的电话13800138000。",
    "district": "海淀区",
    "street": "中关村街道",
    "community": "科源社区",
    "occurred_at_text": "这个月一直都有",
    "wish": "希望清理盲道",
    "contact_phone": "13800138000",
    "contact_name": "王女士",
    "confidential": False,
    "channel": "web",
    "session_id": "web-abc",
    "priority": "normal",
}


@pytest.fixture(autouse=True)
def fast_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, with test-sized cost parameters (the real ones take ~0.7 s per hash here)."""
    from pwdlib import PasswordHash
    from pwdlib.hashers.argon2 import Argon2Hasher

    from api.services import staff

    fast = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(staff, "hasher", lambda: fast)
    staff._dummy_hash.cache_clear()


def make_user(db: Session, role: str, *, username: str | None = None, department_id: int | None = None) -> str:
    """Create a user in a short session of its own (a lingering SQLite transaction would block the app)."""
    from api.db import get_engine
    from api.models.staff import StaffRole, StaffUserCreate
    from api.services import staff

    name = username or f"{role}-{department_id or 0}"
    with Session(get_engine()) as own:
        staff.create_user(
            own,
            data=StaffUserCreate(username=name, role=StaffRole(role), password=PASSWORD, department_id=department_id),
            actor="test",
        )
    return name


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    resp = client.post("/api/auth/token", data={"username": username, "password": password})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


@pytest.fixture
def headers(client: TestClient, db: Session) -> Callable[..., dict[str, str]]:
    """headers("operator") → bearer headers of a fresh user with that role (cached per role)."""
    cache: dict[tuple[str, int | None], dict[str, str]] = {}

    def _headers(role: str, department_id: int | None = None) -> dict[str, str]:
        key = (role, department_id)
        if key not in cache:
            cache[key] = login(client, make_user(db, role, department_id=department_id))
        return cache[key]

    return _headers


@pytest.fixture
def service_headers(client: TestClient) -> dict[str, str]:
    from api.settings import get_settings

    return {"Authorization": f"Bearer {get_settings().effective_service_token}"}


@pytest.fixture
def department(db: Session) -> int:
    from api.db import get_engine
    from api.models.staff import Department

    with Session(get_engine()) as own:
        dept = Department(code="hd-dpf", name="海淀区残联")
        own.add(dept)
        own.commit()
        assert dept.id is not None
        return dept.id


def create(client: TestClient, hdrs: dict[str, str], **overrides: Any) -> dict[str, Any]:
    resp = client.post("/api/tickets", json={**TICKET, **overrides}, headers=hdrs)
    assert resp.status_code == 201, resp.text
    return resp.json()


def move(client: TestClient, hdrs: dict[str, str], number: str, action: str, **extra: Any) -> Any:
    return client.post(f"/api/tickets/{number}/transitions", json={"action": action, **extra}, headers=hdrs)
