"""Mask phone numbers and 身份证号 in free text and contact fields (pure functions).

Roles that do not need a caller's identity (auditors; a department handling a
confidential work order) see `138****8000` instead of the number. Work-order
numbers (12 digits starting with a date) are deliberately left alone.
"""

from __future__ import annotations

import re
from typing import Any

# 18-digit resident ID: 6-digit region, birth date, 3-digit sequence, check digit (digit or X).
_ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])([1-9]\d{5})((?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{3})([0-9Xx])(?![0-9A-Za-z])"
)
# Mainland mobile, optionally +86 and separated by spaces or dashes (138 0013 8000, 138-0013-8000).
_MOBILE = re.compile(r"(?<!\d)((?:\+?86[\s\-]?)?1[3-9]\d)[\s\-]?(\d{4})[\s\-]?(\d{4})(?!\d)")
# Landline with area code: 010-12345678, 0571 8888 6666, 02012345678.
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3})[\s\-]?(\d{3,4})[\s\-]?(\d{4})(?!\d)")


def mask_text(text: str | None) -> str | None:
    """The text with ID-card numbers and phone numbers masked; everything else unchanged."""
    if not text:
        return text
    text = _ID_CARD.sub(_mask_id, text)
    text = _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)
    return _LANDLINE.sub(lambda m: f"{m.group(1)}-****{m.group(3)}", text)


def _mask_id(match: re.Match[str]) -> str:
    whole = match.group(0)
    return whole[:3] + "*" * (len(whole) - 7) + whole[-4:]


def mask_phone(phone: str | None) -> str | None:
    """A contact phone field: keep the first three and last four digits of a mobile, the last four otherwise."""
    if not phone:
        return phone
    digits = phone.lstrip("+")
    if len(digits) == 11 and digits.startswith("1"):
        return f"{digits[:3]}****{digits[-4:]}"
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
