"""Reading work orders: one by number, its history and notes, filtered pages, the citizen's lookup, and the views.

The views are what a caller is shown of an order: staff see it masked unless their
role and department may see who the citizen is (`access.sees_identity`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.models.ticket import (
    OPEN_STATUSES,
    STATUS_LABELS,
    Ticket,
    TicketCategory,
    TicketCitizenView,
    TicketCreated,
    TicketEvent,
    TicketKind,
    TicketNote,
    TicketPriority,
    TicketPublic,
    TicketStatus,
)
from api.services import access, masking, sla
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.services.problems import problem
from api.workorders import lifecycle


def get_ticket(session: Session, *, number: str, for_update: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.number == number)
    if for_update:
        query = query.with_for_update()
    ticket = session.exec(query).first()
    if ticket is None:
        raise problem(404, "ticket_not_found")
    return ticket


def list_events(session: Session, *, number: str) -> list[TicketEvent]:
    ticket = get_ticket(session, number=number)
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(col(TicketEvent.id))
    return list(session.exec(query).all())


def list_notes(session: Session, *, number: str) -> list[TicketNote]:
    ticket = get_ticket(session, number=number)
    return list(
        session.exec(select(TicketNote).where(TicketNote.ticket_id == ticket.id).order_by(col(TicketNote.id))).all()
    )


@dataclass
class TicketFilter:
    status: TicketStatus | None = None
    kind: TicketKind | None = None
    category: TicketCategory | None = None
    priority: TicketPriority | None = None
    channel: str | None = None
    department_id: int | None = None
    assignee: str | None = None
    session_id: str | None = None
    overdue: bool | None = None
    due_soon: bool | None = None
    created_since: datetime | None = None
    created_until: datetime | None = None


def _filtered(query: Any, flt: TicketFilter, *, now: datetime, policy: sla.SlaPolicy) -> Any:
    if flt.status is not None:
        query = query.where(Ticket.status == flt.status)
    if flt.kind is not None:
        query = query.where(Ticket.kind == flt.kind)
    if flt.category is not None:
        query = query.where(Ticket.category == flt.category.value)
    if flt.priority is not None:
        query = query.where(Ticket.priority == flt.priority)
    if flt.channel:
        query = query.where(Ticket.channel == flt.channel)
    if flt.department_id is not None:
        query = query.where(Ticket.department_id == flt.department_id)
    if flt.assignee:
        query = query.where(Ticket.assignee == flt.assignee.lower())
    if flt.session_id:
        query = query.where(Ticket.session_id == flt.session_id)
    if flt.created_since is not None:
        query = query.where(Ticket.created_at >= flt.created_since)
    if flt.created_until is not None:
        query = query.where(Ticket.created_at < flt.created_until)
    if flt.overdue is not None or flt.due_soon is not None:
        query = query.where(col(Ticket.status).in_(OPEN_STATUSES))
    if flt.overdue is not None:
        query = query.where(col(Ticket.deadline) < now) if flt.overdue else query.where(col(Ticket.deadline) >= now)
    if flt.due_soon:
        query = query.where(
            col(Ticket.deadline) >= now, col(Ticket.deadline) < now + timedelta(hours=policy.due_soon_hours)
        )
    elif flt.due_soon is False:
        query = query.where(col(Ticket.deadline) >= now + timedelta(hours=policy.due_soon_hours))
    return query


def list_tickets(
    session: Session,
    *,
    flt: TicketFilter,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
    policy: sla.SlaPolicy | None = None,
) -> tuple[list[Ticket], int]:
    """A page of work orders (most urgent deadline first when filtering by SLA, else newest first) and the total."""
    policy = sla.policy_or_configured(policy)
    now = now or utcnow()
    query = _filtered(select(Ticket), flt, now=now, policy=policy)
    total = session.exec(_filtered(select(func.count()).select_from(Ticket), flt, now=now, policy=policy)).one()
    if flt.overdue or flt.due_soon:
        query = query.order_by(col(Ticket.deadline), col(Ticket.id))
    else:
        query = query.order_by(col(Ticket.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all()), int(total)


def iter_tickets(session: Session, *, flt: TicketFilter, batch: int = 1000) -> Any:
    """All matching work orders in id order, fetched in batches (for exports)."""
    policy = sla.policy_or_configured(None)
    now = utcnow()
    last = 0
    while True:
        query = _filtered(select(Ticket), flt, now=now, policy=policy).where(col(Ticket.id) > last)
        rows = list(session.exec(query.order_by(col(Ticket.id)).limit(batch)).all())
        if not rows:
            return
        yield from rows
        last = rows[-1].id or 0


def public_lookup(session: Session, *, number: str, phone_last4: str) -> Ticket | None:
    """The work order if the number exists and its contact phone ends in `phone_last4`; else None (same for both)."""
    if not (len(number) == 12 and number.isdigit() and len(phone_last4) == 4 and phone_last4.isdigit()):
        return None
    ticket = session.exec(select(Ticket).where(Ticket.number == number)).first()
    phone = (ticket.contact_phone or "") if ticket is not None else ""
    expected = phone[-4:] if len(phone) >= 4 else "----"
    matches = hmac.compare_digest(expected.encode(), phone_last4.encode())
    return ticket if ticket is not None and matches else None


# --- views ---------------------------------------------------------------------------------------


def to_public(ticket: Ticket, *, principal: Principal, now: datetime | None = None) -> TicketPublic:
    now = now or utcnow()
    view = TicketPublic.model_validate(
        ticket,
        update={
            "status_text": STATUS_LABELS[ticket.status],
            "deadline_text": sla.deadline_text(ticket.deadline, ticket.sla_working_days, start=ticket.created_at),
            "overdue": ticket.status in OPEN_STATUSES and sla.is_overdue(ticket.deadline, now),
            "allowed_actions": [a.value for a in lifecycle.allowed_actions(ticket.status)],
        },
    )
    if not access.sees_identity(principal, ticket):
        view.contact_phone = masking.mask_phone(view.contact_phone)
        view.contact_name = masking.mask_name(view.contact_name)
        view.description = masking.mask_text(view.description) or ""
        view.wish = masking.mask_text(view.wish) or ""
        view.occurred_at_text = masking.mask_text(view.occurred_at_text) or ""
        view.location_text = masking.mask_text(view.location_text) or ""  # "…门口，电话139…" names the caller
    return view


def _shown(ticket: Ticket) -> dict[str, Any]:
    """What the creator and the citizen are both shown: the number, the kind, the status and deadline in words."""
    return {
        "number": ticket.number,
        "kind": ticket.kind,
        "status": ticket.status,
        "status_text": STATUS_LABELS[ticket.status],
        "created_at": ticket.created_at,
        "deadline": ticket.deadline,
        "deadline_text": sla.deadline_text(ticket.deadline, ticket.sla_working_days, start=ticket.created_at),
    }


def to_created(ticket: Ticket) -> TicketCreated:
    return TicketCreated(id=ticket.id or 0, **_shown(ticket))


def to_citizen(ticket: Ticket) -> TicketCitizenView:
    return TicketCitizenView(
        **_shown(ticket), replied_at=ticket.replied_at, closed_at=ticket.closed_at, public_reply=ticket.public_reply
    )
