"""The chat gateway: every text and voice turn passes here.

Order matters: the request is committed to the grievance log first, then handed
to the assistant; whatever happens next (an answer, a timeout, Rasa down), the
same record is completed with the outcome, so nothing a citizen said is lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api import wording
from api.models.grievance import GrievanceRecord, Receipt
from api.models.ticket import TicketCreate, TicketKind
from api.services import grievance_log
from api.services import handoff as handoffs
from api.services.rasa_client import AssistantUnavailable, RasaClient
from api.workorders import creation

CHANNELS = ("web", "sms", "voice")

HUMAN_BUTTON = {"title": "转人工", "payload": "/request_human"}


@dataclass
class ChatTurn:
    session_id: str
    text: str
    channel: str
    caller: str = ""
    asr_confidence: float | None = None
    contact_phone: str | None = None


@dataclass
class ChatAnswer:
    session_id: str
    replies: list[dict[str, Any]]
    intent: dict[str, Any] | None
    handoff: bool
    ticket_number: str | None
    log_id: int
    signals: dict[str, Any] = field(default_factory=dict)
    receipt: Receipt | None = None


async def handle_turn(session: Session, rasa: RasaClient, turn: ChatTurn, *, caller_salt: str) -> ChatAnswer:
    started = time.perf_counter()
    # Database work runs in the thread pool: a blocked event loop would stall every call and chat.
    record = await run_in_threadpool(
        grievance_log.append,
        session,
        channel=turn.channel,
        session_id=turn.session_id,
        caller=grievance_log.caller_key(turn.caller or turn.session_id, salt=caller_salt),
        text=turn.text,
        asr_confidence=turn.asr_confidence,
    )
    # A person may hold the conversation: the assistant is still asked, so that an emergency is
    # answered at once and the citizen can take the request back; otherwise it stays silent.
    held = await run_in_threadpool(_held_by_a_person, session, turn.session_id)
    metadata: dict[str, Any] = {"channel": turn.channel, "log_id": record.id, "held": held}
    if turn.asr_confidence is not None:
        metadata["asr_confidence"] = turn.asr_confidence
    if turn.contact_phone:
        metadata["caller_phone"] = turn.contact_phone

    try:
        result = await rasa.send(session_id=turn.session_id, text=turn.text, metadata=metadata)
    except AssistantUnavailable:
        if held:
            return await _held_turn(session, turn, record.id, started)
        return await _fallback_turn(session, turn, record, started)

    replies, signals = split_signals(result.replies)
    if held and not replies:
        return await _held_turn(session, turn, record.id, started, result.intent, result.confidence)
    if not replies and not signals:
        # The assistant answered with nothing (its action server down or failing): never silence. The citizen
        # hears that the message is recorded, and a work order keeps it, as when Rasa itself is down.
        return await _fallback_turn(session, turn, record, started)
    if held and signals.get("withdrawn"):
        await run_in_threadpool(handoffs.withdraw, session, session_id=turn.session_id)
    handoff = bool(result.slots.get("handoff") or signals.get("handoff"))
    ticket_number = signals.get("ticket_number") or None
    if signals.get("follow_up") and not ticket_number:
        ticket_number = await run_in_threadpool(_follow_up_ticket, session, turn, signals.get("ticket"))
    intent = {"name": result.intent, "confidence": result.confidence} if result.intent else None
    if ticket_number:
        replies = with_receipt(replies, record)
    await run_in_threadpool(
        grievance_log.complete,
        session,
        record_id=record.id,
        outcome="answered",
        replies=replies,
        intent=result.intent,
        intent_confidence=result.confidence,
        handoff=handoff,
        ticket_number=ticket_number,
        latency_ms=_elapsed_ms(started),
    )
    receipt = grievance_log.receipt(record) if ticket_number else None
    return ChatAnswer(turn.session_id, replies, intent, handoff, ticket_number, record.id, signals, receipt)


async def _fallback_turn(session: Session, turn: ChatTurn, record: GrievanceRecord, started: float) -> ChatAnswer:
    """The assistant could not answer: a work order for staff, and a reply that says so."""
    number = await run_in_threadpool(_follow_up_ticket, session, turn, None)
    replies = with_receipt([{"text": wording.text(turn.channel, "assistant.fallback", number=number)}], record)
    await run_in_threadpool(
        grievance_log.complete,
        session,
        record_id=record.id,
        outcome="fallback",
        replies=replies,
        handoff=True,
        ticket_number=number,
        latency_ms=_elapsed_ms(started),
    )
    return ChatAnswer(turn.session_id, replies, None, True, number, record.id, receipt=grievance_log.receipt(record))


async def _held_turn(
    session: Session,
    turn: ChatTurn,
    record_id: int,
    started: float,
    intent: str | None = None,
    confidence: float | None = None,
) -> ChatAnswer:
    """A turn of a conversation a person holds: the staff console shows it; the assistant said nothing."""
    await run_in_threadpool(
        grievance_log.complete,
        session,
        record_id=record_id,
        outcome="held",
        replies=[],
        intent=intent,
        intent_confidence=confidence,
        handoff=True,
        latency_ms=_elapsed_ms(started),
    )
    reported = {"name": intent, "confidence": confidence} if intent else None
    return ChatAnswer(turn.session_id, [], reported, True, None, record_id)


def with_receipt(replies: list[dict[str, Any]], record: GrievanceRecord) -> list[dict[str, Any]]:
    """The citizen's receipt for a turn that filed a work order, which an auditor can check against the log.

    It joins the last text reply rather than adding a message: one announcement for a screen reader.
    """
    receipt = grievance_log.receipt(record)
    sentence = wording.text(record.channel, "assistant.receipt", record=receipt.record_id, code=receipt.code)
    out = [dict(reply) for reply in replies]
    for reply in reversed(out):
        if reply.get("text"):
            reply["text"] = f"{reply['text']}\n{sentence}"
            return out
    return [*out, {"text": sentence}]


def _held_by_a_person(session: Session, session_id: str) -> bool:
    held = handoffs.is_held(session, session_id=session_id)
    session.rollback()  # end the read: on SQLite an open read would block the writers that follow
    return held


def _follow_up_ticket(session: Session, turn: ChatTurn, draft: Any) -> str:
    """File a work order for staff follow-up when the assistant is down or could not reach the ticket API.

    The assistant's draft is used when it validates; otherwise the citizen's own words
    (and a caller ID only if it is dialable), so the request is never lost to a bad field.
    """
    base = {
        "kind": TicketKind.consultation,
        "description": turn.text,
        "channel": turn.channel,
        "session_id": turn.session_id,
        "contact_phone": turn.contact_phone,
    }
    fields = draft if isinstance(draft, dict) else {}
    for candidate in ({**base, **fields, "session_id": turn.session_id}, base, {**base, "contact_phone": None}):
        try:
            data = TicketCreate.model_validate(candidate)
        except ValidationError:
            continue
        return creation.create_ticket(session, data=data).number
    raise ValueError("no valid work order could be built")


def split_signals(replies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Separate the bot's machine signals (`custom` payloads: handoff, ticket number) from what citizens see."""
    visible: list[dict[str, Any]] = []
    signals: dict[str, Any] = {}
    for reply in replies:
        custom = reply.get("custom")
        if isinstance(custom, dict):
            signals.update(custom)
        rest = {k: v for k, v in reply.items() if k != "custom"}
        if rest:
            visible.append(rest)
    return visible, signals


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
