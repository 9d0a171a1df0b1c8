"""Deadline warnings: a reminder to the handling department before a work order's deadline, and an escalation
to supervisors once it has passed.

The task worker calls `raise_due` every few minutes. Each warning is a `DeadlineAlert` row (unique per work
order, kind and deadline, so two workers or two runs raise it once), a ticket event in the order's history
and an audit event, committed together. "Before the deadline" is the SLA policy's `due_soon_hours`, the same
window the console's "due soon" filter uses; the deadline itself is already on the Chinese working-day
calendar. `active` is what the staff queue and oversight show: the warnings whose deadline still stands on
an order still open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.clock import aware, utcnow
from api.db import begin_write
from api.models.outbox import DeadlineAlert, DeadlineAlertKind
from api.models.staff import Department
from api.models.ticket import OPEN_STATUSES, Ticket, TicketEvent
from api.services import access, audit, sla
from api.services.audit import Principal
from api.settings import Settings

ACTOR = "system:deadlines"
NOTES = {
    DeadlineAlertKind.reminder: "办理期限快到了（{when}前），已提醒承办部门抓紧办理。",
    DeadlineAlertKind.escalation: "已超过办理期限（{when}），已上报主管督办。",
}
# Ticket-event actions (16 characters at most) and audit actions.
EVENT_ACTIONS = {DeadlineAlertKind.reminder: "sla_reminder", DeadlineAlertKind.escalation: "sla_escalation"}
# Who sees an escalation: those who oversee the departments.
ESCALATION_ROLES = frozenset({access.SUPERVISOR, access.ADMIN})


def raise_due(
    session: Session, settings: Settings, *, now: datetime | None = None, limit: int = 500
) -> list[tuple[str, DeadlineAlertKind]]:
    """Raise every warning now due that was not raised yet; (work-order number, kind) of each raised."""
    moment = now or utcnow()
    policy = sla.load_policy(settings.sla_policy_file)
    windows = {
        DeadlineAlertKind.escalation: (None, moment),
        DeadlineAlertKind.reminder: (moment, moment + timedelta(hours=policy.due_soon_hours)),
    }
    raised: list[tuple[str, DeadlineAlertKind]] = []
    for kind, (after, before) in windows.items():
        already = (
            select(DeadlineAlert.id)
            .where(
                col(DeadlineAlert.ticket_id) == col(Ticket.id),
                col(DeadlineAlert.deadline) == col(Ticket.deadline),
                DeadlineAlert.kind == kind,
            )
            .exists()
        )
        query = select(Ticket.id, Ticket.number, Ticket.deadline).where(
            col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.deadline) < before, ~already
        )
        if after is not None:
            query = query.where(col(Ticket.deadline) >= after)
        rows = session.exec(query.order_by(col(Ticket.deadline)).limit(limit)).all()
        session.rollback()
        for ticket_id, number, deadline in rows:
            assert ticket_id is not None and deadline is not None  # the query's own conditions
            if _raise(session, ticket_id=ticket_id, kind=kind, deadline=aware(deadline), now=moment):
                raised.append((number, kind))
    return raised


def _raise(session: Session, *, ticket_id: int, kind: DeadlineAlertKind, deadline: datetime, now: datetime) -> bool:
    """One warning with its ticket event and audit event, in one transaction; False when the order moved on
    meanwhile or another worker raised it first."""
    begin_write(session)
    ticket = session.exec(select(Ticket).where(Ticket.id == ticket_id).with_for_update()).first()
    if ticket is None or ticket.status not in OPEN_STATUSES or ticket.deadline is None:
        session.rollback()
        return False
    if aware(ticket.deadline) != deadline:
        session.rollback()
        return False
    when = sla.format_day(sla.china_date(deadline))
    session.add(
        DeadlineAlert(
            ticket_id=ticket_id, kind=kind, deadline=deadline, department_id=ticket.department_id, created_at=now
        )
    )
    session.add(
        TicketEvent(
            ticket_id=ticket_id,
            at=now,
            actor=ACTOR,
            action=EVENT_ACTIONS[kind],
            from_status=ticket.status,
            to_status=ticket.status,
            note=NOTES[kind].format(when=when),
        )
    )
    audit.record(
        session,
        actor=ACTOR,
        action=EVENT_ACTIONS[kind],
        target_type="ticket",
        target_id=ticket.number,
        detail={"deadline": deadline.isoformat(), "department_id": ticket.department_id},
    )
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return False
    return True


@dataclass(frozen=True)
class ActiveAlert:
    """A warning still standing, as the queue and oversight list it."""

    number: str
    kind: DeadlineAlertKind
    deadline: datetime
    department: str
    raised_at: datetime

    @property
    def key(self) -> str:
        return f"d{self.number}:{self.kind.value}"


def active(session: Session, principal: Principal, *, limit: int = 100) -> list[ActiveAlert]:
    """Standing warnings this member of staff is to see, most overdue first: department staff their own
    department's reminders and escalations, the centre every reminder, supervisors every escalation."""
    query = (
        select(DeadlineAlert, Ticket.number, Department.name)
        .join(Ticket, col(Ticket.id) == col(DeadlineAlert.ticket_id))
        .join(Department, col(Department.id) == col(Ticket.department_id), isouter=True)
        .where(col(Ticket.status).in_(OPEN_STATUSES), col(Ticket.deadline) == col(DeadlineAlert.deadline))
    )
    if access.is_department_staff(principal):
        query = query.where(Ticket.department_id == principal.department_id)
    elif principal.role not in ESCALATION_ROLES:
        query = query.where(DeadlineAlert.kind == DeadlineAlertKind.reminder)
    rows = session.exec(query.order_by(col(DeadlineAlert.deadline), col(DeadlineAlert.id)).limit(limit)).all()
    session.rollback()
    return [
        ActiveAlert(
            number=number,
            kind=alert.kind,
            deadline=aware(alert.deadline),
            department=name or "未派单",
            raised_at=aware(alert.created_at),
        )
        for alert, number, name in rows
    ]
