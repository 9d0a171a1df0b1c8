"""回访 by an outgoing call: the citizen hears our own voice and rates 1–5 on the keypad.

The task worker asks Twilio for the call (an outbox row written by
`api.services.follow_up.request_follow_up`); Twilio then fetches TwiML from `/voice/follow-up/{token}`:
a `<Gather>` of one digit around a `<Play>` of audio we synthesise (pyttsx3/espeak-ng,
the same voice as the hotline). The digit goes to `api.services.follow_up.record_rating`,
so a call rating closes or reopens the order exactly as an SMS or web rating does.
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import wording
from api.db import new_session
from api.errors import ApiError
from api.integrations import twilio
from api.services import follow_up
from api.settings import Settings, get_settings
from voice import codec
from voice.speech_text import read_ticket
from voice.tts import TtsError, get_synthesizer

log = logging.getLogger(__name__)
router = APIRouter(prefix="/voice/follow-up", tags=["voice"])

PROMPTS = wording.texts("voice", "follow_up_call")
MAX_TRIES = 2


async def _webhook_verdict(request: Request, settings: Settings) -> twilio.Verdict:
    form = await request.form()
    return twilio.check_webhook(request, {k: str(v) for k, v in form.items()}, settings)


def _base(request: Request, settings: Settings) -> str:
    return settings.public_base_url or f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"


def _gather(request: Request, settings: Settings, token: str, prompt: str, tries: int) -> str:
    from twilio.twiml.voice_response import Gather, VoiceResponse

    base = _base(request, settings)
    path = quote(token, safe="")
    twiml = VoiceResponse()
    gather = Gather(num_digits=1, timeout=8, action=f"{base}/voice/follow-up/{path}/rating?tries={tries}")
    gather.play(f"{base}/voice/follow-up/{path}/audio/{prompt}.wav")
    twiml.append(gather)
    # No key pressed: Twilio continues here, which asks once more and then says goodbye.
    twiml.redirect(f"{base}/voice/follow-up/{path}/rating?tries={tries}", method="POST")
    return str(twiml)


def _play_and_hang_up(request: Request, settings: Settings, token: str, prompt: str) -> str:
    from twilio.twiml.voice_response import VoiceResponse

    twiml = VoiceResponse()
    twiml.play(f"{_base(request, settings)}/voice/follow-up/{quote(token, safe='')}/audio/{prompt}.wav")
    twiml.hangup()
    return str(twiml)


def _xml(body: str) -> Response:
    return Response(body, media_type="application/xml")


def _number_for(token: str) -> str | None:
    """The work-order number behind a follow-up token, or None when the token is unknown."""
    from api.models.ticket import Ticket

    with new_session() as session:
        found = follow_up.get_by_token(session, token)
        ticket = session.get(Ticket, found.ticket_id) if found is not None else None
        session.rollback()
        return ticket.number if ticket is not None else None


@router.post("/{token}")
async def call_answered(request: Request, token: str) -> Response:
    """Twilio fetches this when the citizen picks up: ask for the rating."""
    settings = get_settings()
    verdict = await _webhook_verdict(request, settings)
    if verdict is not twilio.Verdict.OK:
        return twilio.refusal(verdict)
    if await run_in_threadpool(_number_for, token[:64]) is None:
        return _xml(_play_and_hang_up(request, settings, token[:64], "goodbye"))
    return _xml(_gather(request, settings, token[:64], "ask", 1))


@router.post("/{token}/rating")
async def rating(request: Request, token: str, tries: int = 1) -> Response:
    """The digit the citizen pressed (Twilio's `Digits`), or nothing when they pressed none."""
    settings = get_settings()
    verdict = await _webhook_verdict(request, settings)
    if verdict is not twilio.Verdict.OK:
        return twilio.refusal(verdict)
    token = token[:64]
    digits = str((await request.form()).get("Digits") or "").strip()
    if digits not in ("1", "2", "3", "4", "5"):
        if tries >= MAX_TRIES:
            return _xml(_play_and_hang_up(request, settings, token, "goodbye"))
        return _xml(_gather(request, settings, token, "again", tries + 1))

    def _record() -> str:
        with new_session() as session:
            try:
                result = follow_up.record_rating(
                    session, token=token, score=int(digits), channel="voice", settings=settings
                )
            except ApiError as exc:
                session.rollback()
                return "used" if exc.status_code == 409 else "goodbye"
            return "reopened" if result.reopened else ("closed" if result.changed else "used")

    prompt = await run_in_threadpool(_record)
    return _xml(_play_and_hang_up(request, settings, token, prompt))


@router.get("/{token}/audio/{prompt}.wav")
async def audio(token: str, prompt: str) -> Response:
    """A prompt in the hotline's own voice, as 8 kHz WAV for Twilio's `<Play>`."""
    if prompt not in PROMPTS:
        return Response(status_code=404)
    text = PROMPTS[prompt]
    if prompt == "ask":
        number = await run_in_threadpool(_number_for, token[:64])
        if number is None:
            return Response(status_code=404)
        text = text.format(number=read_ticket(number))
    settings = get_settings()
    synth = get_synthesizer(settings.voice_tts_rate, settings.voice_tts_slow_rate)
    try:
        spoken = await asyncio.get_running_loop().run_in_executor(
            synth.executor, lambda: synth.synthesize_blocking(text, normalized=True)
        )
    except TtsError as exc:
        log.warning("follow-up prompt could not be synthesised: %s", exc)
        return Response(status_code=503)
    return Response(codec.wav_bytes(spoken.pcm, 8000), media_type="audio/wav", headers={"Cache-Control": "no-store"})
