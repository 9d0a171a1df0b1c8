"""Which espeak-ng voice speaks the phone line's Mandarin: the share of words read by another language.

For every fixed prompt of the phone line (voice/call.py) and replies with the numbers a caller
must understand, `espeak-ng -x` shows the phonemes each candidate voice would say; a word after a
`(en)` switch is read with English letters. The voice the line uses (voice/tts.py VOICE) must
score 0%.

    .venv/bin/python bench/tts_voices.py [--voices cmn cmn-latn-pinyin]
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--voices", nargs="+", default=["cmn", "cmn-latn-pinyin"])
    args = parser.parse_args()
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False).stdout
    print(version.strip())
    texts = [t.format(how="用电话按键输入", what="工单号") for t in P.values()] + SAMPLES
    for voice in args.voices:
        foreign = total = 0
        for text in texts:
            f, t = tts.foreign_share(tts.phonemes(text, voice))
            foreign, total = foreign + f, total + t
        mark = "  <- the line's voice" if voice == tts.VOICE else ""
        print(f"  {voice:18} {foreign:4}/{total} words read by another language ({100 * foreign / total:.1f}%){mark}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
