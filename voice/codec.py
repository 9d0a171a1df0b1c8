"""Audio on the wire: 8 kHz μ-law in 20 ms frames, PCM16 everywhere inside.

`audioop` is deprecated but present on Python 3.11 and fast (C); it is the only
DSP this module needs, so no numpy on the hot path.
"""

from __future__ import annotations

import io
import warnings
import wave
from collections.abc import Iterator

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop

SAMPLE_RATE = 8000
FRAME_MS = 20
SAMPLES_PER_FRAME = SAMPLE_RATE * FRAME_MS // 1000  # 160
ULAW_FRAME_BYTES = SAMPLES_PER_FRAME  # one byte per μ-law sample
PCM_FRAME_BYTES = SAMPLES_PER_FRAME * 2
ULAW_SILENCE = b"\xff"


def ulaw_to_pcm16(data: bytes) -> bytes:
    return audioop.ulaw2lin(data, 2)


def pcm16_to_ulaw(data: bytes) -> bytes:
    if len(data) % 2:
        data = data[:-1]
    return audioop.lin2ulaw(data, 2)


def resample(pcm: bytes, src_rate: int, dst_rate: int, channels: int = 1) -> bytes:
    """Convert rate (and fold to mono) of 16-bit PCM."""
    if channels == 2:
        pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
    if src_rate == dst_rate:
        return pcm
    out, _ = audioop.ratecv(pcm, 2, 1, src_rate, dst_rate, None)
    return out


def frames(ulaw: bytes, size: int = ULAW_FRAME_BYTES) -> Iterator[bytes]:
    """Cut μ-law audio into 20 ms frames; the last one is padded with μ-law silence."""
    for start in range(0, len(ulaw), size):
        chunk = ulaw[start : start + size]
        if len(chunk) < size:
            chunk += ULAW_SILENCE * (size - len(chunk))
        yield chunk


def pcm_to_frames(pcm16_8k: bytes) -> list[bytes]:
    return list(frames(pcm16_to_ulaw(pcm16_8k)))


def duration_ms(pcm16: bytes, rate: int = SAMPLE_RATE) -> int:
    return len(pcm16) * 1000 // (2 * rate)


def rms(pcm16: bytes) -> int:
    return audioop.rms(pcm16, 2) if len(pcm16) >= 2 else 0


# A 20 ms frame this loud or louder is speech for `last_voiced_frame` (about -40 dBFS).
VOICED_RMS = 300


def last_voiced_frame(pcm16_8k: bytes, threshold: int = VOICED_RMS) -> int:
    """Index of the last 20 ms frame with speech in it (-1 if none): where the speaker really stopped."""
    size = SAMPLE_RATE * FRAME_MS // 1000 * 2
    last = -1
    for i in range(0, len(pcm16_8k), size):
        if rms(pcm16_8k[i : i + size]) >= threshold:
            last = i // size
    return last


def silence_pcm(ms: int, rate: int = SAMPLE_RATE) -> bytes:
    return b"\x00\x00" * (rate * ms // 1000)


def scale(pcm16: bytes, factor: float) -> bytes:
    return audioop.mul(pcm16, 2, factor)


def read_wav(data: bytes | str) -> tuple[bytes, int]:
    """Read a PCM16 WAV (path or bytes) as mono PCM16 and its rate."""
    src = io.BytesIO(data) if isinstance(data, bytes) else data
    with wave.open(src, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError("only 16-bit PCM WAV is supported")
        pcm = w.readframes(w.getnframes())
        if w.getnchannels() == 2:
            pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
        elif w.getnchannels() != 1:
            raise ValueError("only mono or stereo WAV is supported")
        return pcm, w.getframerate()


def wav_bytes(pcm16: bytes, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm16)
    return buf.getvalue()
