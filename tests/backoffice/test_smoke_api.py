"""The assistant's path end to end through the API: create with the service token, staff see it."""

from __future__ import annotations

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.backoffice.conftest import TICKET, create


def test_service_token_creates_ticket_with_deadline_text(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    body = create(client, service_headers)
    assert re.fullmatch(r"\d{12}", body["number"])
    assert body["status"] == "received" and body["status_text"] == "受理"
    assert re.fullmatch(r"13个工作日内，即(\d{4}年)?\d{1,2}月\d{1,2}日前", body["deadline_text"])
    got = client.get(f"/api/tickets/{body['number']}", headers=headers("operator"))
    assert got.status_code == 200, got.text
    ticket = got.json()
    assert ticket["contact_phone"] == "13800138000" and ticket["district"] == TICKET["district"]
    assert ticket["created_by"] == "service:assistant" and ticket["version"] == 1
    assert ticket["allowed_actions"] == ["dispatch"]
