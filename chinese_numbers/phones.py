"""Chinese phone numbers as citizens give them: which digits are a mobile, a landline, a +86 mobile.

Pure standard library (Python 3.10+): the app and the assistant's action server both use it.
"""

from __future__ import annotations

import re

# A mobile: 11 digits, 13x-19x.
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
# A landline with its area code (0 + 2-3 digits, then 7-8 digits): a number without area code
# cannot be called back from another city's switchboard.
LANDLINE_RE = re.compile(r"^0\d{2,3}\d{7,8}$")
# A mobile with or without the country code, as Twilio (+86…) or a form (138…) writes it.
_MOBILE_ANY_PREFIX = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")
_SEPARATORS = re.compile(r"[\s\-()（）]")


def is_mobile(digits: str) -> bool:
    return bool(MOBILE_RE.match(digits))


def is_callback_number(digits: str) -> bool:
    """A mobile or an area-coded landline: a number staff can call back."""
    return bool(MOBILE_RE.match(digits) or LANDLINE_RE.match(digits))


def national_mobile(phone: str | None) -> str | None:
    """The 11 digits of a Chinese mobile written with or without +86 and separators, else None."""
    match = _MOBILE_ANY_PREFIX.match(_SEPARATORS.sub("", phone or ""))
    return match.group(1) if match else None


def e164_mobile(phone: str | None) -> str | None:
    """A Chinese mobile in E.164 (+86…), or None for landlines, short numbers and nothing."""
    national = national_mobile(phone)
    return "+86" + national if national else None
