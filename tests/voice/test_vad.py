"""The speech detector on real audio: espeak-ng Mandarin, recorded Mandarin, line noise, back-channel sounds."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import pytest

from tests.voice.conftest import espeak_pcm8k
from voice import codec
from voice.vad import MIN_RMS, SileroModel, VoiceActivity

SHARED_SPEECH = Path(__file__).resolve().parents[3] / "shared" / "speech_zh" / "BAC009S0764W0121.wav"


@pytest.fixture(scope="module")
def model() -> SileroModel:
    from api.settings import Settings

    loaded = SileroModel.load(Settings().vad_model_path)
    if loaded is None:
        pytest.skip("silero-vad model not fetched (make vad)")
    return loaded


def frames(pcm: bytes) -> list[bytes]:
    """20 ms frames as the call sees them: through μ-law and back."""
    return [codec.ulaw_to_pcm16(f) for f in codec.pcm_to_frames(pcm)]


def voiced_ms(vad: VoiceActivity, pcm: bytes) -> tuple[int, int]:
    """(all speech, longest stretch with gaps under 200 ms) in milliseconds."""
    total = run = longest = gap = 0
    for frame in frames(pcm):
        if vad.frame(frame):
            total += codec.FRAME_MS
            run += codec.FRAME_MS
            gap = 0
            longest = max(longest, run)
        else:
            gap += codec.FRAME_MS
            if gap > 200:
                run = 0
    return total, longest


def white_noise(ms: int, level: int) -> bytes:
    rng = random.Random(3)
    return b"".join(struct.pack("<h", int(rng.gauss(0, level))) for _ in range(codec.SAMPLE_RATE * ms // 1000))


def test_speech_is_heard_loud_or_quiet(model: SileroModel) -> None:
    speech = espeak_pcm8k("我想问一下，残疾人证怎么办理，需要带什么材料", "cmn-latn-pinyin")
    for level in (codec.rms(speech), 328):  # as synthesised, and a quiet caller at about -40 dBFS
        pcm = codec.silence_pcm(300) + codec.scale(speech, level / codec.rms(speech))
        total, longest = voiced_ms(VoiceActivity(model), pcm)
        assert total >= 0.5 * codec.duration_ms(speech)
        assert longest >= 1000


def test_recorded_mandarin_is_heard(model: SileroModel) -> None:
    if not SHARED_SPEECH.is_file():
        pytest.skip("shared Mandarin recordings not present")
    pcm, rate = codec.read_wav(str(SHARED_SPEECH))
    total, _ = voiced_ms(VoiceActivity(model), codec.resample(pcm, rate, codec.SAMPLE_RATE))
    assert total >= 1000


def test_line_noise_is_not_speech_and_raises_the_floor(model: SileroModel) -> None:
    vad = VoiceActivity(model)
    total, _ = voiced_ms(vad, white_noise(1500, 3000))
    assert total == 0
    assert vad.threshold() > 3 * MIN_RMS  # a noisy line needs a louder voice to count as speech


def test_back_channel_sounds_are_short(model: SileroModel) -> None:
    """嗯, 喂 and 嗯嗯 are heard as speech, but each is shorter than a barge-in (600 ms)."""
    from voice.call import CallConfig

    for word in ("嗯", "喂", "嗯嗯"):
        _, longest = voiced_ms(VoiceActivity(model), codec.silence_pcm(300) + espeak_pcm8k(word, "cmn-latn-pinyin"))
        assert 0 < longest < CallConfig().barge_in_ms


def test_without_the_model_loudness_over_the_floor_decides() -> None:
    vad = VoiceActivity(None)
    total, _ = voiced_ms(vad, white_noise(1000, 150))  # a steady low hiss: the floor follows it
    assert total <= 300
    speech = espeak_pcm8k("您好", "cmn-latn-pinyin")
    assert voiced_ms(vad, speech)[0] > 0
