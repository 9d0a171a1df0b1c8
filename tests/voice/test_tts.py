"""TTS: every synthesis verified; retries and the espeak-ng fallback; cache; sentence streaming."""

from __future__ import annotations

import asyncio

import pytest

from voice import codec, tts
from voice.speech_text import split_sentences


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


def _spoken_prompts() -> list[str]:
    """Every fixed prompt of the phone line, and replies with the numbers a caller must understand."""
    from api import wording
    from voice.call import P

    fills = {"how": "用电话按键输入", "what": "工单号", "number": "202612040017", "when": "两个小时内", "n": 3}
    heard = [*P.values(), *wording.texts("voice", "keys").values(), *wording.texts("voice", "follow_up_call").values()]
    return [text.format(**fills) for text in heard] + [
        "好的，已为您登记，工单号是202612040017。工作人员会在3个工作日内给您回电。",
        "您留的电话是13912345678，对吗？",
        "残疾人两项补贴按每人每月100元发放，重度残疾人护理补贴提高到65%。",
        "紧急情况请立即拨打110、120或119。",
        "很抱歉，工作人员暂时没有接听。已经为您登记回电，工单号是202612040017。工作人员会在两个小时内给您回电。",
    ]


def test_every_prompt_is_spoken_with_mandarin_phonemes() -> None:
    """What the caller hears, checked on espeak-ng's phonemes: no syllable goes through another language's
    voice, and numbers are read the Chinese way (按0 -> 零, 幺 for 1 in phone numbers)."""
    for text in _spoken_prompts():
        said = tts.phonemes(text)
        foreign, total = tts.foreign_share(said)
        assert total > 0 and foreign == 0, (text, said)
    assert "l'i35N" in tts.phonemes("请按0")  # 零 (líng)
    assert "j'Au55" in tts.phonemes("13912345678")  # 幺 (yāo)


def test_the_phoneme_check_hears_the_english_voice() -> None:
    """The check can fail: espeak-ng's plain `cmn` voice reads most of the same prompts as English."""
    foreign = total = 0
    for text in _spoken_prompts():
        f, t = tts.foreign_share(tts.phonemes(text, "cmn"))
        foreign, total = foreign + f, total + t
    assert foreign / total > 0.5


def test_the_library_speaks_with_the_chosen_voice(synth: tts.Synthesizer) -> None:
    """pyttsx3 (libespeak-ng) is set to VOICE: its audio lasts as long as the command line's with VOICE,
    not as long as with `cmn`, whose English letters take much longer to say."""
    text = "请问您要办理什么业务？需要人工服务请告诉我。"
    spoken = synth.synthesize_blocking(text)
    assert spoken.source == "pyttsx3"
    heard = codec.duration_ms(spoken.pcm)
    chosen = codec.duration_ms(*tts.verify_wav(tts.espeak_cli(text, synth.rate)))
    plain = codec.duration_ms(*tts.verify_wav(tts.espeak_cli(text, synth.rate, "cmn")))
    assert abs(heard - chosen) < 0.1 * chosen < abs(heard - plain), (heard, chosen, plain)


@pytest.mark.parametrize("name", ["greeting", "greeting_keypad"])
def test_key_zero_and_the_recording_notice_come_within_six_seconds(name: str) -> None:
    """A caller hears how to reach a person, and that the call is recorded, before six seconds have passed
    (at the line's configured speech rate, sentence by sentence as the call streams them)."""
    from api.settings import Settings
    from voice.call import P

    text = P[name]
    cut = max(text.index("按0"), text.index("录音")) + 2
    heard = text[: text.index("。", cut) + 1]
    line = tts.Synthesizer(workers=1, rate=Settings().voice_tts_rate)
    try:
        spoken = [line.synthesize_blocking(s).pcm for s in split_sentences(heard)]
    finally:
        line.close()
    assert sum(codec.duration_ms(pcm) for pcm in spoken) < 6000
