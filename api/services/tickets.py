"""Work-order creation: numbering (YYYYMMDD + 4-digit daily sequence)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.models.ticket import Ticket, TicketCreate, TicketDaySequence
from api.services.grievance_log import utcnow

CHINA_TZ = ZoneInfo("Asia/Shanghai")


def china_today(now: datetime | None = None) -> date:
    moment = now or datetime.now(CHINA_TZ)
    return moment.astimezone(CHINA_TZ).date() if moment.tzinfo else moment.date()


def next_number(session: Session, *, day: date) -> str:
    """Reserve the next number of `day` inside the caller's transaction."""
    seq = session.exec(select(TicketDaySequence).where(TicketDaySequence.day == day).with_for_update()).first()
    if seq is None:
        seq = TicketDaySequence(day=day, last=0)
        session.add(seq)
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            seq = session.exec(select(TicketDaySequence).where(TicketDaySequence.day == day).with_for_update()).one()
    if seq.last >= 9999:
        raise OverflowError("daily work-order sequence exhausted")
    seq.last += 1
    session.add(seq)
    return f"{day:%Y%m%d}{seq.last:04d}"


def create_ticket(session: Session, *, data: TicketCreate) -> Ticket:
    ticket = Ticket.model_validate(data, update={"created_at": utcnow(), "number": ""})
    ticket.number = next_number(session, day=china_today())
    session.add(ticket)
    session.commit()
    session.refresh(ticket)
    return ticket
