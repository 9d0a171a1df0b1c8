"""Factories for the back-office tests: staff users with tokens, departments, work orders."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import Session

from tests.conftest import BACKENDS, POSTGRES_URL

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


def _admin_engine() -> Any:
    return create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrate once per run (a SQLite file, a PostgreSQL template database); each test gets a fresh copy."""
    from api.migrate import upgrade

    sqlite_file = tmp_path_factory.mktemp("template") / "hotline.db"
    upgrade(f"sqlite:///{sqlite_file}")
    templates = {"sqlite": str(sqlite_file)}
    admin = None
    if POSTGRES_URL:
        admin = _admin_engine()
        name = f"hotline_tpl_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
        templates["postgres"] = name
    try:
        yield templates
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{templates["postgres"]}"'))
            admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]) -> Iterator[str]:
    """Overrides the shared fixture: the same fresh, migrated database, copied instead of migrated (faster)."""
    if request.param == "sqlite":
        shutil.copy(migrated_templates["sqlite"], tmp_path / "hotline.db")
        yield f"sqlite:///{tmp_path / 'hotline.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (HOTLINE_TEST_POSTGRES_URL unset)")
    admin = _admin_engine()
    name = f"hotline_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_templates["postgres"]}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


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
