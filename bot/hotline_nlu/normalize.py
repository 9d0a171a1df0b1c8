"""Text normalisation for Mandarin text and speech transcripts.

Pure functions, shared by the NLU graph component (`hotline_nlu.components`) and the
custom actions, so that what NLU sees and what the forms validate are the same text.

Steps, in order:
1. Unicode NFKC: full-width letters, digits and punctuation become half-width.
2. Traditional -> Simplified Chinese (OpenCC `t2s`), and the Taiwan forms of "you"
   (妳, 祢) that `t2s` keeps, to 你.
3. Spaces that speech recognition puts between Chinese words (and between digits
   of a spoken number) are removed; spaces between Latin words are kept.
4. Known ASR homophone errors for domain words are corrected (dictionary file).
5. Runs of Chinese digits (a phone or work-order number spoken digit by digit,
   including 幺 for 1 and 两 for 2) become ASCII digits; leading zeros of landline
   area codes are kept. Runs shorter than 5 digits stay as they are, so words such
   as 一下 or 三月 are not touched.
6. Filler words (嗯, 呃, 啊 at the start, 那个… ) and ellipses are tolerated: fillers
   are dropped, ellipses become a comma.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

from chinese_numbers.digits import DIGIT_CHARS, ascii_digits

_CJK = r"\u3400-\u9fff"
_DIGIT_CHARS = DIGIT_CHARS + "0-9"
# A run of at least five digits (Chinese or ASCII), possibly separated by - or spaces.
_DIGIT_RUN = re.compile(rf"[{_DIGIT_CHARS}](?:[\s\-]*[{_DIGIT_CHARS}]){{4,}}")
_SPACE_BETWEEN = re.compile(rf"(?<=[{_CJK}0-9，。？！、,.?!])\s+(?=[{_CJK}0-9，。？！、,.?!])")
_ELLIPSIS = re.compile(r"(?:…|\.\.\.|。。。|、、、|~+|～+)+")
_FILLERS = [
    re.compile(r"(?:^|(?<=[，,。.?？!！\s]))(?:嗯+|呃+|额+|啊+|哦+|唉+|诶+|哎+)(?=[，,。.?？!！\s]|$)"),
    # ...but not the 嗯 of a spoken yes (嗯哪, 嗯呐, 嗯呢)
    re.compile(r"^(?:嗯+(?![哪呐呢])|呃+|唉+|哎+)"),
    re.compile(r"(?:^|(?<=[，,]))那个(?=[，,])"),
    re.compile(r"^那个(?=[我你您请就想问嗯])"),
    re.compile(r"(?:^|(?<=[，,]))就是说?(?=[，,])"),
]
_REPEATED_PUNCT = re.compile(r"([，,])(?:\s*[，,])+")


@functools.lru_cache(maxsize=1)
def _opencc():  # type: ignore[no-untyped-def]
    try:
        import opencc  # opencc-python-reimplemented

        return opencc.OpenCC("t2s")
    except Exception:  # pragma: no cover - the package is in the bot environment
        return None


@functools.lru_cache(maxsize=1)
def asr_corrections() -> list[tuple[str, str]]:
    """Pairs (wrong, right) from `asr_corrections.txt` next to this module, longest first."""
    pairs: list[tuple[str, str]] = []
    path = Path(__file__).resolve().parent / "asr_corrections.txt"
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) == 2:
                pairs.append((parts[0], parts[1]))
    pairs.sort(key=lambda p: len(p[0]), reverse=True)
    return pairs


def to_half_width(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


# Taiwan and Hong Kong typists write 妳 (you, to a woman) and 祢 (you, to a deity);
# mainland Simplified has only 你, and t2s leaves both alone.
_YOU_VARIANTS = str.maketrans({"妳": "你", "祢": "你"})


def to_simplified(text: str) -> str:
    converter = _opencc()
    return (converter.convert(text) if converter else text).translate(_YOU_VARIANTS)


def remove_cjk_spaces(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return _SPACE_BETWEEN.sub("", text)


def chinese_digits_to_ascii(text: str) -> str:
    """Convert spoken digit-by-digit numbers (5+ digits) to ASCII digits."""

    def convert(match: re.Match[str]) -> str:
        return ascii_digits(re.sub(r"[\s\-]", "", match.group(0)))

    return _DIGIT_RUN.sub(convert, text)


def fix_asr_errors(text: str) -> str:
    for _ in range(3):  # a correction can reveal another (惨疾人正 -> 残疾人正 -> 残疾人证)
        before = text
        for wrong, right in asr_corrections():
            if wrong in text:
                text = text.replace(wrong, right)
        if text == before:
            break
    return text


def drop_fillers(text: str) -> str:
    text = _ELLIPSIS.sub("，", text)
    for pattern in _FILLERS:
        text = pattern.sub("", text)
    text = _REPEATED_PUNCT.sub(r"\1", text)
    return text.strip(" ，,")


def normalize(text: str) -> str:
    """The full normalisation used before NLU and in slot validation."""
    if not text:
        return text
    out = to_half_width(text)
    out = to_simplified(out)
    out = remove_cjk_spaces(out)
    out = fix_asr_errors(out)
    out = chinese_digits_to_ascii(out)
    out = drop_fillers(out)
    return out or text.strip()


def digits_only(text: str) -> str:
    """Digits of a number typed, keyed (DTMF, `#` ends) or spoken, of any length.

    Used where a number is expected (phone, work-order number, last four digits), so
    every Chinese digit counts, even in a short run such as 一二三四.
    """
    out = to_simplified(to_half_width(text or ""))
    out = re.sub(r"[后尾末]?[四4]位(数字|数)?|尾号|第[一二三四五六七八九十\d]+", "", out)
    return re.sub(r"\D", "", ascii_digits(out))


# "详细", offered after every policy answer: the fuller passage of the last answer (actions/knowledge.py);
# IntentOverrides sends it to ask_policy whatever the classifier thought.
MORE = re.compile(
    r"^\s*(详细|详细点|详细一点|详细些|说详细点|说详细一点|详细说说|详细内容|更多|全文|原文|具体点)[。！!]?\s*$"
)
