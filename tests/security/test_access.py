"""Issue 18, items 2 and 3 (and the supervisor's log check of item 14): one access module for the API and
the console; every refused action changes nothing.

Each test replays the attack against the real app (the app factory, a real migrated database, SQLite and
PostgreSQL) and then compares the work order, its history, notes, follow-ups and the audit trail with what
they were before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from api.models.staff import AuditEvent, Department
from api.models.ticket import FollowUp, Ticket, TicketEvent, TicketNote
from api.services import access
from api.services.audit import Principal
from tests.backoffice import conftest as backoffice
from tests.backoffice.conftest import create, move
from tests.console import conftest as console
from tests.console.conftest import Staff

# The back-office and console suites' fixtures, used here as there (a copied migrated database, fast argon2).
fast_argon2 = backoffice.fast_argon2
headers = backoffice.headers
service_headers = backoffice.service_headers
department = backoffice.department
staff_as = console.staff_as


def _other_department() -> int:
    from api.db import get_engine

    with Session(get_engine()) as own:
        dept = Department(code="cy-dpf", name="朝阳区残联")
        own.add(dept)
        own.commit()
        assert dept.id is not None
        return dept.id


def _state(number: str) -> dict[str, Any]:
    """Everything a staff action on this work order could change, read in a session of its own."""
    from api.db import get_engine

    with Session(get_engine()) as own:
        ticket = own.exec(select(Ticket).where(Ticket.number == number)).one()
        count = func.count()
        return {
            "ticket": ticket.model_dump(),
            "events": own.exec(select(count).where(TicketEvent.ticket_id == ticket.id)).one(),
            "notes": own.exec(select(count).where(TicketNote.ticket_id == ticket.id)).one(),
            "follow_ups": own.exec(select(count).where(FollowUp.ticket_id == ticket.id)).one(),
            "audit": own.exec(
                select(count).select_from(AuditEvent).where(col(AuditEvent.action).like("ticket.%"))
            ).one(),
        }


def _walk(client: TestClient, hdrs: dict[str, str], number: str, *actions: str) -> None:
    for action in actions:
        version = client.get(f"/api/tickets/{number}", headers=hdrs).json()["version"]
        extra = {"public_reply": "已处理。"} if action == "reply" else {}
        resp = move(client, hdrs, number, action, version=version, **extra)
        assert resp.status_code == 200, resp.text


# --- item 2: confidentiality -----------------------------------------------------------------------


def test_department_operator_cannot_lift_confidentiality(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]], department: int
) -> None:
    centre = headers("operator")
    number = create(client, service_headers, confidential=True)["number"]
    move(client, centre, number, "dispatch", department_id=department, version=1)
    dept_staff = headers("operator", department)
    before = _state(number)

    for who in (dept_staff, centre):  # neither a department's nor the centre's operator may lift it
        resp = client.patch(
            f"/api/tickets/{number}", json={"version": 2, "confidential": False, "reason": "想看"}, headers=who
        )
        assert resp.status_code == 403 and resp.json()["error"]["code"] == "role_forbidden"
        assert "supervisor" in resp.json()["error"]["message"]
    assert _state(number) == before
    seen = client.get(f"/api/tickets/{number}", headers=dept_staff).json()
    assert seen["confidential"] is True and seen["contact_name"] == "王**" and "13800138000" not in str(seen)


def test_supervisor_lifts_confidentiality_only_with_a_reason_and_it_is_audited(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]], department: int
) -> None:
    number = create(client, service_headers, confidential=True)["number"]
    move(client, headers("operator"), number, "dispatch", department_id=department, version=1)
    supervisor = headers("supervisor")
    before = _state(number)
    for body in ({"version": 2, "confidential": False}, {"version": 2, "confidential": False, "reason": "  "}):
        refused = client.patch(f"/api/tickets/{number}", json=body, headers=supervisor)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "confidential_reason_required"
        assert "原因" in refused.json()["error"]["message"] and "reason" in refused.json()["error"]["message"]
    assert _state(number) == before

    reason = "市民来电同意向承办部门公开姓名和电话"
    lifted = client.patch(
        f"/api/tickets/{number}", json={"version": 2, "confidential": False, "reason": reason}, headers=supervisor
    )
    assert lifted.status_code == 200 and lifted.json()["confidential"] is False
    from api.db import get_engine

    with Session(get_engine()) as own:
        trail = own.exec(select(AuditEvent).where(AuditEvent.action == "ticket.confidentiality_lifted")).one()
        assert trail.target_id == number and trail.detail == {"reason": reason} and trail.role == "supervisor"
        edit = own.exec(select(TicketEvent).where(TicketEvent.action == "edit")).one()
        assert edit.reason == reason and "confidential" in (edit.note or "")
    # Only now does the department see who called.
    assert client.get(f"/api/tickets/{number}", headers=headers("operator", department)).json()["contact_name"] == (
        "王女士"
    )


def test_making_an_order_confidential_needs_no_supervisor(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]]
) -> None:
    number = create(client, service_headers)["number"]
    resp = client.patch(
        f"/api/tickets/{number}", json={"version": 1, "confidential": True}, headers=headers("operator")
    )
    assert resp.status_code == 200 and resp.json()["confidential"] is True


# --- item 3: one department's staff and another department's orders ---------------------------------


def test_api_refuses_another_departments_order_and_changes_nothing(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]], department: int
) -> None:
    number = create(client, service_headers)["number"]
    move(client, headers("operator"), number, "dispatch", department_id=department, version=1)
    outsider = headers("operator", _other_department())
    before = _state(number)
    attempts = [
        ("PATCH", f"/api/tickets/{number}", {"version": 2, "priority": "urgent"}),
        ("POST", f"/api/tickets/{number}/transitions", {"action": "accept", "version": 2}),
        ("POST", f"/api/tickets/{number}/transitions", {"action": "reject", "version": 2, "reason": "不归我们"}),
        ("POST", f"/api/tickets/{number}/notes", {"text": "别的部门写的备注"}),
        ("GET", f"/api/tickets/{number}", None),
        ("GET", f"/api/tickets/{number}/notes", None),
        ("GET", f"/api/tickets/{number}/events", None),
    ]
    for method, url, body in attempts:
        resp = client.request(method, url, json=body, headers=outsider)
        assert resp.status_code == 404 and resp.json()["error"]["code"] == "ticket_not_found", (method, url)
    assert _state(number) == before


def test_department_cannot_move_its_order_to_another_department_by_editing(
    client: TestClient, service_headers: dict[str, str], headers: Callable[..., dict[str, str]], department: int
) -> None:
    number = create(client, service_headers)["number"]
    move(client, headers("operator"), number, "dispatch", department_id=department, version=1)
    other = _other_department()
    before = _state(number)
    resp = client.patch(
        f"/api/tickets/{number}", json={"version": 2, "department_id": other}, headers=headers("operator", department)
    )
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "department_move_forbidden"
    assert _state(number) == before


def test_console_follow_up_and_rating_on_another_departments_order_change_nothing(
    client: TestClient,
    service_headers: dict[str, str],
    headers: Callable[..., dict[str, str]],
    staff_as: Callable[..., Staff],
    department: int,
) -> None:
    centre = headers("operator")
    number = create(client, service_headers)["number"]
    move(client, centre, number, "dispatch", department_id=department, version=1)
    _walk(client, centre, number, "accept", "start", "reply", "resolve")
    outsider = staff_as("operator", department_id=_other_department(), username="cy-op")

    # The attack of the report: the answer was 403, but the order had moved to 回访.
    before = _state(number)
    assert before["ticket"]["status"] == "resolved"
    asked = outsider.post(f"/staff/tickets/{number}/follow-up")
    assert asked.status_code == 403 and "没有派给您的部门" in asked.text
    assert _state(number) == before

    # The order in 回访 (asked by its own side), then the rating from the other department: still nothing.
    _walk(client, centre, number, "follow_up")
    before = _state(number)
    rated = outsider.post(f"/staff/tickets/{number}/rating", {"score": "5"})
    assert rated.status_code == 403 and _state(number) == before and before["ticket"]["status"] == "follow_up"
    for url, form in (
        (f"/staff/tickets/{number}/act", {"action": "close", "version": before["ticket"]["version"]}),
        (f"/staff/tickets/{number}/notes", {"note_text": "别的部门写的备注"}),
    ):
        resp = outsider.post(url, form)
        assert resp.status_code == 403 and "没有派给您的部门" in resp.text, url
    assert _state(number) == before

    # The order's own department still can.
    own = staff_as("operator", department_id=department, username="hd-op")
    assert own.post(f"/staff/tickets/{number}/rating", {"score": "5"}).status_code == 303
    assert _state(number)["ticket"]["status"] == "closed"


# --- item 14: supervisors check the log in the API as in the console --------------------------------


def test_supervisor_verifies_the_log_in_the_api_as_in_the_console(
    client: TestClient, headers: Callable[..., dict[str, str]], staff_as: Callable[..., Staff]
) -> None:
    resp = client.get("/api/grievance-log/verify", headers=headers("supervisor"))
    assert resp.status_code == 200 and resp.json()["ok"] is True
    page = staff_as("supervisor", username="sup-console").get("/staff/audit?verify=1")
    assert page.status_code == 200
    for role in ("operator", "admin"):
        refused = client.get("/api/grievance-log/verify", headers=headers(role))
        assert refused.status_code == 403


def test_console_and_api_follow_the_same_rules() -> None:
    """The console's navigation and the API's dependencies both read `access.RULES`: one table."""
    from staff_console.ui import PAGES

    assert {capability for _href, _label, capability in PAGES} <= set(access.RULES)
    dept = Principal("d", "operator", 1, 7)
    assert not access.may(dept, "conversation") and access.may(dept, "ticket.write")
    assert access.may(Principal("s", "supervisor"), "log.verify")
    assert not access.may(Principal("o", "operator"), "ticket.lift_confidential")
