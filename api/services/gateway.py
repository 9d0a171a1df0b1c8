"""The chat gateway: every text and voice turn passes here.

Order matters: the request is committed to the grievance log first, then handed
to the assistant; whatever happens next (an answer, a timeout, Rasa down), the
same record is completed with the outcome, so nothing a citizen said is lost.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, TypeGuard

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
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

# A client's id for one turn (a UUID, Twilio's MessageSid): sent again with the turn, it is answered once.
TURN_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
# How long a copy of a turn waits for the first copy, still being answered elsewhere, before answering itself.
FIRST_COPY_WAIT_SECONDS = 5.0


@dataclass
class ChatTurn:
    session_id: str
    text: str
    channel: str
    caller: str = ""
    asr_confidence: float | None = None
    contact_phone: str | None = None
    turn_id: str | None = None


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


def valid_turn_id(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and TURN_ID.fullmatch(value) is not None


async def earlier_copy(session: Session, *, session_id: str, turn_id: str | None) -> GrievanceRecord | None:
    """The record of this turn if it was received before (None without a turn id).

    A channel asks before admission (a copy sent again passed it the first time) and hands the record to
    `handle_turn`. An earlier copy still being answered (a double submit, a client that gave up waiting)
    is given a few seconds to finish; one whose instance died mid-turn is returned incomplete.
    """
    if not turn_id:
        return None
    waited = 0.0
    while True:
        found = await run_in_threadpool(grievance_log.find_turn, session, session_id=session_id, turn_id=turn_id)
        if found is None or found.completed_at is not None or waited >= FIRST_COPY_WAIT_SECONDS:
            return found
        await asyncio.sleep(0.25)
        waited += 0.25


async def handle_turn(
    session: Session,
    rasa: RasaClient,
    turn: ChatTurn,
    *,
    caller_salt: str,
    earlier: GrievanceRecord | None = None,
) -> ChatAnswer:
    """One turn, answered once: a turn sent again under its turn id gets the answer already given.

    `earlier` is the record `earlier_copy` found. A copy that arrives unannounced is still answered
    once: the log's unique index refuses its second record, and the first is looked up then.
    """
    started = time.perf_counter()
    record, resumed = (earlier, True) if earlier is not None else await _record_for(session, turn, caller_salt)
    if record.completed_at is not None:
        return answer_from_record(record)
    if resumed:
        turn = replace(turn, text=record.text)  # the words on record are the turn, whatever a copy says
    try:
        return await _answer(session, rasa, turn, record, started, resumed=resumed)
    except grievance_log.AlreadyComplete:
        sealed = await run_in_threadpool(_reread, session, record.id)
        return answer_from_record(sealed)


async def _record_for(session: Session, turn: ChatTurn, caller_salt: str) -> tuple[GrievanceRecord, bool]:
    """A new record for the turn (False), or the one a copy of it arriving at the same moment wrote (True)."""
    try:
        # Database work runs in the thread pool: a blocked event loop would stall every call and chat.
        record = await run_in_threadpool(
            grievance_log.append,
            session,
            channel=turn.channel,
            session_id=turn.session_id,
            caller=grievance_log.caller_key(turn.caller or turn.session_id, salt=caller_salt),
            text=turn.text,
            asr_confidence=turn.asr_confidence,
            turn_id=turn.turn_id,
        )
    except IntegrityError:
        earlier = await earlier_copy(session, session_id=turn.session_id, turn_id=turn.turn_id)
        if earlier is None:
            raise
        return earlier, True
    return record, False


def _reread(session: Session, record_id: int) -> GrievanceRecord:
    session.rollback()
    rec = session.get(GrievanceRecord, record_id, populate_existing=True)
    assert rec is not None
    session.expunge(rec)
    session.rollback()
    return rec


def answer_from_record(rec: GrievanceRecord) -> ChatAnswer:
    """The answer sealed in a record, given again to a client that did not receive it."""
    intent = {"name": rec.intent, "confidence": rec.intent_confidence} if rec.intent else None
    receipt = grievance_log.receipt(rec) if rec.ticket_number else None
    replies = [dict(r) for r in rec.replies or []]
    return ChatAnswer(rec.session_id, replies, intent, bool(rec.handoff), rec.ticket_number, rec.id, {}, receipt)


async def _answer(
    session: Session, rasa: RasaClient, turn: ChatTurn, record: GrievanceRecord, started: float, *, resumed: bool
) -> ChatAnswer:
    # A person may hold the conversation: the assistant is still asked, so that an emergency is
    # answered at once and the citizen can take the request back; otherwise it stays silent.
    held = await run_in_threadpool(_held_by_a_person, session, turn.session_id)
    metadata: dict[str, Any] = {"channel": turn.channel, "log_id": record.id, "held": held}
    if resumed:
        metadata["resumed"] = True  # the assistant may have answered it already: see hotline_nlu.channel
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
