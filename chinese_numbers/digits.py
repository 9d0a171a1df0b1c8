"""Chinese digits both ways: reading numbers aloud (一 in amounts and work orders, 幺 in phone numbers,
两 before a unit) and reading back what a citizen typed or said (零 〇 洞 一 幺 二 两 … 九, 六十五).

Standard library only, Python 3.10 compatible: shared by the phone line, the knowledge base and the
assistant's NLU normaliser and actions.
"""

from __future__ import annotations

# How a digit is read in a number (work orders, years, amounts).
DIGITS = "零一二三四五六七八九"
# Phone numbers, as Chinese operators say them: 幺 for 1, so that 1 and 7 are not confused.
PHONE_DIGITS = "零幺二三四五六七八九"
# Every character a citizen writes or says for one digit: 〇 in written dates, 洞 for 0 and 幺 for 1
# as said over the phone, 两 for 2.
DIGIT_VALUES: dict[str, int] = {
    "零": 0,
    "〇": 0,
    "洞": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# ...and the near-homophones a speech recogniser writes for them, trusted only where a number is expected.
HEARD_DIGIT_VALUES: dict[str, int] = {**DIGIT_VALUES, "妖": 1, "腰": 1, "拐": 7, "勾": 9}
DIGIT_CHARS = "".join(DIGIT_VALUES)
# The digits of a counted number ("六十五", "两百"): the spoken-only forms (〇 洞 幺) never count.
COUNTING_DIGITS = "零一二两三四五六七八九"
NUMERAL_CHARS = COUNTING_DIGITS + "十百"

_UNITS = ("", "十", "百", "千")
_BIG_UNITS = ("", "万", "亿")


def read_digits(number: str, *, phone: bool = False) -> str:
    """'2026' -> '二零二六' (digit by digit; with `phone`, 1 is 幺); anything but digits is dropped."""
    table = PHONE_DIGITS if phone else DIGITS
    return "".join(table[int(ch)] for ch in number if ch.isdecimal())


def ascii_digits(text: str, *, heard: bool = False) -> str:
    """Each Chinese digit character as an ASCII digit, every other character kept ('幺三八' -> '138').

    `heard`: also the recogniser's homophones (妖, 拐, …), for where a number is expected."""
    table = HEARD_DIGIT_VALUES if heard else DIGIT_VALUES
    return "".join(str(table[ch]) if ch in table else ch for ch in text)


def _section(n: int) -> str:
    """0 < n < 10000."""
    out = ""
    zero = False
    for pos in range(3, -1, -1):
        d = n // 10**pos % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + _UNITS[pos]
    return out


def number_to_chinese(n: int) -> str:
    """65 -> '六十五', 200 -> '两百', 10005 -> '一万零五'; 12 digits and more are read digit by digit."""
    if n == 0:
        return "零"
    if n < 0:
        return "负" + number_to_chinese(-n)
    if n >= 10**12:
        return read_digits(str(n))
    parts: list[str] = []
    sections = [(n // 10 ** (4 * i)) % 10000 for i in range(3)]
    need_zero = False
    for i in range(2, -1, -1):
        sec = sections[i]
        if sec == 0:
            need_zero = bool(parts)
            continue
        if parts and (need_zero or sec < 1000):
            parts.append("零")
        parts.append(_section(sec) + _BIG_UNITS[i])
        need_zero = False
    text = "".join(parts)
    if text.startswith("一十"):
        text = text[1:]
    if text.startswith("二") and text[1:2] in ("百", "千", "万", "亿"):
        text = "两" + text[1:]
    return text


def chinese_number(words: str) -> int | None:
    """ "六十五" -> 65, "十" -> 10, "一百" -> 100, "二五" -> None (not a number as spoken)."""
    total = current = 0
    seen_unit = False
    for ch in words:
        if ch in COUNTING_DIGITS:
            if current and not seen_unit:
                return None
            current = DIGIT_VALUES[ch]
            seen_unit = False
        elif ch == "十":
            total += (current or 1) * 10
            current = 0
            seen_unit = True
        elif ch == "百":
            total += (current or 1) * 100
            current = 0
            seen_unit = True
        else:
            return None
    return total + current
