"""Work-order API: edits with versions, SLA queries, idempotent creation, bad input, notes, masking."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from api.models.staff import AuditEvent
from api.models.ticket import Ticket, TicketDaySequence, TicketEvent
from api.services.grievance_log import utcnow
from tests.backoffice.conftest import TICKET, create, move


def test_patch_with_stale_version_is_409_and_changes_nothing(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    op, sup = headers("operator"), headers("supervisor")
    number = create(client, service_headers)["number"]
    first = client.patch(f"/api/tickets/{number}", json={"version": 1, "priority": "urgent"}, headers=op)
    assert first.status_code == 200 and first.json()["version"] == 2 and first.json()["priority"] == "urgent"
    stale = client.patch(f"/api/tickets/{number}", json={"version": 1, "wish": "改成别的"}, headers=sup)
    assert stale.status_code == 409
    err = stale.json()["error"]
    assert err["code"] == "stale_version" and "别人修改" in err["message"] and "version 2" in err["message"]
    assert client.get(f"/api/tickets/{number}", headers=op).json()["wish"] == TICKET["wish"]


def test_changing_kind_recomputes_deadline(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    op = headers("operator")
    created = create(client, service_headers, kind="咨询")
    resp = client.patch(f"/api/tickets/{created['number']}", json={"version": 1, "kind": "投诉"}, headers=op)
    assert resp.status_code == 200
    assert resp.json()["deadline"] > created["deadline"] and resp.json()["deadline_text"].startswith("13个工作日内")


def test_overdue_and_due_soon_queries(
    client: TestClient, db: Session, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    op = headers("supervisor")
    late = create(client, service_headers)["number"]
    soon = create(client, service_headers)["number"]
    later = create(client, service_headers)["number"]
    db.rollback()
    now = utcnow()
    for number, deadline in ((late, now - timedelta(hours=2)), (soon, now + timedelta(hours=3))):
        ticket = db.exec(select(Ticket).where(Ticket.number == number)).one()
        ticket.deadline = deadline
        db.add(ticket)
    db.commit()
    overdue = client.get("/api/tickets", params={"overdue": "true"}, headers=op).json()
    assert [t["number"] for t in overdue["items"]] == [late] and overdue["items"][0]["overdue"] is True
    due = client.get("/api/tickets", params={"due_soon": "true"}, headers=op).json()
    assert [t["number"] for t in due["items"]] == [soon]
    everything = client.get("/api/tickets", params={"limit": 2}, headers=op).json()
    assert everything["total"] == 3 and len(everything["items"]) == 2 and everything["items"][0]["number"] == later


def test_idempotency_key_returns_the_same_work_order(
    client: TestClient, db: Session, service_headers: dict[str, str]
) -> None:
    hdrs = {**service_headers, "Idempotency-Key": "web-abc-17"}
    first = client.post("/api/tickets", json=TICKET, headers=hdrs)
    again = client.post("/api/tickets", json=TICKET, headers=hdrs)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["number"] == again.json()["number"]
    db.rollback()
    assert db.exec(select(func.count()).select_from(Ticket)).one() == 1


BAD_INPUTS: list[dict[str, object]] = [
    {"kind": "闲聊"},
    {"category": "天气"},
    {"description": ""},
    {"description": "x" * 5001},
    {"contact_phone": "call me maybe"},
    {"priority": "highest"},
    {"channel": "pigeon"},
    {"district": "区" * 65},
    {"confidential": "perhaps"},
]


def test_bad_input_is_422_and_nothing_is_written(
    client: TestClient, db: Session, service_headers: dict[str, str]
) -> None:
    for patch in BAD_INPUTS:
        body = json.dumps({**TICKET, **patch})  # ASCII escapes, so even a lone surrogate is valid JSON
        resp = client.post(
            "/api/tickets", content=body, headers={**service_headers, "Content-Type": "application/json"}
        )
        assert resp.status_code == 422, (patch, resp.text)
        assert resp.json()["error"]["code"] == "validation_error" and "/" in resp.json()["error"]["message"]
    db.rollback()
    assert db.exec(select(func.count()).select_from(Ticket)).one() == 0
    assert db.exec(select(func.count()).select_from(TicketDaySequence)).one() == 0
    db.rollback()


def test_text_the_databases_cannot_store_is_cleaned_not_lost(
    client: TestClient, db: Session, service_headers: dict[str, str]
) -> None:
    body = json.dumps({**TICKET, "description": "含有\x00的文字，盲道被占", "wish": "希望\ud800清理"})
    resp = client.post("/api/tickets", content=body, headers={**service_headers, "Content-Type": "application/json"})
    assert resp.status_code == 201, resp.text
    db.rollback()
    ticket = db.exec(select(Ticket).where(Ticket.number == resp.json()["number"])).one()
    assert ticket.description == "含有的文字，盲道被占" and ticket.wish == "希望\ufffd清理"


def test_malformed_json_and_wrong_types_are_4xx(client: TestClient, service_headers: dict[str, str]) -> None:
    hdrs = {**service_headers, "Content-Type": "application/json"}
    assert client.post("/api/tickets", content=b"{not json", headers=hdrs).status_code == 422
    assert client.post("/api/tickets", json=[1, 2], headers=service_headers).status_code == 422
    assert client.get("/api/tickets/12345", headers=service_headers).status_code in (403, 422)


def test_empty_strings_from_the_assistant_are_accepted(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    body = create(client, service_headers, contact_phone="", contact_name="", street="", community="")
    got = client.get(f"/api/tickets/{body['number']}", headers=headers("operator")).json()
    assert got["contact_phone"] is None and got["contact_name"] is None


def test_emergency_is_due_the_same_day(client: TestClient, service_headers: dict[str, str]) -> None:
    body = create(client, service_headers, kind="紧急", priority="urgent")
    assert body["deadline_text"].startswith("当天")


def test_notes_are_internal_and_audited(
    client: TestClient, db: Session, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    op = headers("operator")
    number = create(client, service_headers)["number"]
    resp = client.post(f"/api/tickets/{number}/notes", json={"text": "已回电13800138000，约周五上门。"}, headers=op)
    assert resp.status_code == 201 and resp.json()["author"] == "operator-0"
    assert client.post(f"/api/tickets/{number}/notes", json={"text": ""}, headers=op).status_code == 422
    notes = client.get(f"/api/tickets/{number}/notes", headers=headers("auditor")).json()
    assert notes[0]["text"] == "已回电138****8000，约周五上门。"
    db.rollback()
    actions = set(db.exec(select(AuditEvent.action)).all())
    assert {"ticket.create", "ticket.note", "auth.login"} <= actions


def test_auditor_sees_masked_contact_and_text(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    number = create(client, service_headers)["number"]
    seen = client.get(f"/api/tickets/{number}", headers=headers("auditor")).json()
    assert seen["contact_phone"] == "138****8000" and seen["contact_name"] == "王**"
    assert "13800138000" not in seen["description"] and "138****8000" in seen["description"]


def test_confidential_caller_hidden_from_the_department(
    client: TestClient,
    db: Session,
    service_headers: dict[str, str],
    headers: Callable[..., dict[str, str]],
    department: int,
) -> None:
    centre = headers("operator")
    number = create(client, service_headers, confidential=True)["number"]
    move(client, centre, number, "dispatch", department_id=department)
    dept_staff = headers("operator", department)
    seen = client.get(f"/api/tickets/{number}", headers=dept_staff).json()
    assert seen["contact_phone"] == "138****8000" and seen["contact_name"] == "王**"
    assert client.get(f"/api/tickets/{number}", headers=centre).json()["contact_phone"] == "13800138000"
    # Department staff only see their own work orders.
    other = create(client, service_headers)["number"]
    assert client.get(f"/api/tickets/{other}", headers=dept_staff).status_code == 404
    listed = client.get("/api/tickets", headers=dept_staff).json()
    assert [t["number"] for t in listed["items"]] == [number]


def test_every_change_is_an_event(
    client: TestClient, db: Session, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    number = create(client, service_headers)["number"]
    client.patch(f"/api/tickets/{number}", json={"version": 1, "street": "学院路街道"}, headers=headers("operator"))
    db.rollback()
    ticket = db.exec(select(Ticket).where(Ticket.number == number)).one()
    events = db.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
    assert [e.action for e in events] == ["create", "edit"] and "street" in (events[1].note or "")


def test_list_filters_refuse_objects_and_lists_in_an_integer(
    client: TestClient, headers: Callable[..., dict[str, str]]
) -> None:
    """A fuzz run reported department_id=[{}] as accepted; sent as the URL it printed, each form is a 422."""
    sup = headers("supervisor")
    for raw in ("%7B%7D", "%5B%7B%7D%5D", "", "abc", "0"):
        resp = client.get(f"/api/tickets?department_id={raw}", headers=sup)
        assert resp.status_code == 422, (raw, resp.text)
        assert resp.json()["error"]["code"] == "validation_error"
