"""`POST /api/chat/messages`: the chat gateway's public contract (DESIGN.md)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.deps import RasaDep, SessionDep, SettingsDep
from api.errors import ApiError
from api.models.grievance import Receipt
from api.services import gateway, text_input
from api.services.admission import limiter_for, log_rejected, text_problem
from api.services.ratelimit import client_address
from api.settings import Settings

router = APIRouter(prefix="/api/chat", tags=["chat"])


class Button(BaseModel):
    title: str
    payload: str


class Reply(BaseModel):
    text: str | None = None
    buttons: list[Button] | None = None


class Intent(BaseModel):
    name: str
    confidence: float | None = None


class ChatIn(BaseModel):
    session_id: str = Field(default="", max_length=128, examples=["web-3f2a9c"])
    text: str = Field(examples=["残疾人证怎么办理"])
    channel: str = Field(default="web", examples=["web"])
    turn_id: str | None = Field(
        default=None,
        pattern=gateway.TURN_ID.pattern,
        examples=["3f2a9c1e-7b4d-4c1a-9e2f-5d6c7b8a9f01"],
        description="The client's id for this turn (1-64 letters, digits, _ . : -). Sent again with the same "
        "session_id, the turn is answered once: the retry gets the answer already given, from its record.",
    )


class ChatOut(BaseModel):
    session_id: str
    replies: list[Reply]
    intent: Intent | None
    handoff: bool
    ticket_number: str | None
    log_id: int
    receipt: Receipt | None = Field(
        default=None, description="With a new work order: the log record and check code an auditor can verify"
    )


async def _reject(
    session: Any, *, code: str, status: int, channel: str, session_id: str, text: str, **fmt: Any
) -> ApiError:
    """Record the refused input in the grievance log, then build the error to raise."""
    await run_in_threadpool(
        log_rejected,
        session,
        channel=channel if channel in gateway.CHANNELS else "unknown",
        session_id=session_id,
        text=text,
        code=code,
    )
    return ApiError(status, code, **fmt)


def _flood_wait(request: Request, settings: Settings, session_id: str) -> float:
    """Seconds an outside client must wait: limited per conversation and per address.

    Clients on this machine (the web and SMS channels go through the gateway directly;
    staff tools, benchmarks and evaluations call this API locally) are not limited.
    """
    address, internal = client_address(request, settings.trusted_proxy_set)
    if internal:
        return 0.0
    per_session = limiter_for(request, "chat_session", settings.chat_rate_limit, settings.chat_rate_window_seconds)
    per_address = limiter_for(request, "chat_address", settings.chat_api_per_address_per_minute, 60.0)
    return per_session.hit(session_id) or per_address.hit(address)


@router.post(
    "/messages",
    response_model=ChatOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": ChatIn.model_json_schema()}},
        }
    },
    responses={
        400: {"description": "Invalid JSON"},
        422: {"description": "Empty, too long, unknown channel or malformed turn_id"},
        429: {"description": "Too many messages from this conversation or address"},
    },
)
async def post_message(request: Request, db: SessionDep, rasa: RasaDep, settings: SettingsDep) -> ChatOut:
    """One citizen turn: logged first, answered by the assistant, or recorded for staff when it is down."""
    raw = await request.body()
    try:
        payload = json.loads(raw.decode("utf-8"))
        if not isinstance(payload, dict):
            raise ValueError("not an object")
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise await _reject(
            db,
            code="invalid_json",
            status=400,
            channel="unknown",
            session_id="",
            text=text_input.clean(raw.decode("utf-8", "replace")),
        ) from None

    # Defaults only for a missing key: false, 0, [] or null are wrong types and are refused, not read as "web".
    session_id = payload.get("session_id", "")
    text = payload.get("text")
    channel = payload.get("channel", "web")
    if not isinstance(session_id, str) or len(session_id) > 128:
        raise await _reject(
            db, code="validation_error", status=422, channel="unknown", session_id="", text=str(text or "")
        )
    if not isinstance(channel, str) or channel not in gateway.CHANNELS:
        raise await _reject(
            db, code="unknown_channel", status=422, channel="unknown", session_id=session_id, text=str(text or "")
        )
    session_id = session_id or f"{channel}-{uuid.uuid4().hex[:16]}"
    turn_id = payload.get("turn_id")
    if turn_id is not None and not gateway.valid_turn_id(turn_id):
        raise await _reject(
            db, code="invalid_turn_id", status=422, channel=channel, session_id=session_id, text=str(text or "")
        )
    words = text if isinstance(text, str) else ""
    problem = text_problem(words, limit=settings.max_message_chars)
    if problem:
        raise await _reject(
            db,
            code=problem,
            status=422,
            channel=channel,
            session_id=session_id,
            text=str(text or ""),
            limit=settings.max_message_chars,
        )

    earlier = await gateway.earlier_copy(db, session_id=session_id, turn_id=turn_id)
    wait = 0.0 if earlier is not None else await run_in_threadpool(_flood_wait, request, settings, session_id)
    if wait:
        raise await _reject(
            db, code="rate_limited", status=429, channel=channel, session_id=session_id, text=words, wait=wait
        )

    answer = await gateway.handle_turn(
        db,
        rasa,
        gateway.ChatTurn(session_id=session_id, text=words.strip(), channel=channel, turn_id=turn_id),
        caller_salt=settings.effective_caller_salt,
        earlier=earlier,
    )
    return ChatOut.model_validate(answer, from_attributes=True)
