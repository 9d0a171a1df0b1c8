"""TTS: every synthesis verified; retries and the espeak-ng fallback; cache; sentence streaming."""

from __future__ import annotations

import asyncio

import pytest

from voice import codec, tts


@pytest.fixture(scope="module")
def synth() -> tts.Synthesizer:
    s = tts.Synthesizer(workers=2)
    yield s
    s.close()


def test_verify_rejects_missing_empty_short_silent() -> None:
    for bad in (
        None,
        b"",
        b"RIFF",
        codec.wav_bytes(b"\x01\x00" * 100, 22050),
        codec.wav_bytes(codec.silence_pcm(500), 8000),
    ):
        with pytest.raises(tts.TtsError):
            tts.verify_wav(bad)


def test_mandarin_synthesis_is_8khz_speech(synth: tts.Synthesizer) -> None:
    spoken = synth.synthesize_blocking("您好，这里是残联服务热线。")
    assert spoken.source in ("pyttsx3", "espeak-ng")
    assert 1000 < codec.duration_ms(spoken.pcm) < 10000 and codec.rms(spoken.pcm) > 100
    again = synth.synthesize_blocking("您好，这里是残联服务热线。")
    assert again.source == "cache" and again.pcm == spoken.pcm
    print(f"\n[voice] tts stats {synth.stats}")


def test_driver_that_writes_nothing_falls_back_to_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    s = tts.Synthesizer(workers=1)
    monkeypatch.setattr(tts._ThreadEngine, "synth", lambda self, text, rate, path: (None, None))
    spoken = s.synthesize_blocking("请稍候。")
    assert spoken.source == "espeak-ng" and codec.rms(spoken.pcm) > 0
    monkeypatch.setattr(tts, "espeak_cli", lambda text, rate: b"")
    with pytest.raises(tts.TtsError):
        s.synthesize_blocking("这句话没有声音。")
    s.close()


def test_stream_yields_sentences_in_order_and_skips_failures(synth: tts.Synthesizer) -> None:
    async def go() -> list[str]:
        return [s.text async for s in synth.stream("第一句话。第二句话说完。第三句话，也说完。")]

    texts = asyncio.run(go())
    assert texts == ["第一句话。", "第二句话说完。", "第三句话，也说完。"]


def test_many_threads_share_libespeak_safely(synth: tts.Synthesizer) -> None:
    async def go() -> list[tts.Spoken]:
        return await asyncio.gather(*[synth.synthesize(f"并发测试第{i}句。") for i in range(6)])

    results = asyncio.run(go())
    assert all(codec.duration_ms(r.pcm) > 300 for r in results)
