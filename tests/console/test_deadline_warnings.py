"""Deadline warnings raised by the task worker's periodic job: a reminder to the handling department before
the deadline, an escalation to supervisors after it; each once per deadline, on the order's history and in the
audit trail, and shown in the staff queue (each to whom it concerns) and in oversight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, col, select

from api.clock import utcnow
from api.db import get_engine
from api.models.staff import AuditEvent, Department
from api.models.ticket import Ticket, TicketEvent, TicketStatus, TransitionAction, TransitionCreate
from api.services import deadline_watch
from api.services.audit import Principal
from api.settings import get_settings
from api.workorders import workflow
from tests.console.conftest import Staff, new_ticket

pytestmark = pytest.mark.usefixtures("fast_argon2")
CENTRE = Principal("op-centre", "operator")


def _dispatched(department_id: int, deadline: datetime, *, resolve: bool = False) -> str:
    number = new_ticket()
    with Session(get_engine(), expire_on_commit=False) as own:
        moves = [TransitionCreate(action=TransitionAction.dispatch, department_id=department_id)]
        if resolve:
            moves += [
                TransitionCreate(action=TransitionAction.accept),
                TransitionCreate(action=TransitionAction.start),
                TransitionCreate(action=TransitionAction.reply, public_reply="已处理。"),
                TransitionCreate(action=TransitionAction.resolve),
            ]
        for move in moves:
            workflow.transition(own, number=number, data=move, actor=CENTRE)
        _set_deadline(own, number, deadline)
    return number


def _set_deadline(own: Session, number: str, deadline: datetime) -> None:
    ticket = own.exec(select(Ticket).where(Ticket.number == number)).one()
    ticket.deadline = deadline
    own.add(ticket)
    own.commit()


def _second_department() -> int:
    with Session(get_engine()) as own:
        dept = Department(code="cy-dpf", name="朝阳区残联")
        own.add(dept)
        own.commit()
        assert dept.id is not None
        return dept.id


def _actions(number: str) -> list[str]:
    with Session(get_engine()) as own:
        ticket = own.exec(select(Ticket).where(Ticket.number == number)).one()
        events = own.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(col(TicketEvent.id)))
        return [e.action for e in events]


def test_reminder_before_and_escalation_after_the_deadline_each_once(
    department: int, staff_as: Callable[..., Staff]
) -> None:
    other = _second_department()
    now = utcnow()
    soon = _dispatched(department, now + timedelta(hours=2))
    late = _dispatched(other, now - timedelta(hours=1))
    later = _dispatched(department, now + timedelta(days=5))
    done = _dispatched(department, now - timedelta(days=1), resolve=True)
    settings = get_settings()

    with Session(get_engine()) as s:
        raised = deadline_watch.raise_due(s, settings, now=now)
        assert sorted(raised) == sorted([(soon, "reminder"), (late, "escalation")])
        assert deadline_watch.raise_due(s, settings, now=now + timedelta(minutes=5)) == []  # once
    assert _actions(soon)[-1] == "sla_reminder" and _actions(late)[-1] == "sla_escalation"
    assert "sla_reminder" not in _actions(later) and "sla_escalation" not in _actions(done)
    with Session(get_engine()) as s:
        audited = s.exec(select(AuditEvent).where(col(AuditEvent.action).like("sla_%"))).all()
        assert sorted((a.action, a.target_id) for a in audited) == sorted(
            [("sla_reminder", soon), ("sla_escalation", late)]
        )
        assert s.exec(select(Ticket).where(Ticket.number == done)).one().status is TicketStatus.resolved

    # When the reminded order's deadline then passes, supervisors hear of it; a new deadline is warned anew.
    with Session(get_engine()) as s:
        assert deadline_watch.raise_due(s, settings, now=now + timedelta(hours=3)) == [(soon, "escalation")]
        _set_deadline(s, soon, now + timedelta(hours=5))
        assert deadline_watch.raise_due(s, settings, now=now + timedelta(hours=4)) == [(soon, "reminder")]

    # The queue (departments work from their work-order list): each sees what concerns them; supervisors
    # also in oversight.
    dept_staff = staff_as("operator", department_id=department, username="op-hd").get("/staff/tickets").text
    other_staff = staff_as("operator", department_id=other, username="op-cy").get("/staff/tickets").text
    centre = staff_as("operator", username="op-centre").get("/staff").text
    supervisor = staff_as("supervisor")
    overseen = supervisor.get("/staff").text
    assert f'data-key="d{soon}:reminder"' in dept_staff and f"d{late}:" not in dept_staff
    assert f'data-key="d{late}:escalation"' in other_staff and f"d{soon}:" not in other_staff
    assert f'data-key="d{soon}:reminder"' in centre and f"d{late}:" not in centre  # escalations go up
    assert f'data-key="d{soon}:reminder"' in overseen and f'data-key="d{late}:escalation"' in overseen
    assert "期限提醒和超期上报" in overseen and "朝阳区残联" in overseen
    oversight = supervisor.get("/staff/oversight").text
    escalated = oversight.split('id="escalated-title"', 1)[1].split("</table>", 1)[0]
    assert f"/staff/tickets/{late}" in escalated and f"/staff/tickets/{soon}" not in escalated
