"""Console test helpers: log staff in through the real login form and post forms with their CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.backoffice.conftest import (  # noqa: F401  (fixtures shared with the back-office suite)
    PASSWORD,
    TICKET,
    department,
    fast_argon2,
    make_user,
)

CSRF_RE = re.compile(r'name="csrf-token" content="([0-9a-f]*)"')
LOGIN_CSRF_RE = re.compile(r'name="login_csrf" value="([0-9a-f]+)"')


def login_form_token(client: TestClient) -> str:
    """Open the login page as a browser would: its form carries the login-CSRF token (and sets its cookie)."""
    found = LOGIN_CSRF_RE.search(client.get("/staff/login").text)
    assert found, "no login CSRF token on the login page"
    return found.group(1)


class Staff:
    """One staff member's browser: its own cookie jar on the shared app."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.client = client
        self.username = username
        token = login_form_token(client)
        resp = client.post(
            "/staff/login",
            data={"username": username, "password": PASSWORD, "next": "/staff/tickets", "login_csrf": token},
            follow_redirects=False,
        )
        assert resp.status_code == 303, resp.text
        self.csrf = ""

    def get(self, url: str, **kwargs: Any) -> Any:
        resp = self.client.get(url, **kwargs)
        found = CSRF_RE.search(resp.text)
        if found and found.group(1):
            self.csrf = found.group(1)
        return resp

    def post(self, url: str, data: dict[str, Any] | None = None, *, csrf: bool = True, **kwargs: Any) -> Any:
        if csrf and not self.csrf:
            self.get("/staff/tickets")
        form = {**(data or {}), **({"csrf": self.csrf} if csrf else {})}
        return self.client.post(url, data=form, follow_redirects=False, **kwargs)


@pytest.fixture
def staff_as(client: TestClient, db: Session) -> Callable[..., Staff]:
    """staff_as("operator") → a logged-in browser of a fresh user with that role."""
    made: dict[tuple[str, int | None], Staff] = {}

    def _as(role: str, department_id: int | None = None, username: str | None = None) -> Staff:
        key = (username or role, department_id)
        if key not in made:
            name = make_user(db, role, department_id=department_id, username=username)
            made[key] = Staff(TestClient(client.app, raise_server_exceptions=False), name)
        return made[key]

    return _as


def new_ticket(**overrides: Any) -> str:
    """A work order created through the service, as the assistant would file it."""
    from api.db import get_engine
    from api.models.ticket import TicketCreate
    from api.workorders import creation

    with Session(get_engine(), expire_on_commit=False) as own:
        return creation.create_ticket(own, data=TicketCreate.model_validate({**TICKET, **overrides})).number
