"""Mask phone numbers and 身份证号 in free text and contact fields (pure functions).

Roles that do not need a caller's identity (auditors; a department handling a
confidential work order) see `138****5678` instead of the number. This module is
the one place that decides what a phone or ID number looks like.

Written forms recognised, alone or mixed within one number:

* digits in any Unicode decimal script: ASCII `13812345678`, full-width
  `１３８１２３４５６７８`;
* Chinese numerals as dictated or transcribed by speech recognition:
  `一三八一二三四五六七八`, `幺三八…` (幺 = 1, 两 = 2, radio 洞/拐/勾 = 0/7/9),
  `壹叁捌…`, `〇`/`零`;
* groups split by spaces (also full-width), dashes, dots, commas (speech
  recognition marks pauses with them) or brackets: `138 1234 5678`,
  `138-1234-5678`, `(010)12345678`, `0311 8765 4321`;
* prefixes `+86`, `0086`, `86`, and the `0` some people dial before a mobile.

What is masked:

* 身份证号: 18 characters (17 digits and a digit or X, the birth date not
  checked, so a mistyped number is masked too) and the old 15-digit form (with
  a valid birth date) → `110***********002X`: first three (the province) and
  last four kept.
* Mainland mobiles → `138****5678` (a country prefix is kept: `+86 138****5678`).
* Landlines with an area code → `010-****5678`, `0311-****4321`.
* A 7- or 8-digit local number right after a word such as 电话/座机/手机/拨打
  → `****4321`.
* Bank-card numbers (16-19 digits passing the Luhn check) → `************1234`.

The masked span is rewritten in ASCII digits whatever its written form, so
`一三八一二三四五六七八` reads `138****5678`: the kept digits stay readable and an
auditor can compare the same number across channels. Separators inside the
number are dropped.

Deliberately left alone: dates (`2024年3月5日`, `2024-03-05`), amounts
(`2000元`), work-order numbers (12 digits starting with the date,
`202611240007`, also when dictated), service numbers (12345, 110, 400-…), and
digits glued to Latin letters (hash prefixes, codes). Digits written as ASCII
or full-width runs are never split: `2202611240007` is one 13-digit number, not
a mobile inside a longer one.
"""

from __future__ import annotations

import itertools
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

# Chinese numerals used to write or dictate a number digit by digit.
_CHINESE_DIGITS = {
    **dict.fromkeys("零〇○洞", "0"),
    **dict.fromkeys("一幺壹", "1"),
    **dict.fromkeys("二两贰貳", "2"),
    **dict.fromkeys("三叁參", "3"),
    **dict.fromkeys("四肆", "4"),
    **dict.fromkeys("五伍", "5"),
    **dict.fromkeys("六陆陸", "6"),
    **dict.fromkeys("七柒拐", "7"),
    **dict.fromkeys("八捌", "8"),
    **dict.fromkeys("九玖勾", "9"),
}
# The check character of an ID: X as written, or 叉 as dictated.
_CHECK_X = "XxＸｘ叉"
_PLUS = "+＋"
# Between groups of one number: spaces, dashes, dots, commas, brackets (at most three in a row).
_SEPARATORS = " \t\u00a0\u3000-－‐‑‒–—―.．·・,，、()（）"
_MAX_SEPARATORS = 3
# The longest candidate considered: an ID with a `0086` prefix is never longer.
_MAX_DIGITS = 22

_ID18 = re.compile(r"[1-9]\d{16}[\dX]")
_ID15 = re.compile(r"[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}")
_MOBILE = re.compile(r"(\+86|0086|86|0)?(1[3-9]\d{9})")
_LANDLINE = re.compile(r"(?:(\+86|0086)|0)(10|2\d|[3-9]\d{2})(\d{7,8})")
_LOCAL = re.compile(r"[2-9]\d{6,7}")
_BANK_CARD = re.compile(r"\d{16,19}")
# A work-order number (`api.workorders.numbering.next_number`: the day, then a 4-digit sequence).
_WORK_ORDER = re.compile(r"20\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{4}")
# Words after which a bare 7-8 digit number is a phone number (within a few characters).
_PHONE_WORDS = re.compile(r"(?:电话|座机|固话|手机|联系方式|拨打|致电|打给|tel|phone)\D{0,4}$", re.IGNORECASE)


def _digit(ch: str) -> str | None:
    """The ASCII digit a character stands for, if it is a digit in any script or a Chinese numeral."""
    value = unicodedata.decimal(ch, None)
    if value is not None:
        return str(value)
    return _CHINESE_DIGITS.get(ch)


@dataclass
class _Unit:
    """An indivisible piece of a number: a run of written digits, or one Chinese numeral."""

    start: int
    end: int
    digits: str
    # A number may begin before this unit (start of the run, after a separator, or a change of script).
    strong: bool


def _units(text: str, start: int) -> tuple[list[_Unit], int]:
    """The units of the digit run beginning at `start` and the index where the run ends."""
    units: list[_Unit] = []
    i, n = start, len(text)
    strong = True
    last_kind = ""
    while i < n:
        ch = text[i]
        if ch in _PLUS and i + 1 < n and _digit(text[i + 1]) is not None and not units:
            # `+86 …`: the plus sign belongs to the first unit.
            j = i + 1
            while j < n and unicodedata.decimal(text[j], None) is not None:
                j += 1
            if j == i + 1:
                break
            units.append(_Unit(i, j, "+" + "".join(_digit(c) or "" for c in text[i + 1 : j]), True))
            i, strong, last_kind = j, False, "decimal"
            continue
        if unicodedata.decimal(ch, None) is not None:
            j = i
            while j < n and unicodedata.decimal(text[j], None) is not None:
                j += 1
            digits = "".join(str(unicodedata.decimal(c)) for c in text[i:j])
            j, digits = _check_x(text, j, digits)
            units.append(_Unit(i, j, digits, strong or last_kind != "decimal"))
            i, strong, last_kind = j, False, "decimal"
            continue
        if ch in _CHINESE_DIGITS:
            j, digits = _check_x(text, i + 1, _CHINESE_DIGITS[ch])
            units.append(_Unit(i, j, digits, strong or last_kind != "chinese"))
            i, strong, last_kind = j, False, "chinese"
            continue
        if ch in _SEPARATORS and units:
            j = i
            while j < n and j - i < _MAX_SEPARATORS and text[j] in _SEPARATORS:
                j += 1
            if j < n and _digit(text[j]) is not None:
                i, strong = j, True
                continue
        break
    # The last unit always ends at the run's end; separators after it are not part of the run.
    return units, (units[-1].end if units else start)


def _check_x(text: str, j: int, digits: str) -> tuple[int, str]:
    """An ID's check character X right after the digits (not the start of a Latin word) joins their unit."""
    if (
        j < len(text)
        and text[j] in _CHECK_X
        and not (j + 1 < len(text) and text[j + 1].isascii() and text[j + 1].isalpha())
    ):
        return j + 1, digits + "X"
    return j, digits


def _classify(digits: str, before: str) -> str | None:
    """The masked form of a whole candidate number, or None if it is not a phone or ID number."""
    if _ID18.fullmatch(digits) or _ID15.fullmatch(digits):
        return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]
    if "X" in digits:
        return None
    if m := _MOBILE.fullmatch(digits):
        prefix, number = m.group(1), m.group(2)
        country = f"{prefix} " if prefix and prefix != "0" else ""
        return f"{country}{number[:3]}****{number[-4:]}"
    if m := _LANDLINE.fullmatch(digits):
        country = f"{m.group(1)} " if m.group(1) else "0"
        return f"{country}{m.group(2)}-****{m.group(3)[-4:]}"
    if _LOCAL.fullmatch(digits) and _PHONE_WORDS.search(before):
        return f"****{digits[-4:]}"
    if _BANK_CARD.fullmatch(digits) and _luhn(digits):
        return "*" * (len(digits) - 4) + digits[-4:]
    return None


def _luhn(digits: str) -> bool:
    total = 0
    for pos, ch in enumerate(reversed(digits)):
        d = int(ch)
        if pos % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _glued_to_latin(text: str, start: int, end: int) -> bool:
    """Digits touching a Latin letter belong to a code (a hash prefix, an identifier), not to a number."""
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return any(c.isascii() and c.isalpha() for c in (before, after))


def _mask_run(text: str, units: list[_Unit]) -> list[tuple[int, int, str]]:
    """Masked spans of one run: numbers beginning and ending at strong boundaries first, then anywhere.

    The longest number wins at each starting unit, and starting units are tried
    left to right, so `010-12345678 13800138000` gives a landline and a mobile.
    """
    found: list[tuple[int, int, str]] = []
    taken = _work_orders(units)
    for strict in (True, False):
        i = 0
        while i < len(units):
            if taken[i] or (strict and not units[i].strong):
                i += 1
                continue
            candidates: list[tuple[int, str]] = []
            digits = ""
            for j in range(i, len(units)):
                if taken[j] or len(digits) + len(units[j].digits) > _MAX_DIGITS:
                    break
                digits += units[j].digits
                candidates.append((j, digits))
            hit = None
            for j, candidate in reversed(candidates):  # the longest number first
                if strict and j + 1 < len(units) and not units[j + 1].strong:
                    continue
                if _glued_to_latin(text, units[i].start, units[j].end):
                    continue
                masked = _classify(candidate, text[max(0, units[i].start - 12) : units[i].start])
                if masked is not None:
                    hit = (j, masked)
                    break
            if hit is None:
                i += 1
                continue
            j, masked = hit
            start = units[i].start
            if start > 0 and text[start - 1] in "(（" and any(c in ")）" for c in text[start : units[j].end]):
                start -= 1  # `(010)12345678`: the area code's bracket goes with it
            found.append((start, units[j].end, masked))
            taken[i : j + 1] = [True] * (j + 1 - i)
            i = j + 1
    return found


def _work_orders(units: list[_Unit]) -> list[bool]:
    """Units of whole work-order numbers (e.g. dictated 二零二六一一二四零零零七): never split into a phone number."""
    taken = [False] * len(units)
    bounds = [k for k, unit in enumerate(units) if unit.strong] + [len(units)]
    for a, b in itertools.pairwise(bounds):
        if _WORK_ORDER.fullmatch("".join(unit.digits for unit in units[a:b])):
            taken[a:b] = [True] * (b - a)
    return taken


def mask_text(text: str | None) -> str | None:
    """The text with ID-card, phone and bank-card numbers masked in any written form; everything else unchanged."""
    if not text:
        return text
    spans: list[tuple[int, int, str]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if _digit(ch) is None and not (ch in _PLUS and i + 1 < n and _digit(text[i + 1]) is not None):
            i += 1
            continue
        units, end = _units(text, i)
        if not units:
            i += 1
            continue
        spans.extend(_mask_run(text, units))
        i = end
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for start, end, masked in sorted(spans):
        out.append(text[pos:start])
        out.append(masked)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_phone(phone: str | None) -> str | None:
    """A contact phone field, in any written form: `138****8000`, `010-****5678`, otherwise the last four digits.

    Whatever is not recognised as a phone number keeps only its last four digits
    (all of them starred when there are four or fewer): a contact field holds
    nothing else worth showing.
    """
    if not phone:
        return phone
    digits = "".join(d for d in (_digit(c) for c in phone) if d is not None)
    if not digits:
        return phone
    if m := _MOBILE.fullmatch(digits):
        return f"{m.group(2)[:3]}****{m.group(2)[-4:]}"
    if m := _LANDLINE.fullmatch(digits):
        return f"0{m.group(2)}-****{m.group(3)[-4:]}"
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def mask_name(name: str | None) -> str | None:
    """王小明 → 王**: enough for staff to address a letter, not to identify."""
    if not name:
        return name
    return name[0] + "*" * max(1, len(name) - 1)


def mask_replies(replies: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if replies is None:
        return None
    return [{k: mask_text(v) if k == "text" and isinstance(v, str) else v for k, v in r.items()} for r in replies]


class MaskingLogFilter(logging.Filter):
    """A safety net for process logs: masks phone and ID numbers in a record's message and traceback.

    Attach it to a handler (`handler.addFilter(MaskingLogFilter())`) so that it sees
    every record the handler writes, propagated ones included. It is not a licence
    to log what citizens wrote: names and addresses pass through unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True
