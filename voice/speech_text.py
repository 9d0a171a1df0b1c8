"""Text for the ear: normalise what is spoken, read numbers aloud, fix heard domain terms.

espeak-ng's Mandarin voice reads Arabic digits poorly (and a 12-digit work-order
number as one huge quantity), so everything numeric is spelled out here first.
Phone numbers use 幺 for 1, as Chinese operators say it, and are grouped so a
listener can write them down.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from pypinyin import Style, lazy_pinyin

from api import vocabulary
from chinese_numbers.digits import ascii_digits, number_to_chinese, read_digits
from chinese_numbers.phones import is_callback_number

LIANG_BEFORE = "个天位名次周种项份张本岁年月小"

SHORT_SERVICE_NUMBERS = {"110", "119", "120", "122", "12345", "12385", "12315", "12333", "12320", "12351"}


def group_phone(number: str) -> list[str]:
    """Mobile 3-4-4; landline area code then groups of four; short numbers whole."""
    digits = re.sub(r"\D", "", number)
    if len(digits) == 11 and digits.startswith("1"):
        return [digits[:3], digits[3:7], digits[7:]]
    if digits.startswith("0") and len(digits) >= 10:
        area = 3 if digits[1] in "12" else 4
        rest = digits[area:]
        return [digits[:area], *[rest[i : i + 4] for i in range(0, len(rest), 4)]]
    if len(digits) <= 5:
        return [digits]
    return [digits[i : i + 4] for i in range(0, len(digits), 4)]


def read_phone(number: str) -> str:
    return "，".join(read_digits(g, phone=True) for g in group_phone(number))


def read_ticket(number: str) -> str:
    """Work-order numbers (YYYYMMDD + sequence) digit by digit, in the 4-4-4 groups pages show, 一 not 幺."""
    return "，".join(read_digits(group) for group in vocabulary.work_order_groups(number))


def _int_words(token: str, following: str = "") -> str:
    if len(token) > 1 and token.startswith("0"):
        return read_digits(token)
    n = int(token)
    if n == 2 and following[:1] and following[0] in LIANG_BEFORE:
        return "两"
    return number_to_chinese(n)


def _decimal(token: str) -> str:
    whole, _, frac = token.partition(".")
    return _int_words(whole) + ("点" + read_digits(frac) if frac else "")


def _date(m: re.Match[str]) -> str:
    year, month, day = m.group("y"), m.group("m"), m.group("d")
    out = ""
    if year:
        out += read_digits(year) + "年"
    out += number_to_chinese(int(month)) + "月"
    if day:
        out += number_to_chinese(int(day)) + "日"
    return out


def _time(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    if hour > 24 or minute > 59:
        return m.group(0)
    spoken_hour = "两" if hour == 2 else number_to_chinese(hour)
    if minute == 0:
        return spoken_hour + "点"
    if minute == 30:
        return spoken_hour + "点半"
    return spoken_hour + "点" + ("零" if minute < 10 else "") + number_to_chinese(minute) + "分"


_PHONE = re.compile(r"(?<![\d.])(1[3-9]\d{9}|0\d{2,3}-?\d{7,8}|400-?\d{3}-?\d{4})(?![\d.])")
_TICKET = re.compile(r"(?<![\d.])(\d{12})(?![\d.])")
_DATE = re.compile(
    r"(?:(?P<y>\d{4})\s*年\s*)?(?P<m>1[0-2]|0?[1-9])\s*月\s*(?:(?P<d>3[01]|[12]\d|0?[1-9])\s*[日号])?"
    r"|(?P<y2>\d{4})[-/](?P<m2>1[0-2]|0?[1-9])[-/](?P<d2>3[01]|[12]\d|0?[1-9])(?!\d)"
)
_YEAR = re.compile(r"(?<!\d)(\d{4})(?=\s*年)")
_TIME = re.compile(r"(?<!\d)(\d{1,2})[:：](\d{2})(?!\d)")
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*[%％]")
_RANGE = re.compile(r"(?<=\d)\s*[-~～—]\s*(?=\d)")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SERVICE = re.compile(r"(?<!\d)(" + "|".join(sorted(SHORT_SERVICE_NUMBERS, key=len, reverse=True)) + r")(?!\d)")


def normalize_for_speech(text: str) -> str:
    """Spell out numbers, dates, times, percentages, titles and symbols for espeak-ng cmn."""
    out = text.replace("《", "").replace("》", "").replace("〈", "").replace("〉", "")
    out = re.sub(r"[*_#`>]+", "", out)  # markdown from the assistant
    out = re.sub(r"https?://\S+", "网址已通过短信或网页提供", out)
    out = _PHONE.sub(lambda m: read_phone(m.group(1)), out)
    out = _TICKET.sub(lambda m: read_ticket(m.group(1)), out)
    out = _SERVICE.sub(lambda m: read_digits(m.group(1), phone=True), out)

    def date_sub(m: re.Match[str]) -> str:
        if m.group("y2"):
            return read_digits(m.group("y2")) + "年" + _date_parts(m.group("m2"), m.group("d2"))
        return _date(m)

    out = _DATE.sub(date_sub, out)
    out = _YEAR.sub(lambda m: read_digits(m.group(1)), out)
    out = _RANGE.sub("到", out)
    out = _TIME.sub(_time, out)
    out = _PERCENT.sub(lambda m: "百分之" + _decimal(m.group(1)), out)
    out = _NUMBER.sub(lambda m: _number_token(m, out), out)
    out = out.replace("~", "到").replace("&", "和").replace("+", "加").replace("/", "每")
    return re.sub(r"\s+", " ", out).strip()


def _date_parts(month: str, day: str) -> str:
    return number_to_chinese(int(month)) + "月" + number_to_chinese(int(day)) + "日"


def _number_token(m: re.Match[str], whole: str) -> str:
    token = m.group(0)
    if "." in token:
        return _decimal(token)
    following = whole[m.end() : m.end() + 1]
    if len(token) > 12:
        return read_digits(token)
    return _int_words(token, following)


# --- sentences ---------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[。！？；!?;\n])")


def split_sentences(text: str, *, max_chars: int = 60, min_chars: int = 4) -> list[str]:
    """Sentences to synthesise one by one; tiny fragments join the next, long ones split at commas."""
    pieces = [p.strip() for p in _SENTENCE_END.split(text) if p.strip()]
    out: list[str] = []
    for piece in pieces:
        while len(piece) > max_chars:
            cut = max(piece.rfind("，", 0, max_chars), piece.rfind(",", 0, max_chars))
            if cut <= 0:
                cut = max_chars
            out.append(piece[: cut + 1])
            piece = piece[cut + 1 :].strip()
        if piece:
            out.append(piece)
    merged: list[str] = []
    carry = ""
    for piece in out:
        piece = carry + piece
        carry = ""
        if len(piece) < min_chars:
            carry = piece
            continue
        merged.append(piece)
    if carry:
        if merged:
            merged[-1] += carry
        else:
            merged.append(carry)
    return merged


# --- digits heard or typed ------------------------------------------------------------------------


def spoken_digits(text: str) -> str:
    """Digits in a transcript said one by one ("幺三八…"), ASCII digits kept."""
    return "".join(ch for ch in ascii_digits(text, heard=True) if ch.isdigit())


def looks_like_phone(digits: str) -> bool:
    """A mobile or an area-coded landline."""
    return is_callback_number(digits)


def looks_like_ticket(digits: str) -> bool:
    return bool(re.fullmatch(r"20\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{4}", digits))


# --- pinyin correction of transcripts ----------------------------------------------------------------

DOMAIN_TERMS = (
    "残疾人证",
    "残疾证",
    "残联",
    "残疾等级",
    "评残",
    "低保",
    "特困供养",
    "护理补贴",
    "生活补贴",
    "两项补贴",
    "无障碍",
    "辅助器具",
    "助听器",
    "人工耳蜗",
    "轮椅",
    "盲杖",
    "导盲犬",
    "盲人按摩",
    "康复训练",
    "康复",
    "就业补贴",
    "职业培训",
    "居家养老",
    "托养",
    "工单",
    "工单号",
    "投诉",
    "人工服务",
    "转人工",
    "社保",
    "医保",
    "公交卡",
    "爱心卡",
)

# Initials and finals that Mandarin speakers (and small ASR models) commonly confuse.
_FUZZY = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("l", "n"), ("f", "h"), ("r", "l"))
_FUZZY_FINALS = (("ang", "an"), ("eng", "en"), ("ing", "in"))


@lru_cache(maxsize=4096)
def _syllables(text: str, tones: bool = False) -> tuple[str, ...]:
    style = Style.TONE3 if tones else Style.NORMAL
    keep: Any = list  # non-Chinese characters stay as themselves, one syllable each
    return tuple(lazy_pinyin(text, style=style, errors=keep, neutral_tone_with_five=True))


def _fuzzy(s: str) -> str:
    for a, b in _FUZZY:
        if s.startswith(a):
            s = b + s[len(a) :]
            break
    for a, b in _FUZZY_FINALS:
        if s.endswith(a):
            s = s[: -len(a)] + b
            break
    return s


def correct_transcript(text: str, terms: tuple[str, ...] = DOMAIN_TERMS) -> str:
    """Replace near-homophones of domain terms (残疾人正 → 残疾人证).

    Longer terms match on toneless pinyin with the usual confusions (zh/z, n/l,
    -ng/-n) when they share a character with the term; two-character terms need
    the same syllables, and the same tones too when no character is shared, so
    ordinary words that only sound alike are left alone.
    """
    if not text:
        return text
    chars = list(text)
    for term in sorted(terms, key=len, reverse=True):
        n = len(term)
        term_py = _syllables(term)
        term_fz = tuple(_fuzzy(s) for s in term_py)
        i = 0
        while i + n <= len(chars):
            window = "".join(chars[i : i + n])
            if window == term or not all("\u4e00" <= c <= "\u9fff" for c in window):
                i += 1
                continue
            win_py = _syllables(window)
            if len(win_py) != n:
                i += 1
                continue
            exact = win_py == term_py
            fuzzy = n >= 3 and tuple(_fuzzy(s) for s in win_py) == term_fz
            shares = any(a == b for a, b in zip(window, term, strict=True))
            same_tones = exact and _syllables(window, True) == _syllables(term, True)
            if (exact and (n >= 3 or shares or same_tones)) or (fuzzy and shares):
                chars[i : i + n] = list(term)
                i += n
                continue
            i += 1
    return "".join(chars)
