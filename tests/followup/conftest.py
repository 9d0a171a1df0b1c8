"""Follow-up tests reuse the back-office fixtures (staff users, a department)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.backoffice import conftest as backoffice
from tests.backoffice.conftest import create, move
from tests.followup.twilio_peer import peer, twilio  # noqa: F401 (Twilio's API as a local peer)

# The back-office fixtures: fast password hashing, staff users, a department.
fast_argon2 = backoffice.fast_argon2
headers = backoffice.headers
service_headers = backoffice.service_headers
department = backoffice.department


def resolve(client: TestClient, hdrs: dict[str, str], number: str, department_id: int, reply: str) -> None:
    """Take a work order from 受理 (or 重办) through the loop to 办结."""
    status = client.get(f"/api/tickets/{number}", headers=hdrs).json()["status"]
    steps: list[tuple[str, dict[str, Any]]] = (
        [("start", {})]
        if status == "reopened"
        else [
            ("dispatch", {"department_id": department_id}),
            ("accept", {}),
            ("start", {}),
        ]
    )
    steps += [("reply", {"public_reply": reply}), ("resolve", {})]
    for action, extra in steps:
        resp = move(client, hdrs, number, action, **extra)
        assert resp.status_code == 200, (action, resp.text)


@pytest.fixture
def resolved(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]], department: int
) -> Callable[..., str]:
    """resolved(**fields) → the number of a new work order already at 办结."""

    def make(**fields: Any) -> str:
        number = str(create(client, service_headers, **fields)["number"])
        resolve(client, headers("supervisor"), number, department, "已联系物业清理盲道。")
        return number

    return make


@pytest.fixture
def own_session(settings_env: object) -> Iterator[Callable[[], Session]]:
    """Short sessions of their own, as the console would use (no transaction lingers beside the app's)."""
    from api.db import new_session

    opened: list[Session] = []

    def make() -> Session:
        opened.append(new_session())
        return opened[-1]

    yield make
    for s in opened:
        s.close()
