"""Staff on a running stack, through its real console: accounts made with the CLI, logins through the
login form, take-overs through the console's own forms (with their CSRF token)."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.conftest import ROOT

PASSWORD = "场景测试口令-2026-长"
CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]+)"')
LOGIN_CSRF = re.compile(r'name="login_csrf" value="([0-9a-f]+)"')


def create_user(stack: Any, username: str, role: str) -> None:
    """A staff account in the stack's database, made as an office would make it (hotline user create)."""
    env = {**stack.env(), "HOTLINE_NEW_USER_PASSWORD": PASSWORD}
    subprocess.run(
        [str(ROOT / ".venv/bin/hotline"), "user", "create", username, "--role", role, "--full-name", username],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


class Console:
    """One staff member's browser session on the real console; signed in, they count as on duty."""

    def __init__(self, base_url: str, username: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False)
        form = LOGIN_CSRF.search(self.client.get("/staff/login").text)  # the form's token and its cookie
        assert form, "no login CSRF token on the login page"
        resp = self.client.post(
            "/staff/login",
            data={"username": username, "password": PASSWORD, "next": "/staff", "login_csrf": form.group(1)},
        )
        assert resp.status_code == 303, resp.text[:500]

    def csrf(self) -> str:
        found = CSRF.search(self.client.get("/staff").text)
        assert found, "no CSRF token on the console page"
        return found.group(1)

    def take(self, session_id: str) -> None:
        resp = self.client.post(f"/staff/conversations/{session_id}/take", data={"csrf": self.csrf()})
        assert resp.status_code in (200, 303), resp.text[:500]

    def close(self) -> None:
        self.client.post("/staff/logout", data={"csrf": self.csrf()})
        self.client.close()


@contextmanager
def on_duty(stack: Any, username: str) -> Iterator[Console]:
    """An operator signed in to the stack's console for the duration (made on first use)."""
    try:
        create_user(stack, username, "operator")
    except subprocess.CalledProcessError as exc:
        if b"already taken" not in (exc.stderr or b""):  # made by an earlier test of this stack
            raise
    console = Console(stack.app_url, username)
    try:
        yield console
    finally:
        console.close()
