"""Which espeak-ng voice speaks the phone line's Mandarin: the share of words read by another language.

For every fixed prompt of the phone line (voice/call.py) and replies with the numbers a caller
must understand, `espeak-ng -x` shows the phonemes each candidate voice would say; a word after a
`(en)` switch is read with English letters. The voice the line uses (voice/tts.py VOICE) must
score 0%.

    .venv/bin/python bench/tts_voices.py [--voices cmn cmn-latn-pinyin]

The same count is made with the newer espeak-ng 1.52 and its fuller `cmn_dict` that the
`espeakng-loader` wheel ships (through the library's own espeak_TextToPhonemes, which marks
language switches as `-x` does; checked against Debian's 1.51, which gives the same counts
both ways), so the choice of engine is made, and can be re-made, by measurement.
"""

from __future__ import annotations

import argparse
import ctypes
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from voice import tts  # noqa: E402
from voice.call import P  # noqa: E402

SAMPLES = [
    "好的，已为您登记，工单号是202612040017。工作人员会在3个工作日内给您回电。",
    "您留的电话是13912345678，对吗？",
    "残疾人两项补贴按每人每月100元发放，重度残疾人护理补贴提高到65%。",
    "紧急情况请立即拨打110、120或119。",
]


class Library:
    """espeak-ng as a C library (the wheel's 1.52, or the system's), for phonemes without a subprocess."""

    def __init__(self, path: str, data: str | None) -> None:
        self.lib = ctypes.CDLL(path)
        self.lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self.lib.espeak_Info.restype = ctypes.c_char_p
        self.lib.espeak_Info.argtypes = [ctypes.c_void_p]
        self.lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        self.lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        synchronous = 0x02
        if self.lib.espeak_Initialize(synchronous, 0, data.encode() if data else None, 0) <= 0:
            raise RuntimeError(f"espeak-ng at {path} did not start")
        self.version = (self.lib.espeak_Info(None) or b"?").decode()

    def phonemes(self, text: str, voice: str) -> str:
        self.lib.espeak_SetVoiceByName(voice.encode())
        buffer = ctypes.create_string_buffer(tts.normalize_for_speech(text).encode())
        pointer = ctypes.c_void_p(ctypes.addressof(buffer))
        utf8, mnemonics = 1, 0
        out = []
        while pointer.value:
            out.append((self.lib.espeak_TextToPhonemes(ctypes.byref(pointer), utf8, mnemonics) or b"").decode())
        return " ".join(out)


def wheel_library() -> Library | None:
    try:
        import espeakng_loader  # type: ignore[import-untyped]
    except ImportError:
        return None
    return Library(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())


def report(label: str, texts: list[str], voices: list[str], say: object) -> None:
    print(label)
    for voice in voices:
        foreign = total = 0
        for text in texts:
            f, t = tts.foreign_share(say(text, voice))  # type: ignore[operator]
            foreign, total = foreign + f, total + t
        mark = "  <- the line's voice" if voice == tts.VOICE and "Debian" in label else ""
        print(f"  {voice:18} {foreign:4}/{total} words read by another language ({100 * foreign / total:.1f}%){mark}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", nargs="+", default=["cmn", "cmn-latn-pinyin"])
    args = parser.parse_args()
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False).stdout
    texts = [t.format(how="用电话按键输入", what="工单号") for t in P.values()] + SAMPLES
    report(f"Debian's espeak-ng (what pyttsx3 speaks with): {version.strip()}", texts, args.voices, tts.phonemes)
    wheel = wheel_library()
    if wheel is None:
        print("espeakng-loader not installed: no comparison with espeak-ng 1.52")
    else:
        report(f"espeakng-loader's espeak-ng {wheel.version} (cmn_dict)", texts, args.voices, wheel.phonemes)
        sample = "你好，我想问一下服务热线"
        print(f"  tones of {sample!r}:")
        print(f"    Debian {tts.VOICE}: {tts.phonemes(sample).strip()}")
        print(f"    {wheel.version} cmn:      {wheel.phonemes(sample, 'cmn')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
