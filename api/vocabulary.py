"""One vocabulary for what citizens and staff read: work-order numbers, statuses, ratings, contact preferences.

Every page, SMS text and console view takes its words from here, so that a status or a
rating is never written one way on the status page and another in the console, and a
work-order number always reads the same (grouped 4-4-4) while links, keypads and inputs
keep the plain digits.
"""

from __future__ import annotations

import re
from typing import Any

from api import wording
from api.models.ticket import STATUS_LABELS, ContactPreference, Satisfaction, TicketStatus

__all__ = [
    "CONTACT_PREFERENCE_LABELS",
    "SATISFACTION_LABELS",
    "SCORE_LABELS",
    "STATUS_EXPLAINED",
    "STATUS_LABELS",
    "contact_preference_label",
    "format_work_order",
    "install",
    "parse_work_order",
    "score_label",
    "status_label",
    "work_order_groups",
]

WORK_ORDER_DIGITS = 12
_WORK_ORDER_RE = re.compile(rf"\d{{{WORK_ORDER_DIGITS}}}")
# What a person may type or paste around the digits of a number: spaces (also full-width), hyphens.
_NUMBER_SEPARATORS = re.compile(r"[\s\-\u3000\u00a0\u2009\u202f]")


def work_order_groups(number: str) -> list[str]:
    """'202612040001' → ['2026', '1204', '0001']: the groups a person reads (and the phone line speaks)."""
    digits = re.sub(r"\D", "", number or "")
    return [digits[i : i + 4] for i in range(0, len(digits), 4)]


def format_work_order(number: object) -> str:
    """A work-order number for reading: '2026 1204 0001'. Anything that is not 12 digits is left as it is."""
    text = "" if number is None else str(number)
    if not _WORK_ORDER_RE.fullmatch(text):
        return text
    return " ".join(work_order_groups(text))


def parse_work_order(text: str) -> str | None:
    """The plain 12 digits of a typed number ('2026 1204 0001', '2026-1204-0001'), or None when it is not one."""
    compact = _NUMBER_SEPARATORS.sub("", text or "")
    compact = compact.translate({ord("０") + i: ord("0") + i for i in range(10)})  # full-width digits
    return compact if _WORK_ORDER_RE.fullmatch(compact) else None


# --- statuses ---------------------------------------------------------------------------------


def status_label(status: object) -> str:
    """受理, 派单 … for a status given as the enum or its stored code; unknown codes are shown as they are."""
    try:
        return STATUS_LABELS[TicketStatus(str(status))]
    except ValueError:
        return str(status)


# What each status means for the citizen, keyed by the status (api/wording/web/status.yml; sms/status.yml for SMS).
STATUS_EXPLAINED = wording.texts("web", "status")

# --- ratings ------------------------------------------------------------------------------------

# The 1-5 follow-up score, as the rating SMS, the feedback page, the phone keypad and the console say it.
SCORE_LABELS: dict[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "很不满意"}

# The three-level result stored on the work order (12345 scale).
SATISFACTION_LABELS: dict[Satisfaction, str] = {s: s.value for s in Satisfaction}


def score_label(score: object) -> str:
    try:
        return SCORE_LABELS[int(str(score))]
    except (KeyError, ValueError):
        return ""


# --- contact preference -----------------------------------------------------------------------------

CONTACT_PREFERENCE_LABELS: dict[ContactPreference, str] = {
    ContactPreference.call: "电话",
    ContactPreference.sms: "短信",
    ContactPreference.chat: "网上对话",
    ContactPreference.none: "不需要联系",
    ContactPreference.unknown: "未说明",
}


def contact_preference_label(value: object) -> str:
    raw = value.value if isinstance(value, ContactPreference) else str(value or "")
    try:
        return CONTACT_PREFERENCE_LABELS[ContactPreference(raw)]
    except ValueError:
        return CONTACT_PREFERENCE_LABELS[ContactPreference.unknown]


def install(env: Any) -> None:
    """Make the vocabulary available to a Jinja environment as filters (idempotent)."""
    env.filters["work_order"] = format_work_order
    env.filters["status_label"] = status_label
    env.filters["score_label"] = score_label
    env.filters["contact_preference"] = contact_preference_label
    env.globals["SCORE_LABELS"] = SCORE_LABELS
    env.globals["CONTACT_PREFERENCE_LABELS"] = CONTACT_PREFERENCE_LABELS
