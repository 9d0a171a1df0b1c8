"""Conversations the assistant handed to a person: the queue, taking over, handing back.

The grievance log already says which turns asked for a person (`handoff`), so the
queue is read from it; `ConversationHold` only adds who holds a conversation now and
up to which record it was handed back. Rasa's `handoff` slot keeps the assistant
silent while a person holds the conversation; the caller of `take`/`release` sets it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.db import begin_write
from api.models.console import ConversationHold
from api.models.grievance import GrievanceRecord
from api.services import access, audit, grievance_log
from api.services.audit import Principal
from api.services.problems import problem

QUEUE_WINDOW = timedelta(days=7)

REASONS: dict[str, str] = {
    "emergency": "紧急情况",
    "request_human": "市民要求转人工",
    "nlu_fallback": "助手没有听懂",
    "complain": "投诉需人工处理",
    "unavailable": "助手暂时不可用",
    "staff": "工作人员主动接手",
    "other": "其他原因",
}


def aware(moment: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; everything here is UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def reason_code(record: GrievanceRecord) -> str:
    if record.outcome == "fallback":
        return "unavailable"
    if record.intent in REASONS:
        return record.intent
    return "other"


@dataclass
class QueueItem:
    session_id: str
    channel: str
    reason: str
    reason_text: str
    emergency: bool
    waiting_since: datetime
    last_at: datetime
    last_text: str
    turns: int
    holder: str | None
    ticket_number: str | None

    @property
    def key(self) -> str:
        """Changes whenever the item changes: the live queue compares keys, not whole rows."""
        return f"{self.session_id}:{self.holder or ''}:{self.turns}"


def _holds(session: Session, session_ids: list[str]) -> dict[str, ConversationHold]:
    if not session_ids:
        return {}
    rows = session.exec(select(ConversationHold).where(col(ConversationHold.session_id).in_(session_ids))).all()
    return {row.session_id: row for row in rows}


def queue(session: Session, *, now: datetime | None = None) -> list[QueueItem]:
    """Conversations waiting for a person or held by one: emergencies first, then the longest waiting."""
    now = now or grievance_log.utcnow()
    since = now - QUEUE_WINDOW
    latest = session.exec(
        select(GrievanceRecord.session_id, func.max(GrievanceRecord.id))
        .where(GrievanceRecord.handoff == True, GrievanceRecord.created_at >= since)  # noqa: E712
        .group_by(GrievanceRecord.session_id)
    ).all()
    holds = _holds(session, [sid for sid, _ in latest])
    items: list[QueueItem] = []
    for sid, last_handoff in latest:
        hold = holds.get(sid)
        if hold is not None and hold.holder is None and last_handoff <= hold.released_after:
            continue
        after = hold.released_after if hold is not None else 0
        records = session.exec(
            select(GrievanceRecord)
            .where(GrievanceRecord.session_id == sid, GrievanceRecord.id > after, GrievanceRecord.created_at >= since)
            .order_by(col(GrievanceRecord.id))
        ).all()
        asked = [r for r in records if r.handoff]
        if not asked or (not records[-1].handoff and (hold is None or hold.holder is None)):
            # nobody asked, or the citizen took the request back and talks to the assistant again
            continue
        first = asked[0]
        citizen = [r for r in records if r.outcome != "staff" and r.text]
        code = "emergency" if any(r.intent == "emergency" for r in records) else reason_code(first)
        items.append(
            QueueItem(
                session_id=sid,
                channel=first.channel,
                reason=code,
                reason_text=REASONS[code],
                emergency=code == "emergency",
                waiting_since=aware(first.created_at) or now,
                last_at=aware(records[-1].created_at) or now,
                last_text=citizen[-1].text if citizen else "",
                turns=len(records),
                holder=hold.holder if hold is not None else None,
                ticket_number=next((r.ticket_number for r in reversed(records) if r.ticket_number), None),
            )
        )
    session.rollback()
    items.sort(key=lambda i: (not i.emergency, i.holder is not None, i.waiting_since))
    return items


def transcript(session: Session, *, session_id: str, limit: int = 500) -> list[GrievanceRecord]:
    """Every turn of the conversation (citizen, assistant and staff), oldest first."""
    rows = session.exec(
        select(GrievanceRecord)
        .where(GrievanceRecord.session_id == session_id)
        .order_by(col(GrievanceRecord.id).desc())
        .limit(limit)
    ).all()
    session.rollback()
    return list(reversed(rows))


def get_hold(session: Session, *, session_id: str) -> ConversationHold | None:
    return session.get(ConversationHold, session_id)


def is_held(session: Session, *, session_id: str) -> bool:
    hold = session.get(ConversationHold, session_id)
    return hold is not None and hold.holder is not None


def _last_record_id(session: Session, session_id: str) -> int:
    value = session.exec(select(func.max(GrievanceRecord.id)).where(GrievanceRecord.session_id == session_id)).one()
    return int(value or 0)


def take(session: Session, *, session_id: str, channel: str, actor: Principal) -> ConversationHold:
    """The actor holds the conversation; a 409 names whoever already holds it."""
    if not _last_record_id(session, session_id):
        session.rollback()
        raise problem(404, "conversation_not_found")
    begin_write(session)
    now = grievance_log.utcnow()
    hold = session.get(ConversationHold, session_id, with_for_update=True)
    if hold is not None and hold.holder and hold.holder != actor.username:
        holder = hold.holder
        session.rollback()
        raise problem(409, "conversation_held", holder=holder)
    if hold is None:
        hold = ConversationHold(session_id=session_id, channel=channel, updated_at=now)
    elif hold.holder == actor.username:
        session.rollback()
        return hold
    hold.holder = actor.username
    hold.held_since = now
    hold.updated_at = now
    hold.version += 1
    session.add(hold)
    audit.record(session, actor=actor, action="conversation.take", target_type="conversation", target_id=session_id)
    session.commit()
    return hold


def release(session: Session, *, session_id: str, actor: Principal) -> ConversationHold:
    """Hand the conversation back to the assistant; earlier requests for a person leave the queue."""
    begin_write(session)
    hold = session.get(ConversationHold, session_id, with_for_update=True)
    if hold is None or hold.holder is None:
        session.rollback()
        raise problem(409, "conversation_not_held")
    if not access.may_release(actor, hold.holder):
        holder = hold.holder
        session.rollback()
        raise problem(409, "conversation_held", holder=holder)
    _let_go(session, hold)
    audit.record(session, actor=actor, action="conversation.release", target_type="conversation", target_id=session_id)
    session.commit()
    return hold


def _let_go(session: Session, hold: ConversationHold) -> None:
    """Nobody holds the conversation from now; requests for a person before this point leave the queue."""
    hold.holder = None
    hold.held_since = None
    hold.released_after = _last_record_id(session, hold.session_id)
    hold.updated_at = grievance_log.utcnow()
    hold.version += 1
    session.add(hold)


def withdraw(session: Session, *, session_id: str) -> None:
    """The citizen took the request for a person back: whoever held the conversation lets go of it."""
    begin_write(session)
    hold = session.get(ConversationHold, session_id, with_for_update=True)
    if hold is None or hold.holder is None:
        session.rollback()
        return
    _let_go(session, hold)
    session.commit()
