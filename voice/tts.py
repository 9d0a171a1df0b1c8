"""Speech out: pyttsx3 on espeak-ng's Mandarin voice, verified, cached, streamed by sentence.

Two facts about pyttsx3 2.99's espeak driver shape this module:

* libespeak-ng is one instance per process; in pyttsx3's RETRIEVAL mode it
  synthesises on its own thread and calls back one process-wide callback. Every
  new driver replaces that callback (freeing the old ctypes thunk, a segfault if
  espeak's thread is still in it), and an engine whose callback was taken waits
  forever in `runAndWait()`. So one permanent dispatcher thunk is installed and
  kept alive, each worker thread owns one engine, and a process-wide lock
  serialises synthesis, points the dispatcher at the running job and waits for
  espeak to finish (`espeak_Synchronize`) before letting go. A watchdog ends a
  stuck loop. Synthesis is ~100x faster than real time, so the lock costs
  nothing noticeable.
* The driver was seen to return without writing the file on a process's first
  utterance. Every result is therefore checked (exists, a WAV, long enough, not
  silent); one retry, then the espeak-ng command line; a missing or empty file
  is never sent to a caller.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import io
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voice import codec
from voice.speech_text import normalize_for_speech, split_sentences

log = logging.getLogger("voice.tts")

# espeak-ng's `cmn` voice reads Chinese characters it has no entry for, and Latin letters, with the
# English voice: on this project's fixed prompts about 84% of the syllables came out as English
# letters with a tone digit (`(en)nI55nt'u:55` for 您好). `cmn-latn-pinyin` gives Mandarin phonemes for
# every character of the same prompts (bench/tts_voices.py measures both; tests/voice/test_tts.py keeps it so).
VOICE = "cmn-latn-pinyin"
MIN_AUDIO_MS = 80
SYNTH_TIMEOUT_S = 10.0

_ESPEAK_LOCK = threading.Lock()
_KEEP_ALIVE: list[Any] = []
_JOB: dict[str, Any] = {"handler": None}
_THUNK: Any = None


def _dispatch(wav: Any, numsamples: int, events: Any) -> int:
    """The only callback libespeak ever sees; forwards to the job holding the lock."""
    handler = _JOB["handler"]
    if handler is None:
        return 0
    try:
        result: int = handler(wav, numsamples, events)
    except Exception as exc:  # an exception must not cross into C
        log.warning("TTS callback failed: %s: %s", type(exc).__name__, exc)
        return 0
    return result


def _install_dispatcher() -> None:
    """(Re-)register the permanent thunk; call with _ESPEAK_LOCK held."""
    global _THUNK
    from pyttsx3.drivers import _espeak

    if _THUNK is None:
        _THUNK = _espeak.t_espeak_callback(_dispatch)
    _espeak.cSetSynthCallback(_THUNK)


def _skip_driver_teardown() -> None:
    """At exit, let the kept-alive pyttsx3 proxies go without destroying their driver.

    Why: their `__del__` runs while the interpreter is tearing down modules and fails
    on a module global already gone (a traceback on every exit); destroying the driver
    would anyway re-register libespeak's callback, which these engines never do.
    """
    import pyttsx3.driver

    pyttsx3.driver.DriverProxy.__del__ = lambda self: None


class TtsError(RuntimeError):
    """No usable audio could be produced for a sentence."""


@dataclass(frozen=True)
class Spoken:
    text: str
    pcm: bytes  # PCM16 mono 8 kHz
    source: str  # "pyttsx3", "espeak-ng", "cache"
    synth_ms: float


def verify_wav(data: bytes | None) -> tuple[bytes, int]:
    """Return (pcm16 mono, rate) of a usable WAV or raise TtsError saying why not."""
    if not data or len(data) <= 44:
        raise TtsError("no audio written")
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                raise TtsError("unexpected WAV format")
            rate = w.getframerate()
            pcm = w.readframes(w.getnframes())
    except (wave.Error, EOFError) as exc:
        raise TtsError(f"unreadable WAV: {exc}") from exc
    if codec.duration_ms(pcm, rate) < MIN_AUDIO_MS:
        raise TtsError("audio too short")
    if codec.rms(pcm) == 0:
        raise TtsError("audio is silent")
    return pcm, rate


def _words_per_minute(rate: int) -> int:
    return max(80, min(400, rate))


class _ThreadEngine:
    """One pyttsx3 engine, created in and used only by its worker thread.

    The samples are also collected by a wrapper around the driver's callback:
    the driver writes its file on the termination event *before* appending that
    event's last chunk (so files can come out truncated), and sometimes writes
    nothing. Our copy is complete whenever the termination event was seen.
    """

    RATE = 22050

    def __init__(self) -> None:
        import pyttsx3
        import pyttsx3.drivers.espeak as espeak_driver

        # The driver prints "Audio saved to …" on stdout for every file; silence it
        # in that module only (redirecting sys.stdout would swallow other threads' output).
        espeak_driver.print = lambda *args, **kwargs: None
        with _ESPEAK_LOCK:  # a new driver re-registers libespeak's global callback
            self.engine: Any = pyttsx3.Engine("espeak")
            self.driver: Any = self.engine.proxy._driver
            # Never collected: a collected driver calls SetSynthCallback(None) from
            # whatever thread collects it, outside our lock, and can pull the callback
            # from under another thread's synthesis (a segfault).
            if not _KEEP_ALIVE:
                atexit.register(_skip_driver_teardown)
            _KEEP_ALIVE.append(self)
            _install_dispatcher()

    def synth(self, text: str, rate: int, path: str) -> tuple[bytes | None, bytes | None]:
        """Return (our collected PCM if complete, the driver's file bytes if written)."""
        import ctypes

        from pyttsx3.drivers import _espeak

        collected = bytearray()
        terminated = False
        driver = self.driver

        def on_synth(wav: Any, numsamples: int, events: Any) -> int:
            nonlocal terminated
            j = 0
            while events[j].type != _espeak.EVENT_LIST_TERMINATED:
                if events[j].type == _espeak.EVENT_MSG_TERMINATED:
                    terminated = True
                j += 1
            if numsamples > 0 and wav:
                collected.extend(ctypes.string_at(wav, numsamples * 2))
            try:
                result: int = driver._onSynth(wav, numsamples, events)
            except Exception:
                driver.endLoop()
                raise
            return result

        with _ESPEAK_LOCK:
            _install_dispatcher()
            _JOB["handler"] = on_synth
            self.engine.setProperty("voice", VOICE)
            self.engine.setProperty("rate", _words_per_minute(rate))
            self.engine.save_to_file(text, path)
            watchdog = threading.Timer(SYNTH_TIMEOUT_S, driver.endLoop)
            watchdog.daemon = True
            watchdog.start()
            try:
                self.engine.runAndWait()
            finally:
                watchdog.cancel()
                _espeak.Synchronize()  # espeak's thread is done with this job
                _JOB["handler"] = None
        try:
            file_bytes: bytes | None = Path(path).read_bytes()
        except OSError:
            file_bytes = None
        return (bytes(collected) if terminated else None), file_bytes


def espeak_cli(text: str, rate: int, voice: str = VOICE) -> bytes:
    """The espeak-ng command line as the last resort (same voice, same engine)."""
    exe = shutil.which("espeak-ng")
    if not exe:
        raise TtsError("espeak-ng not installed")
    out = subprocess.run(
        [exe, "-v", voice, "-s", str(_words_per_minute(rate)), "--stdout", text],
        capture_output=True,
        timeout=SYNTH_TIMEOUT_S,
        check=False,
    )
    if out.returncode != 0:
        raise TtsError(f"espeak-ng exited {out.returncode}")
    return out.stdout


def phonemes(text: str, voice: str = VOICE) -> str:
    """What espeak-ng will say for a text, as its phoneme mnemonics (`espeak-ng -x`), language switches
    shown as `(en)`…`(cmn)`."""
    exe = shutil.which("espeak-ng")
    if not exe:
        raise TtsError("espeak-ng not installed")
    out = subprocess.run(
        [exe, "-v", voice, "-q", "-x", normalize_for_speech(text)],
        capture_output=True,
        timeout=SYNTH_TIMEOUT_S,
        check=False,
    )
    if out.returncode != 0:
        raise TtsError(f"espeak-ng exited {out.returncode}")
    return out.stdout.decode("utf-8", "replace")


def foreign_share(phoneme_text: str) -> tuple[int, int]:
    """(words read by another language's voice, all words) in `espeak-ng -x` output."""
    foreign = total = 0
    switched = False
    for chunk in re.split(r"[\s_|]+", phoneme_text):
        for part in re.split(r"(\([a-z-]+\))", chunk):
            if re.fullmatch(r"\([a-z-]+\)", part):
                switched = part not in ("(cmn)", "(zh)")
            elif part:
                total += 1
                foreign += switched
    return foreign, total


class Synthesizer:
    """Text in, verified 8 kHz PCM16 out; common prompts cached; sentences streamed."""

    def __init__(self, *, rate: int = 175, slow_rate: int = 120, workers: int = 2, cache_size: int = 256) -> None:
        self.rate = rate
        self.slow_rate = slow_rate
        self._local = threading.local()
        self._tmp = tempfile.mkdtemp(prefix="hotline-tts-")
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tts")
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()
        self.stats = {"pyttsx3": 0, "retry": 0, "espeak-ng": 0, "cache": 0, "failed": 0}

    # --- blocking, runs on a worker thread ---

    def _engine(self) -> _ThreadEngine | None:
        if not hasattr(self._local, "engine"):
            try:
                self._local.engine = _ThreadEngine()
            except Exception as exc:  # no espeak library: the CLI path still works
                log.warning("pyttsx3 unavailable: %s", exc)
                self._local.engine = None
        engine: _ThreadEngine | None = self._local.engine
        return engine

    def synthesize_blocking(self, text: str, *, slow: bool = False, normalized: bool = False) -> Spoken:
        spoken_text = text if normalized else normalize_for_speech(text)
        rate = self.slow_rate if slow else self.rate
        key = (spoken_text, rate)
        started = time.perf_counter()
        with self._cache_lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.stats["cache"] += 1
                return Spoken(spoken_text, cached, "cache", (time.perf_counter() - started) * 1000)
        pcm, source = self._produce(spoken_text, rate)
        with self._cache_lock:
            self._cache[key] = pcm
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return Spoken(spoken_text, pcm, source, (time.perf_counter() - started) * 1000)

    def _produce(self, text: str, rate: int) -> tuple[bytes, str]:
        if not text.strip():
            raise TtsError("nothing to say")
        engine = self._engine()
        reasons: list[str] = []
        if engine is not None:
            for attempt in range(2):
                path = os.path.join(self._tmp, f"{threading.get_ident()}-{time.monotonic_ns()}.wav")
                try:
                    collected, file_bytes = engine.synth(text, rate, path)
                    if collected is not None:
                        pcm, src_rate = verify_wav(codec.wav_bytes(collected, _ThreadEngine.RATE))
                    else:
                        pcm, src_rate = verify_wav(file_bytes)
                    self.stats["pyttsx3"] += 1
                    if attempt:
                        self.stats["retry"] += 1
                    return codec.resample(pcm, src_rate, codec.SAMPLE_RATE), "pyttsx3"
                except TtsError as exc:
                    reasons.append(f"pyttsx3 try {attempt + 1}: {exc}")
                except Exception as exc:
                    reasons.append(f"pyttsx3 try {attempt + 1}: {type(exc).__name__}: {exc}")
                finally:
                    with contextlib.suppress(OSError):
                        os.unlink(path)
        try:
            pcm, src_rate = verify_wav(espeak_cli(text, rate))
            self.stats["espeak-ng"] += 1
            log.warning("TTS fell back to espeak-ng CLI (%s)", "; ".join(reasons))
            return codec.resample(pcm, src_rate, codec.SAMPLE_RATE), "espeak-ng"
        except (TtsError, OSError, subprocess.SubprocessError) as exc:
            reasons.append(f"espeak-ng: {exc}")
        self.stats["failed"] += 1
        raise TtsError("; ".join(reasons))

    # --- async API ---

    async def synthesize(self, text: str, *, slow: bool = False) -> Spoken:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, lambda: self.synthesize_blocking(text, slow=slow))

    async def stream(self, text: str, *, slow: bool = False, lookahead: int = 2) -> AsyncIterator[Spoken]:
        """Yield sentence audio in order; the next sentences are made while one is sent."""
        sentences = split_sentences(normalize_for_speech(text))
        loop = asyncio.get_running_loop()
        pending: list[asyncio.Future[Spoken]] = []
        index = 0

        def submit() -> None:
            nonlocal index
            while index < len(sentences) and len(pending) < lookahead:
                sentence = sentences[index]
                pending.append(loop.run_in_executor(self.executor, self._sentence_job(sentence, slow)))
                index += 1

        submit()
        try:
            while pending:
                fut = pending.pop(0)
                try:
                    spoken = await fut
                except TtsError as exc:
                    log.error("sentence skipped, no audio: %s", exc)
                    submit()
                    continue
                submit()
                yield spoken
        finally:
            for fut in pending:
                fut.cancel()

    def _sentence_job(self, sentence: str, slow: bool) -> Callable[[], Spoken]:
        return lambda: self.synthesize_blocking(sentence, slow=slow, normalized=True)

    def warm(self, prompts: list[str], *, slow_too: bool = False) -> None:
        """Fill the cache with common prompts (and absorb a first-utterance failure early)."""
        for prompt in prompts:
            for sentence in split_sentences(normalize_for_speech(prompt)):
                for slow in (False, True) if slow_too else (False,):
                    try:
                        self.synthesize_blocking(sentence, slow=slow, normalized=True)
                    except TtsError as exc:
                        log.error("could not pre-synthesise %r: %s", sentence, exc)

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        shutil.rmtree(self._tmp, ignore_errors=True)


_default: Synthesizer | None = None
_default_lock = threading.Lock()


def get_synthesizer(rate: int = 175, slow_rate: int = 120) -> Synthesizer:
    """The process's synthesizer (libespeak is per process anyway)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Synthesizer(rate=rate, slow_rate=slow_rate)
        return _default
