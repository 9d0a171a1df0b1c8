"""Staff accounts: tokens, lockout, the service token, the CLI, and what each role may do."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.models.staff import AuditEvent, StaffRole, StaffUser
from tests.backoffice.conftest import PASSWORD, TICKET, create, login, make_user


def test_login_issues_short_lived_token_and_me(client: TestClient, db: Session) -> None:
    make_user(db, "supervisor", username="zhang.wei")
    resp = client.post("/api/auth/token", data={"username": "zhang.wei", "password": PASSWORD})
    assert resp.status_code == 200
    body = resp.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 30 * 60 and body["role"] == "supervisor"
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json() == {"username": "zhang.wei", "role": "supervisor", "department_id": None}
    stored = db.exec(select(StaffUser).where(StaffUser.username == "zhang.wei")).one()
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    db.rollback()


def test_wrong_password_then_lockout(client: TestClient, db: Session) -> None:
    make_user(db, "operator", username="li.na")
    for _ in range(4):
        resp = client.post("/api/auth/token", data={"username": "li.na", "password": "wrong password"})
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "bad_credentials"
    fifth = client.post("/api/auth/token", data={"username": "li.na", "password": "wrong password"})
    assert fifth.status_code == 423 and "锁定" in fifth.json()["error"]["message"]
    locked = client.post("/api/auth/token", data={"username": "li.na", "password": PASSWORD})
    assert locked.status_code == 423  # even the right password, while locked
    unknown = client.post("/api/auth/token", data={"username": "nobody", "password": "x"})
    assert unknown.status_code == 401 and unknown.json() == {"error": unknown.json()["error"]}
    actions = [a for a in db.exec(select(AuditEvent.action).where(AuditEvent.actor == "li.na")).all()]
    assert actions.count("auth.failed") == 4 and "auth.lockout" in actions and "auth.locked" in actions
    db.rollback()


def test_admin_unlocks_and_disables(client: TestClient, db: Session, headers: Callable[..., dict[str, str]]) -> None:
    admin = headers("admin")
    make_user(db, "operator", username="wang.fang")
    for _ in range(5):
        client.post("/api/auth/token", data={"username": "wang.fang", "password": "nope nope"})
    assert client.patch("/api/users/wang.fang", json={"unlock": True}, headers=admin).status_code == 200
    token = login(client, "wang.fang")
    assert client.get("/api/tickets", headers=token).status_code == 200
    client.patch("/api/users/wang.fang", json={"active": False}, headers=admin)
    assert client.get("/api/tickets", headers=token).status_code == 401  # disabled at once


def test_missing_bad_and_expired_tokens_are_401(client: TestClient) -> None:
    import jwt

    from api.services.grievance_log import utcnow
    from api.settings import get_settings

    assert client.get("/api/tickets").status_code == 401
    assert client.get("/api/tickets").headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/api/tickets", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    expired = jwt.encode(
        {"sub": "x", "exp": utcnow().timestamp() - 10, "typ": "access"}, get_settings().effective_secret_key
    )
    resp = client.get("/api/tickets", headers={"Authorization": f"Bearer {expired}"})
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "unauthorized"


def test_service_token_is_stored_once_with_private_permissions(settings_env: Path) -> None:
    from api.settings import get_settings, stored_secret

    token = get_settings().effective_service_token
    path = settings_env / "service_token"
    assert path.read_text().strip() == token and len(token) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    stored_secret.cache_clear()
    assert get_settings().effective_service_token == token  # another process reads the same file


def test_cli_ensure_admin_is_idempotent_and_user_create(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hotline.cli import app

    runner = CliRunner()
    first = runner.invoke(app, ["user", "ensure-admin"])
    assert first.exit_code == 0, first.output
    assert "admin created" in first.output and "shown once" in first.output
    again = runner.invoke(app, ["user", "ensure-admin"])
    assert again.exit_code == 0 and "admin present" in again.output and "password" not in again.output
    monkeypatch.setenv("HOTLINE_NEW_USER_PASSWORD", "a long enough password")
    made = runner.invoke(app, ["user", "create", "chen.jing", "--role", "auditor"])
    assert made.exit_code == 0 and "chen.jing (auditor)" in made.output
    dup = runner.invoke(app, ["user", "create", "chen.jing"])
    assert dup.exit_code == 1
    bad = runner.invoke(app, ["user", "create", "X!"])
    assert bad.exit_code == 2


ROLES = ["operator", "supervisor", "auditor", "admin"]
# (method, path, roles allowed): the permission matrix of the back office.
MATRIX = [
    ("POST", "/api/tickets", {"operator", "supervisor", "service"}),
    ("GET", "/api/tickets", {"operator", "supervisor", "auditor"}),
    ("PATCH", "/api/tickets/{n}", {"operator", "supervisor"}),
    ("POST", "/api/tickets/{n}/notes", {"operator", "supervisor"}),
    ("GET", "/api/grievance-log", {"supervisor", "auditor"}),
    ("GET", "/api/grievance-log/verify", {"supervisor", "auditor"}),  # as in the console
    ("GET", "/api/exports/tickets", {"supervisor"}),
    ("GET", "/api/exports/grievance-log", {"supervisor"}),
    ("GET", "/api/users", {"admin"}),
    ("GET", "/api/audit-events", {"auditor", "admin"}),
]


def test_permissions_per_role(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    number = create(client, service_headers)["number"]
    callers = {role: headers(role) for role in ROLES} | {"service": service_headers}
    bodies = {"POST": {"/api/tickets": TICKET, "/api/tickets/{n}/notes": {"text": "备注"}}, "PATCH": {"version": 99}}
    for method, path, allowed in MATRIX:
        for who, hdrs in callers.items():
            url = path.replace("{n}", number)
            body = bodies["PATCH"] if method == "PATCH" else bodies.get(method, {}).get(path)  # type: ignore[union-attr]
            resp = client.request(method, url, json=body, headers=hdrs)
            if who in allowed:
                assert resp.status_code in (200, 201, 409), (method, path, who, resp.text)
            else:
                assert resp.status_code == 403, (method, path, who, resp.status_code)
                assert resp.json()["error"]["code"] == "role_forbidden"
    assert StaffRole.admin.value == "admin"


def test_null_for_a_column_that_cannot_be_empty_leaves_it_as_is(
    client: TestClient, db: Session, headers: Callable[..., dict[str, str]], department: int
) -> None:
    """Found by the schema fuzzer on PostgreSQL: an explicit null reached a NOT NULL column (a 500)."""
    admin = headers("admin")
    make_user(db, "operator", username="zhao.lei")
    resp = client.patch("/api/users/zhao.lei", json={"active": None, "role": None}, headers=admin)
    assert resp.status_code == 200 and resp.json()["active"] is True and resp.json()["role"] == "operator"
    resp = client.patch(f"/api/departments/{department}", json={"active": None, "name": None}, headers=admin)
    assert resp.status_code == 200 and resp.json()["active"] is True
