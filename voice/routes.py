"""HTTP and WebSocket transport of the phone line: Twilio webhook, media stream, /phone page."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.db import get_engine
from api.errors import ApiError
from api.integrations import twilio
from api.models.ticket import ContactPreference, TicketKind
from api.services import callers, gateway, grievance_log
from api.services.admission import limiter_for
from api.services.ratelimit import client_address
from api.settings import Settings, get_settings
from voice import asr, model_fetch, stream_access, transfer
from voice import twilio_protocol as tp
from voice.actions import CallActions
from voice.call import Call, CallConfig, P, TurnReply
from voice.tts import Synthesizer, get_synthesizer
from voice.vad import SileroModel, VoiceActivity

log = logging.getLogger("voice.routes")
STATIC = Path(__file__).resolve().parent / "static"
MAX_BAD_FRAMES = 50


def synthesizer(settings: Settings) -> Synthesizer:
    return get_synthesizer(settings.voice_tts_rate, settings.voice_tts_slow_rate)


def prepare(settings: Settings) -> None:
    """Background start-up: fetch the model if allowed, load it, pre-synthesise the prompts."""
    path = settings.vosk_model_path
    if not model_fetch.is_model_dir(path) and settings.vosk_auto_download and not settings.vosk_model:
        spec = model_fetch.LARGE_CN if settings.vosk_large_model else model_fetch.SMALL_CN
        model_fetch.STATE.start(
            spec, path, url=settings.vosk_model_url or None, sha256=settings.vosk_model_sha256 or None
        )

    def warm() -> None:
        with contextlib.suppress(RuntimeError):
            asr.load_model(path)
        SileroModel.load(settings.vad_model_path)
        common = ("greeting", "greeting_keypad", "reprompt", "reprompt_keypad", "goodbye")
        synthesizer(settings).warm([P[key] for key in common])

    threading.Thread(target=warm, name="voice-warm", daemon=True).start()


@asynccontextmanager
async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
    prepare(get_settings())
    yield


router = APIRouter(tags=["voice"], lifespan=lifespan)


# --- Twilio webhook ----------------------------------------------------------------------------------


def stream_url(request: Request, settings: Settings) -> str:
    base = settings.public_base_url or f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    return base.replace("https://", "wss://", 1).replace("http://", "ws://", 1) + "/voice/stream"


def stream_token(settings: Settings, call_sid: str, caller: str = "", note: str = "") -> str:
    """The stream's admission ticket for this call; it also vouches for the caller number (SMS goes only there)."""
    return stream_access.mint(settings.effective_secret_key, call_sid=call_sid, caller=caller, note=note)


def stream_twiml(request: Request, settings: Settings, *, call_sid: str, caller: str, note: str = "") -> Response:
    """Connect the call to our media stream, with its signed admission ticket."""
    from twilio.twiml.voice_response import Connect, VoiceResponse

    twiml = VoiceResponse()
    connect = Connect()
    stream = connect.stream(url=stream_url(request, settings))
    stream.parameter(name="caller", value=caller)
    if note:
        stream.parameter(name="note", value=note)
    stream.parameter(name="stream_token", value=stream_token(settings, call_sid, caller, note))
    twiml.append(connect)
    twiml.hangup()
    return Response(str(twiml), media_type="application/xml")


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form; refused (403) unless Twilio signed it."""
    form = await request.form()
    params = {k: str(v) for k, v in form.items()}
    verdict = twilio.check_webhook(request, params, get_settings())
    if verdict is not twilio.Verdict.OK:
        raise ApiError(403, verdict.value, twilio.MESSAGES[verdict])
    return params


TwilioForm = Annotated[dict[str, str], Depends(signed_form)]


@router.post("/voice/incoming", include_in_schema=True)
async def incoming(request: Request, params: TwilioForm) -> Response:
    """Twilio's call webhook: answer with a bidirectional Media Stream."""
    caller = params.get("From", "")
    return stream_twiml(request, get_settings(), call_sid=params.get("CallSid", ""), caller=caller)


def _call_sid(request: Request, params: dict[str, str]) -> str:
    """The caller's call: named in the URL we gave Twilio (covered by its signature), else the request's."""
    return request.query_params.get("call") or params.get("ParentCallSid") or params.get("CallSid", "")


@router.post("/voice/whisper", include_in_schema=False)
async def whisper(request: Request, params: TwilioForm) -> Response:
    """What the staff member hears on answering a transferred call, before the caller is put through."""
    session_id = f"voice-{_call_sid(request, params)}"[:128]

    def summary() -> str:
        with Session(get_engine()) as session:
            return transfer.staff_summary(session, session_id=session_id)

    return Response(transfer.whisper_twiml(await asyncio.to_thread(summary)), media_type="application/xml")


@router.post("/voice/transfer-result", include_in_schema=False)
async def transfer_result(request: Request, params: TwilioForm) -> Response:
    """The transfer's dial ended: done if a person answered; otherwise a call-back order and back to the assistant."""
    settings = get_settings()
    status = params.get("DialCallStatus", "")
    if status in transfer.ANSWERED:
        return Response(transfer.hang_up_twiml(), media_type="application/xml")
    call_sid = _call_sid(request, params)
    caller = params.get("From", "")
    actions = CallActions(
        settings=settings,
        call_sid=call_sid,
        session_id=f"voice-{call_sid}"[:128],
        caller_phone=caller,
        is_twilio_call=True,
    )
    number = await actions.work_order(
        kind=TicketKind.help_request,
        description=f"来电转接人工无人接听（{status or '未知'}），请回电。",
        phone=caller or None,
        preference=ContactPreference.call,  # the caller asked for a person on the phone: a call-back
    )
    await actions.log_key_action(
        "[转接] 人工坐席无人接听", f"已登记回电，工单号{number}", ticket_number=number, handoff=True
    )
    log.info("transfer not answered (%s): call-back order %s", status, number)
    return stream_twiml(request, settings, call_sid=call_sid, caller=caller, note=f"unanswered:{number}")


# --- the media stream --------------------------------------------------------------------------------


async def _gateway_turn(
    ws: WebSocket, settings: Settings, session_id: str, caller: str, text: str, confidence: float | None
) -> TurnReply:
    with Session(get_engine()) as session:
        answer = await gateway.handle_turn(
            session,
            ws.app.state.rasa,
            gateway.ChatTurn(
                session_id=session_id,
                text=text,
                channel="voice",
                caller=caller or session_id,
                asr_confidence=confidence,
                contact_phone=caller or None,
            ),
            caller_salt=settings.effective_caller_salt,
        )
    reply = "".join(str(r.get("text", "")) for r in answer.replies if r.get("text")) or P["empty_answer"]
    return TurnReply(reply, answer.handoff, answer.ticket_number, answer.log_id)


@router.websocket("/voice/stream")
async def stream(ws: WebSocket) -> None:
    """Twilio Media Streams: one call per connection."""
    await ws.accept()
    settings = get_settings()
    call: Call | None = None
    send_lock = asyncio.Lock()
    closed = False
    bad = 0

    async def send(text: str) -> None:
        if closed:
            return
        async with send_lock:
            await ws.send_text(text)

    async def close(code: int) -> None:
        nonlocal closed
        if not closed:
            closed = True
            with contextlib.suppress(Exception):
                await ws.close(code)

    try:
        while not closed:
            # A socket that never starts a call, or goes quiet (Twilio sends audio every 20 ms), is closed.
            wait = settings.voice_start_timeout_seconds if call is None else settings.voice_idle_timeout_seconds
            try:
                message = await asyncio.wait_for(ws.receive(), wait)
            except TimeoutError:
                log.info("closing an idle media stream (%s)", "no start" if call is None else "no frames")
                await close(1008)
                break
            if message["type"] == "websocket.disconnect":
                break
            raw: Any = message.get("text") if message.get("text") is not None else message.get("bytes")
            try:
                event = tp.parse_message(raw if raw is not None else "")
            except tp.UnsupportedAudio as exc:
                log.warning("refusing stream: %s", exc)
                await close(1003)
                break
            except tp.ProtocolError as exc:
                bad += 1
                log.info("ignored frame: %s", exc)
                if bad > MAX_BAD_FRAMES:
                    await close(1008)
                    break
                continue
            if isinstance(event, tp.Start):
                if call is None:
                    if not _admitted(settings, event):
                        log.warning("refusing a media stream without a valid stream token")
                        await close(1008)
                        break
                    call = await _new_call(ws, settings, event, send, close)
                    await call.start()
            elif call is None:
                continue  # connected, or media before start
            elif isinstance(event, tp.Media):
                await call.on_media(event)
            elif isinstance(event, tp.Dtmf):
                await call.on_dtmf(event)
            elif isinstance(event, tp.Mark):
                await call.on_mark(event)
            elif isinstance(event, tp.Stop):
                break
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("voice stream failed")
        await close(1011)
    finally:
        if call is not None:
            await call.finish()
        await close(1000)


async def _stored_slow(key: str) -> bool:
    """The caller's remembered speed; a database hiccup must not stop the call being answered."""
    try:
        return await asyncio.to_thread(callers.wants_slow, key)
    except Exception:
        log.exception("caller preference not read")
        return False


def _admitted(settings: Settings, start: tp.Start) -> bool:
    """Only calls the app let in (a signed Twilio call, the browser phone, `hotline call`) may start."""
    return stream_access.verify(
        settings.effective_secret_key,
        start.custom.get("stream_token", ""),
        call_sid=start.call_sid or start.stream_sid,
        caller=start.custom.get("caller", ""),
        note=start.custom.get("note", ""),
    )


async def _new_call(ws: WebSocket, settings: Settings, start: tp.Start, send: Any, close: Any) -> Call:
    call_sid = start.call_sid or start.stream_sid
    session_id = f"voice-{call_sid}"[:128]
    caller = start.custom.get("caller", "")  # vouched for by the stream token
    verified = bool(caller)
    path = settings.vosk_model_path
    recognizer = await asr.open_recognizer(path) if asr.unavailable_reason(path) is None else None
    actions = CallActions(
        settings=settings,
        call_sid=call_sid,
        session_id=session_id,
        caller_phone=caller,
        is_twilio_call=verified and call_sid.startswith("CA"),
    )
    cfg = CallConfig(
        silence_ms=int(settings.voice_silence_seconds * 1000),
        silence_limit=settings.voice_silence_limit,
    )

    async def turn(text: str, confidence: float | None) -> TurnReply:
        return await _gateway_turn(ws, settings, session_id, caller, text, confidence)

    key = grievance_log.caller_key(caller, salt=settings.effective_caller_salt) if caller else ""
    slow = await _stored_slow(key)
    vad_model = await asyncio.to_thread(SileroModel.load, settings.vad_model_path)
    return Call(
        send=send,
        close=close,
        tts=synthesizer(settings),
        turn_handler=turn,
        actions=actions,
        stream_sid=start.stream_sid,
        caller_key=key,
        slow=slow,
        slow_stored=slow,
        recognizer=recognizer,
        asr_expected=recognizer is not None,
        config=cfg,
        vad=VoiceActivity(vad_model),
        events_wanted=start.custom.get("hotline_events") == "1",
        service_hours=settings.voice_service_hours,
        returned_order=start.custom.get("note", "").removeprefix("unanswered:"),
    )


# --- the browser phone ----------------------------------------------------------------------------------


@router.get("/phone", response_class=HTMLResponse, include_in_schema=False)
async def phone_page() -> FileResponse:
    return FileResponse(STATIC / "phone.html", media_type="text/html; charset=utf-8")


@router.get("/phone/token", include_in_schema=False)
async def phone_token(request: Request) -> JSONResponse:
    """A stream token for one browser call (no caller number: a web caller is as anonymous as a web chat)."""
    settings = get_settings()
    address, internal = client_address(request, settings.trusted_proxy_set)
    limiter = limiter_for(request, "phone_token", settings.voice_browser_calls_per_minute, 60.0)
    if not internal and await run_in_threadpool(limiter.hit, address) > 0:
        body = {
            "error": {"code": "rate_limited", "message": "拨打太频繁了，请稍后再试。/ Too many calls, try again later."}
        }
        return JSONResponse(body, status_code=429)
    call_sid = "WEB" + secrets.token_hex(12)
    return JSONResponse({"call_sid": call_sid, "stream_token": stream_token(settings, call_sid)})


@router.get("/phone/phone.js", include_in_schema=False)
async def phone_js() -> FileResponse:
    return FileResponse(STATIC / "phone.js", media_type="text/javascript; charset=utf-8")
