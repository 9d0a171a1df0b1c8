"""Citizen lookup: number + last four digits, the same 404 for both misses, rate-limited."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from api.workorders import creation, queries
from tests.backoffice.conftest import create, move


def test_lookup_shows_status_dates_and_public_reply_only(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]], department: int
) -> None:
    number = create(client, service_headers)["number"]
    op = headers("operator")
    for action, extra in [
        ("dispatch", {"department_id": department}),
        ("accept", {}),
        ("start", {}),
        ("reply", {"public_reply": "已清理盲道。"}),
    ]:
        move(client, op, number, action, **extra)
    resp = client.get(f"/api/public/tickets/{number}", params={"phone_last4": "8000"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "replied" and body["status_text"] == "答复" and body["public_reply"] == "已清理盲道。"
    assert set(body) == {
        "number",
        "kind",
        "status",
        "status_text",
        "created_at",
        "deadline",
        "deadline_text",
        "replied_at",
        "closed_at",
        "public_reply",
    }


def test_unknown_number_and_wrong_digits_answer_the_same(client: TestClient, service_headers: dict[str, str]) -> None:
    number = create(client, service_headers)["number"]
    wrong = client.get(f"/api/public/tickets/{number}", params={"phone_last4": "1234"})
    unknown = client.get("/api/public/tickets/209901010001", params={"phone_last4": "8000"})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert "后四位" in wrong.json()["error"]["message"]
    assert client.get(f"/api/public/tickets/{number}", params={"phone_last4": "80a0"}).status_code == 422


def test_lookup_is_rate_limited_with_retry_after(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.settings import get_settings

    monkeypatch.setattr(get_settings(), "public_lookup_per_minute", 3)
    codes = [
        client.get("/api/public/tickets/209901010001", params={"phone_last4": "0000"}).status_code for _ in range(5)
    ]
    assert codes == [404, 404, 404, 429, 429]
    resp = client.get("/api/public/tickets/209901010001", params={"phone_last4": "0000"})
    assert resp.json()["error"]["code"] == "rate_limited" and "稍后再试" in resp.json()["error"]["message"]
    assert int(resp.headers["Retry-After"]) >= 1


def test_public_lookup_function_for_the_status_page(db: Session) -> None:
    from api.models.ticket import TicketCreate

    ticket = creation.create_ticket(db, data=TicketCreate(description="求助", contact_phone="13912345678"))
    assert queries.public_lookup(db, number=ticket.number, phone_last4="5678") is not None
    assert queries.public_lookup(db, number=ticket.number, phone_last4="5679") is None
    no_phone = creation.create_ticket(db, data=TicketCreate(description="求助"))
    assert queries.public_lookup(db, number=no_phone.number, phone_last4="----") is None
    assert queries.public_lookup(db, number="abc", phone_last4="5678") is None
