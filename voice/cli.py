"""`hotline call FILE.wav`: a local caller speaking Twilio's Media Streams protocol.

For people without a Twilio account (and for the benchmark): streams a WAV as
8 kHz μ-law in 20 ms frames over the same WebSocket the phone company uses, and
plays what comes back as a phone does: a mark is returned only once the audio sent
before it has had time to play (at once after a `clear`, as Twilio does). The reply
delay is measured as the caller lives it: from the last voiced frame of the caller's
audio to the first frame of the reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from voice import codec
from voice import twilio_protocol as tp


@dataclass
class CallLog:
    turns: list[dict[str, Any]] = field(default_factory=list)
    said: list[str] = field(default_factory=list)
    frames: int = 0
    clears: int = 0
    first_frame_at: float | None = None
    ended: bool = False
    marks: list[str] = field(default_factory=list)
    speech_end_at: float | None = None  # when the last voiced frame of the caller's audio was sent
    reply_at: float | None = None  # the first frame of audio after that

    @property
    def reply_delay_ms(self) -> float | None:
        """From the caller's real end of speech to the first reply audio."""
        if self.speech_end_at is None or self.reply_at is None:
            return None
        return (self.reply_at - self.speech_end_at) * 1000


def local_stream_token(call_sid: str, caller: str = "", *, secret: str | None = None) -> str:
    """A stream token signed with this installation's secret key (or `secret`): the hotline lets this call in."""
    from api.settings import get_settings
    from voice import stream_access

    key = secret or get_settings().effective_secret_key
    return stream_access.mint(key, call_sid=call_sid, caller=caller)


async def place_call(
    url: str,
    pcm8k: bytes,
    *,
    caller: str = "",
    keys: str = "",
    realtime: bool = True,
    tail_ms: int = 2500,
    wait_s: float = 30.0,
    echo: bool = True,
    secret: str | None = None,
) -> CallLog:
    """Connect, wait for the greeting to finish, speak the audio, wait for the reply."""
    import websockets

    sid = "MZ" + uuid.uuid4().hex
    call_sid = "CL" + uuid.uuid4().hex
    out = CallLog()
    greeting_done = asyncio.Event()
    reply_done = asyncio.Event()
    turn_seen = asyncio.Event()

    async with websockets.connect(url, max_size=2**22, open_timeout=10) as ws:
        # the player: audio plays in order at real speed, a mark comes back when what precedes it has played
        playing_until = time.perf_counter()
        pending: list[asyncio.Task[None]] = []

        async def played(name: str, at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            with contextlib.suppress(websockets.ConnectionClosed):  # the call ended while this was playing
                await ws.send(tp.peer_mark(sid, name))

        def mark_done(name: str) -> None:
            if name.endswith("-end"):
                if not greeting_done.is_set():
                    greeting_done.set()
                elif turn_seen.is_set():
                    reply_done.set()

        async def receive() -> None:
            nonlocal playing_until
            async for raw in ws:
                msg = json.loads(raw)
                kind = msg.get("event")
                now = time.perf_counter()
                if kind == "media":
                    out.frames += 1
                    if out.first_frame_at is None:
                        out.first_frame_at = now
                    if out.speech_end_at is not None and out.reply_at is None:
                        out.reply_at = now
                    playing_until = max(playing_until, now) + codec.FRAME_MS / 1000
                elif kind == "mark":
                    name = msg["mark"]["name"]
                    out.marks.append(name)
                    if echo:
                        pending.append(asyncio.create_task(played(name, playing_until)))
                    asyncio.get_running_loop().call_at(
                        asyncio.get_running_loop().time() + max(0.0, playing_until - now), mark_done, name
                    )
                elif kind == "clear":
                    out.clears += 1
                    playing_until = now  # the buffer is dropped: the marks still waiting come back at once
                    for task in pending:
                        task.cancel()
                    pending.clear()
                elif kind == "hotline":
                    info = msg["hotline"]
                    if info.get("type") == "turn":
                        out.turns.append(info)
                        turn_seen.set()
                    elif info.get("type") == "say":
                        out.said.append(info.get("text", ""))
                    elif info.get("type") == "end":
                        out.ended = True

        receiver = asyncio.create_task(receive())
        try:
            await ws.send(tp.peer_connected())
            custom = {"hotline_events": "1", "stream_token": local_stream_token(call_sid, caller, secret=secret)}
            if caller:
                custom["caller"] = caller
            await ws.send(tp.peer_start(sid, call_sid, custom=custom))
            await asyncio.wait_for(greeting_done.wait(), wait_s)
            for key in keys:
                await ws.send(tp.peer_dtmf(sid, key))
            if pcm8k:
                audio = pcm8k + codec.silence_pcm(tail_ms)
                last_voiced = codec.last_voiced_frame(pcm8k)
                ts = 0
                started = time.perf_counter()
                for i, frame in enumerate(codec.pcm_to_frames(audio)):
                    await ws.send(tp.peer_media(sid, frame, ts))
                    if i == last_voiced:
                        out.speech_end_at = time.perf_counter()
                    ts += codec.FRAME_MS
                    if realtime:
                        delay = started + (i + 1) * codec.FRAME_MS / 1000 - time.perf_counter()
                        if delay > 0:
                            await asyncio.sleep(delay)
                # keep the line open (with silence, as a phone does) until the reply has played
                deadline = time.perf_counter() + wait_s
                while not reply_done.is_set() and time.perf_counter() < deadline:
                    await ws.send(tp.peer_media(sid, codec.pcm16_to_ulaw(codec.silence_pcm(codec.FRAME_MS)), ts))
                    ts += codec.FRAME_MS
                    await asyncio.sleep(codec.FRAME_MS / 1000)
            await ws.send(tp.peer_stop(sid, call_sid))
        except websockets.ConnectionClosed:
            # the hotline hung up (after its goodbye or a transfer): the call is over, not an error
            out.ended = True
        receiver.cancel()
    return out


def call(
    wav: Path = typer.Argument(..., exists=True, dir_okay=False, help="16-bit PCM WAV, any rate, mono or stereo."),
    url: str = typer.Option("", help="Stream address; default ws://HOTLINE_HOST:HOTLINE_PORT/voice/stream."),
    caller: str = typer.Option("", help="Caller number (only trusted on real Twilio calls)."),
    keys: str = typer.Option("", help="Keys to press after the greeting, e.g. '0' or '#'."),
    fast: bool = typer.Option(False, help="Send the audio as fast as possible instead of in real time."),
) -> None:
    """拨打本地热线 / Call the local hotline with a WAV file and print each turn."""
    if not url:
        from api.settings import get_settings

        s = get_settings()
        url = f"ws://{s.host}:{s.port}/voice/stream"
    pcm, rate = codec.read_wav(wav.read_bytes())
    pcm8k = codec.resample(pcm, rate, codec.SAMPLE_RATE)
    typer.echo(f"calling {url} with {wav.name} ({codec.duration_ms(pcm8k) / 1000:.1f} s)")
    started = time.perf_counter()
    result = asyncio.run(place_call(url, pcm8k, caller=caller, keys=keys, realtime=not fast))
    for text in result.said:
        typer.echo(f"  bot: {text}")
    for i, turn in enumerate(result.turns, 1):
        conf = turn.get("confidence")
        typer.echo(
            f"turn {i}: heard 「{turn.get('heard')}」 (confidence {conf if conf is not None else '-'})\n"
            f"        reply 「{turn.get('reply')}」\n"
            f"        gateway {turn.get('gateway_ms')} ms, end of the turn → first reply audio "
            f"{turn.get('endpoint_to_first_audio_ms')} ms"
        )
    if result.reply_delay_ms is not None:
        typer.echo(f"your real end of speech → first reply audio: {result.reply_delay_ms:.0f} ms")
    if not result.turns:
        typer.echo("no turn: nothing was recognised (is a speech model installed? see /health)")
    typer.echo(f"{result.frames} audio frames received, {result.clears} clear, {time.perf_counter() - started:.1f} s")
