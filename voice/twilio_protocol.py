"""Twilio Media Streams JSON: parse what Twilio sends, build what we send.

Pure functions and dataclasses, no I/O. Both directions are here because the
local caller CLI, the /phone page's server side and the test peer speak the
caller's half of the same protocol.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from voice.codec import SAMPLE_RATE

MAX_MESSAGE_CHARS = 64_000
MAX_MEDIA_BYTES = 8000  # one second of μ-law; Twilio sends 160 bytes per message
DTMF_KEYS = frozenset("0123456789*#")


class ProtocolError(ValueError):
    """A frame that does not follow the protocol; the call may continue."""


class UnsupportedAudio(ProtocolError):
    """The stream announced audio we cannot handle; the call must end."""


@dataclass(frozen=True)
class Connected:
    protocol: str = "Call"


@dataclass(frozen=True)
class Start:
    stream_sid: str
    call_sid: str
    account_sid: str = ""
    custom: dict[str, str] = field(default_factory=dict)
    encoding: str = "audio/x-mulaw"
    sample_rate: int = SAMPLE_RATE
    channels: int = 1


@dataclass(frozen=True)
class Media:
    payload: bytes
    track: str = "inbound"
    timestamp_ms: int | None = None


@dataclass(frozen=True)
class Dtmf:
    digit: str


@dataclass(frozen=True)
class Mark:
    name: str


@dataclass(frozen=True)
class Stop:
    call_sid: str = ""


Event = Connected | Start | Media | Dtmf | Mark | Stop


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be an object")
    return value


def parse_message(raw: str | bytes) -> Event:
    """Parse one WebSocket text message from Twilio (or a peer speaking as Twilio)."""
    if isinstance(raw, bytes):
        raise ProtocolError("binary frames are not part of the protocol")
    if len(raw) > MAX_MESSAGE_CHARS:
        raise ProtocolError("message too large")
    try:
        msg = json.loads(raw)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProtocolError("not JSON") from exc
    msg = _obj(msg, "message")
    kind = msg.get("event")
    if kind == "connected":
        return Connected(protocol=str(msg.get("protocol", "Call")))
    if kind == "start":
        start = _obj(msg.get("start"), "start")
        fmt = _obj(start.get("mediaFormat", {}), "mediaFormat")
        custom = start.get("customParameters") or {}
        custom = {str(k): str(v) for k, v in _obj(custom, "customParameters").items()}
        try:
            rate = int(fmt.get("sampleRate", SAMPLE_RATE))
            channels = int(fmt.get("channels", 1))
        except (TypeError, ValueError) as exc:
            raise UnsupportedAudio("mediaFormat numbers are not numbers") from exc
        ev = Start(
            stream_sid=str(msg.get("streamSid") or start.get("streamSid") or ""),
            call_sid=str(start.get("callSid") or ""),
            account_sid=str(start.get("accountSid") or ""),
            custom=custom,
            encoding=str(fmt.get("encoding", "audio/x-mulaw")),
            sample_rate=rate,
            channels=channels,
        )
        if not ev.stream_sid:
            raise ProtocolError("start without streamSid")
        check_format(ev)
        return ev
    if kind == "media":
        media = _obj(msg.get("media"), "media")
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise ProtocolError("media without payload")
        if len(payload) > MAX_MEDIA_BYTES * 4 // 3 + 4:
            raise ProtocolError("media payload too large")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError("media payload is not base64") from exc
        ts = media.get("timestamp")
        try:
            ts_ms = int(ts) if ts is not None else None
        except (TypeError, ValueError):
            ts_ms = None
        return Media(payload=audio, track=str(media.get("track", "inbound")), timestamp_ms=ts_ms)
    if kind == "dtmf":
        digit = str(_obj(msg.get("dtmf"), "dtmf").get("digit", ""))
        if digit not in DTMF_KEYS or len(digit) != 1:
            raise ProtocolError("unknown DTMF digit")
        return Dtmf(digit=digit)
    if kind == "mark":
        return Mark(name=str(_obj(msg.get("mark"), "mark").get("name", "")))
    if kind == "stop":
        stop = msg.get("stop")
        return Stop(call_sid=str(stop.get("callSid", "")) if isinstance(stop, dict) else "")
    raise ProtocolError(f"unknown event {str(kind)[:32]!r}")


def check_format(start: Start) -> None:
    """Only 8 kHz mono μ-law, as Twilio sends on phone calls."""
    if start.encoding != "audio/x-mulaw" or start.sample_rate != SAMPLE_RATE or start.channels != 1:
        raise UnsupportedAudio(f"unsupported audio {start.encoding} {start.sample_rate} Hz x{start.channels}")


# --- what the app sends ---------------------------------------------------------------------------


def media_message(stream_sid: str, ulaw: bytes) -> str:
    return json.dumps(
        {"event": "media", "streamSid": stream_sid, "media": {"payload": base64.b64encode(ulaw).decode("ascii")}}
    )


def mark_message(stream_sid: str, name: str) -> str:
    return json.dumps({"event": "mark", "streamSid": stream_sid, "mark": {"name": name}})


def clear_message(stream_sid: str) -> str:
    return json.dumps({"event": "clear", "streamSid": stream_sid})


def hotline_message(stream_sid: str, payload: dict[str, Any]) -> str:
    """Captions and timings for local peers that ask for them; never sent to Twilio."""
    return json.dumps({"event": "hotline", "streamSid": stream_sid, "hotline": payload}, ensure_ascii=False)


# --- what a caller-side peer sends (CLI, /phone page, tests) --------------------------------------


def peer_connected() -> str:
    return json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"})


def peer_start(
    stream_sid: str,
    call_sid: str,
    *,
    custom: dict[str, str] | None = None,
    encoding: str = "audio/x-mulaw",
    sample_rate: int = SAMPLE_RATE,
) -> str:
    return json.dumps(
        {
            "event": "start",
            "sequenceNumber": "1",
            "streamSid": stream_sid,
            "start": {
                "streamSid": stream_sid,
                "callSid": call_sid,
                "accountSid": "",
                "tracks": ["inbound"],
                "customParameters": custom or {},
                "mediaFormat": {"encoding": encoding, "sampleRate": sample_rate, "channels": 1},
            },
        }
    )


def peer_media(stream_sid: str, ulaw: bytes, timestamp_ms: int = 0) -> str:
    return json.dumps(
        {
            "event": "media",
            "streamSid": stream_sid,
            "media": {
                "track": "inbound",
                "timestamp": str(timestamp_ms),
                "payload": base64.b64encode(ulaw).decode("ascii"),
            },
        }
    )


def peer_dtmf(stream_sid: str, digit: str) -> str:
    return json.dumps({"event": "dtmf", "streamSid": stream_sid, "dtmf": {"track": "inbound_track", "digit": digit}})


def peer_mark(stream_sid: str, name: str) -> str:
    return mark_message(stream_sid, name)


def peer_stop(stream_sid: str, call_sid: str) -> str:
    return json.dumps({"event": "stop", "streamSid": stream_sid, "stop": {"callSid": call_sid}})
