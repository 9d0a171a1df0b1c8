"""The 12345 loop: every legal move, the 409 naming the allowed moves, reasons, extensions, reopening."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.errors import ApiError
from api.models.ticket import Ticket, TicketEvent, TicketStatus, TransitionAction
from api.workorders import lifecycle, workflow
from tests.backoffice.conftest import create, move


def test_allowed_actions_follow_the_loop() -> None:
    s, a = TicketStatus, TransitionAction
    assert lifecycle.allowed_actions(s.received) == [a.dispatch]
    assert lifecycle.allowed_actions(s.dispatched) == [a.reject, a.accept, a.extend]
    assert lifecycle.allowed_actions(s.follow_up) == [a.close, a.reopen]
    assert lifecycle.allowed_actions(s.closed) == []


def test_every_move_of_the_state_machine_has_one_effect_in_the_transition_table() -> None:
    """A move added to `lifecycle.MOVES` without an entry in `workflow.EFFECTS` would fail with a 500."""
    assert list(workflow.EFFECTS) == list(lifecycle.MOVES)
    assert set(lifecycle.MOVES) == set(TransitionAction)


def test_illegal_move_is_409_naming_allowed_moves() -> None:
    with pytest.raises(ApiError) as err:
        lifecycle.check(TicketStatus.received, TransitionAction.accept, reason=None)
    assert err.value.status_code == 409 and err.value.code == "illegal_transition"
    assert "派单（dispatch）" in err.value.message and "allowed: dispatch" in err.value.message


def test_reject_needs_reason() -> None:
    with pytest.raises(ApiError) as err:
        lifecycle.check(TicketStatus.dispatched, TransitionAction.reject, reason="  ")
    assert err.value.status_code == 422 and "退单" in err.value.message


def test_full_loop_with_rejection_and_reopen(
    client: TestClient,
    db: Session,
    service_headers: dict[str, str],
    headers: Callable[..., dict[str, str]],
    department: int,
) -> None:
    op = headers("operator")
    number = create(client, service_headers, kind="求助")["number"]

    resp = move(client, op, number, "accept")
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "illegal_transition"
    assert "dispatch" in resp.json()["error"]["message"]

    assert move(client, op, number, "dispatch").json()["error"]["code"] == "department_required"
    assert move(client, op, number, "dispatch", department_id=department).json()["status"] == "dispatched"
    assert move(client, op, number, "reject").status_code == 422  # 退单 needs a reason
    rejected = move(client, op, number, "reject", reason="不属于本单位职责")
    assert rejected.json()["status"] == "received" and rejected.json()["department_id"] is None

    for action, extra, status in [
        ("dispatch", {"department_id": department}, "dispatched"),
        ("accept", {}, "accepted"),
        ("start", {}, "in_progress"),
    ]:
        resp = move(client, op, number, action, **extra)
        assert resp.status_code == 200 and resp.json()["status"] == status, resp.text
    assert move(client, op, number, "reply").json()["error"]["code"] == "reply_required"
    replied = move(client, op, number, "reply", public_reply="已为您申请辅具。")
    assert replied.json()["status"] == "replied" and replied.json()["replied_at"]
    assert move(client, op, number, "resolve").json()["status"] == "resolved"
    assert move(client, op, number, "follow_up").json()["status"] == "follow_up"
    assert move(client, op, number, "close", satisfaction="不满意").json()["error"]["code"] == "close_unsatisfied"
    reopened = move(client, op, number, "reopen", reason="辅具还没送到")
    body = reopened.json()
    assert body["status"] == "reopened" and body["reopen_count"] == 1 and body["satisfaction"] == "不满意"
    for action, extra in [
        ("start", {}),
        ("reply", {"public_reply": "辅具已送到。"}),
        ("resolve", {}),
        ("follow_up", {}),
        ("close", {"satisfaction": "满意"}),
    ]:
        assert move(client, op, number, action, **extra).status_code == 200
    final = client.get(f"/api/tickets/{number}", headers=op).json()
    assert final["status"] == "closed" and final["closed_at"] and final["allowed_actions"] == []

    db.rollback()
    ticket = db.exec(select(Ticket).where(Ticket.number == number)).one()
    events = db.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)).all()
    assert [e.action for e in events][:4] == ["create", "dispatch", "reject", "dispatch"]
    assert events[2].reason == "不属于本单位职责" and events[2].from_status == TicketStatus.dispatched
    assert all(e.actor for e in events) and events[1].actor == "operator-0"
    history = client.get(f"/api/tickets/{number}/events", headers=op).json()
    assert len(history) == len(events) and history[-1]["to_status"] == "closed"


def test_extension_only_before_deadline_with_reason(
    client: TestClient,
    db: Session,
    service_headers: dict[str, str],
    headers: Callable[..., dict[str, str]],
    department: int,
) -> None:
    op = headers("operator")
    number = create(client, service_headers, kind="咨询")["number"]
    assert move(client, op, number, "extend", reason="x").status_code == 409  # not yet dispatched
    move(client, op, number, "dispatch", department_id=department)
    before = client.get(f"/api/tickets/{number}", headers=op).json()
    assert move(client, op, number, "extend").status_code == 422
    assert move(client, op, number, "extend", reason="需现场核查", working_days=31).status_code == 422
    ext = move(client, op, number, "extend", reason="需现场核查", working_days=2)
    assert ext.status_code == 200 and ext.json()["deadline"] > before["deadline"]
    assert ext.json()["extension_count"] == 1 and ext.json()["status"] == "dispatched"

    db.rollback()
    ticket = db.exec(select(Ticket).where(Ticket.number == number)).one()
    ticket.deadline = ticket.created_at - timedelta(hours=1)  # the deadline has passed
    db.add(ticket)
    db.commit()
    late = move(client, op, number, "extend", reason="需现场核查")
    assert late.status_code == 409 and late.json()["error"]["code"] == "deadline_passed"
    assert "超过办理期限" in late.json()["error"]["message"]


def test_stale_version_on_transition_changes_nothing(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]], department: int
) -> None:
    op = headers("operator")
    number = create(client, service_headers)["number"]
    resp = move(client, op, number, "dispatch", department_id=department, version=7)
    assert resp.status_code == 409 and resp.json()["error"]["code"] == "stale_version"
    assert client.get(f"/api/tickets/{number}", headers=op).json()["status"] == "received"
