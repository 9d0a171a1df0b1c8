"""Issue 18, items 6 and 14 (accounts): the last admin stays, a new password ends old tokens, logins are
throttled per address as well as locked per account, department codes follow their pattern.

Replayed against the real app (app factory, migrated database, SQLite and PostgreSQL); each refusal is
checked to have changed nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.models.staff import AuditEvent, Department, StaffRole, StaffUser
from tests.backoffice import conftest as backoffice
from tests.backoffice.conftest import PASSWORD, login, make_user

# The back-office suite's fixtures, used here as there (a copied migrated database, fast argon2).
fast_argon2 = backoffice.fast_argon2
headers = backoffice.headers

NEW_PASSWORD = "另一个足够长的新口令2026"


def _user(username: str) -> dict[str, Any]:
    from api.db import get_engine

    with Session(get_engine()) as own:
        return own.exec(select(StaffUser).where(StaffUser.username == username)).one().model_dump()


def _from(client: TestClient, address: str) -> TestClient:
    """Another browser on the same app, at `address`."""
    return TestClient(client.app, raise_server_exceptions=False, client=(address, 50000))


def _try(client: TestClient, username: str, password: str) -> int:
    return client.post("/api/auth/token", data={"username": username, "password": password}).status_code


# --- item 6: the last admin ------------------------------------------------------------------------


def test_the_last_admin_can_neither_demote_nor_disable_itself(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    admin = headers("admin")  # the only admin, "admin-0"
    before = _user("admin-0")
    for change in ({"role": "operator"}, {"active": False}, {"role": "auditor", "active": False}):
        resp = client.patch("/api/users/admin-0", json=change, headers=admin)
        assert resp.status_code == 409 and resp.json()["error"]["code"] == "last_admin"
        message = resp.json()["error"]["message"]
        assert "最后一个" in message and "last active administrator" in message
    assert _user("admin-0") == before
    assert client.get("/api/users", headers=admin).status_code == 200  # still an admin

    # With a second admin, the first may step down; then the second is the last one.
    second = make_user(db, "admin", username="admin-two")
    assert client.patch("/api/users/admin-0", json={"role": "supervisor"}, headers=admin).status_code == 200
    other = login(client, second)
    assert client.patch(f"/api/users/{second}", json={"active": False}, headers=other).status_code == 409
    assert _user(second)["active"] is True


def test_ensure_admin_restores_a_demoted_admin_instead_of_failing(
    settings_env: Any, monkeypatch: pytest.MonkeyPatch, client: TestClient
) -> None:
    from api.db import get_engine
    from hotline.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["user", "ensure-admin"]).exit_code == 0
    # Demoted in the database (the API refuses it): `make run` used to stop at "username already taken".
    with Session(get_engine()) as own:
        user = own.exec(select(StaffUser).where(StaffUser.username == "admin")).one()
        user.role = StaffRole.operator
        user.active = False
        own.add(user)
        own.commit()
    kept = runner.invoke(app, ["user", "ensure-admin"])
    assert kept.exit_code == 0, kept.output
    assert "is an admin again" in kept.output and "恢复为管理员" in kept.output and "unchanged" in kept.output
    restored = _user("admin")
    assert restored["role"] == StaffRole.admin and restored["active"] is True

    with Session(get_engine()) as own:
        user = own.exec(select(StaffUser).where(StaffUser.username == "admin")).one()
        user.role = StaffRole.auditor
        own.add(user)
        own.commit()
    monkeypatch.setenv("HOTLINE_ADMIN_PASSWORD", NEW_PASSWORD)
    from api.settings import get_settings

    get_settings.cache_clear()
    reset = runner.invoke(app, ["user", "ensure-admin"])
    assert reset.exit_code == 0 and "HOTLINE_ADMIN_PASSWORD" in reset.output, reset.output
    token = login(client, "admin", NEW_PASSWORD)
    assert client.get("/api/users", headers=token).status_code == 200
    with Session(get_engine()) as own:
        trail = own.exec(select(AuditEvent).where(AuditEvent.action == "user.restore_admin")).all()
        assert [t.detail["password"] for t in trail if t.detail] == ["kept", "set"]
    assert runner.invoke(app, ["user", "ensure-admin"]).output.startswith("管理员已存在 / admin present")


# --- item 14: tokens, throttling, department codes -------------------------------------------------


def test_a_new_password_ends_existing_tokens_and_console_logins(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]]
) -> None:
    admin = headers("admin")
    name = make_user(db, "operator", username="li.na")
    token = login(client, name)
    console = TestClient(client.app, raise_server_exceptions=False)
    assert console.post("/staff/login", data={"username": name, "password": PASSWORD}).status_code in (200, 303)
    assert console.get("/staff/tickets", follow_redirects=False).status_code == 200
    assert client.get("/api/auth/me", headers=token).status_code == 200

    changed = client.patch(f"/api/users/{name}", json={"password": NEW_PASSWORD}, headers=admin)
    assert changed.status_code == 200
    assert client.get("/api/auth/me", headers=token).status_code == 401  # the stolen token is dead
    assert client.get("/api/tickets", headers=token).status_code == 401
    assert console.get("/staff/tickets", follow_redirects=False).status_code == 303  # back to the login page
    assert _try(client, name, PASSWORD) == 401
    fresh = login(client, name, NEW_PASSWORD)
    assert client.get("/api/auth/me", headers=fresh).json()["username"] == name
    # Other changes (a name) leave tokens alone.
    assert client.patch(f"/api/users/{name}", json={"full_name": "李娜"}, headers=admin).status_code == 200
    assert client.get("/api/auth/me", headers=fresh).status_code == 200


def test_hammering_admin_from_one_address_throttles_that_address_not_the_admin(client: TestClient, db: Session) -> None:
    make_user(db, "admin", username="admin")
    attacker = _from(client, "203.0.113.9")
    # 5 wrong passwords lock `admin` for this address only...
    assert [_try(attacker, "admin", f"guess {i}") for i in range(5)] == [401] * 4 + [423]
    assert _try(attacker, "admin", PASSWORD) == 423  # ...even with the right one, from here
    # ...while the real admin, elsewhere, logs in.
    office = _from(client, "198.51.100.4")
    assert _try(office, "admin", PASSWORD) == 200
    assert _user("admin")["locked_until"] is None

    # Spraying other names from the same address: after 20 failures in all, the address is throttled.
    codes = [_try(attacker, f"user{i}", "guess") for i in range(16)]
    assert codes[:15] == [401] * 15 and codes[15] == 429
    throttled = attacker.post("/api/auth/token", data={"username": "admin", "password": PASSWORD})
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "login_throttled"
    assert (
        "分钟后再试" in throttled.json()["error"]["message"] and "this address" in throttled.json()["error"]["message"]
    )
    assert _try(office, "admin", PASSWORD) == 200  # the office is not throttled
    from api.db import get_engine

    with Session(get_engine()) as own:
        actions = own.exec(select(AuditEvent.action).where(AuditEvent.client_ip == "203.0.113.9")).all()
        assert actions.count("auth.throttled") == 2 and actions.count("auth.locked") == 1


def test_a_guess_spread_over_addresses_locks_the_account_itself(client: TestClient, db: Session) -> None:
    make_user(db, "supervisor", username="zhang.wei")
    for n in range(3):  # 3 addresses × 5 failures: the account's own limit (3 × 5)
        robot = _from(client, f"192.0.2.{n + 1}")
        assert [_try(robot, "zhang.wei", "guess") for _ in range(5)][-1] == 423
    assert _user("zhang.wei")["locked_until"] is not None
    assert _try(_from(client, "198.51.100.7"), "zhang.wei", PASSWORD) == 423


def test_department_codes_follow_their_pattern(client: TestClient, headers: Callable[..., dict[str, str]]) -> None:
    admin = headers("admin")
    for code in ("Bad Code!", "海淀", "-hd", "HD-DPF", "hd dpf"):
        resp = client.post("/api/departments", json={"code": code, "name": f"部门{code}"}, headers=admin)
        assert resp.status_code == 422, code
    from api.db import get_engine

    with Session(get_engine()) as own:
        assert own.exec(select(Department)).all() == []
    good = client.post("/api/departments", json={"code": "hd-dpf_2", "name": "海淀区残联"}, headers=admin)
    assert good.status_code == 201
