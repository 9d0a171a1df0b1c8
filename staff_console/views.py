"""Plain-Chinese wording the console shows: time left in working days, channels, who said what."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request

from accessibility import conversation
from api.models.grievance import GrievanceRecord
from api.services import sla
from api.services.handoff import aware
from api.services.masking import mask_text
from api.settings import get_settings

# Who did something, when it was not a person with an account.
ACTORS = {"service:assistant": "智能助手", "system": "系统", "citizen": "市民", "test": "系统"}

CHANNELS = {
    "web": "网页",
    "sms": "短信",
    "voice": "电话",
    "phone": "电话",
    "walk_in": "来访",
    "letter": "信件",
    "email": "邮件",
    "staff": "工作人员",
}


def time_left(deadline: datetime | None, now: datetime, *, open_: bool = True) -> str:
    """ "还剩3个工作日（11月26日前）", "今天到期", "已超期2个工作日"; empty once the clock has stopped."""
    deadline = aware(deadline)
    if deadline is None or not open_:
        return ""
    policy = sla.load_policy()
    today, due = sla.china_date(now), sla.china_date(deadline)
    if deadline < now:
        late = sla.working_days_between(due, today, policy)
        return f"已超期{late}个工作日" if late else "已超期"
    if due == today:
        return "今天到期"
    left = sla.working_days_between(today, due, policy)
    return f"还剩{left}个工作日（{sla.format_day(due, reference=today)}前）"


def turn_lines(record: GrievanceRecord, *, mask: bool, titles: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One grievance record as transcript lines: the citizen's words, then each reply.

    `titles` carries the quick-reply buttons seen so far across a transcript, so that what the
    citizen pressed reads as the button's words (“不对”), never as its payload (“/deny”).
    """
    lines: list[dict[str, Any]] = []
    titles = {} if titles is None else titles
    clean = mask_text if mask else (lambda t: t)
    if record.outcome != "staff" and record.text:
        pressed = record.text.startswith("/")
        said = conversation.shown_text(record.text, titles)
        lines.append(
            {
                "who": "citizen",
                "label": "市民（语音识别）" if record.channel in ("voice", "phone") else "市民",
                "text": f"（按了“{said}”）" if pressed else clean(said) or "",
                "confidence": record.asr_confidence,
                "at": record.created_at,
                "intent": record.intent,
            }
        )
    for reply in record.replies or []:
        staff = record.outcome == "staff" or reply.get("sender") == "staff"
        name = str(reply.get("name") or "")
        label = f"工作人员（{name}）" if staff and name else ("工作人员" if staff else "智能助手")
        if record.outcome == "released":
            label = "系统提示"
        for button in reply.get("buttons") or []:
            if isinstance(button, dict) and button.get("payload") and button.get("title"):
                titles[str(button["payload"])] = str(button["title"])
        text = str(reply.get("text") or "")
        if text:
            lines.append(
                {"who": "staff" if staff else "bot", "label": label, "text": clean(text) or "", "at": record.created_at}
            )
    return lines


def notice_query(text: str) -> str:
    """A one-line message for the next page, signed so that a crafted link cannot put words in our mouth."""
    sig = hmac.new(get_settings().effective_secret_key.encode(), f"notice:{text}".encode(), "sha256").hexdigest()[:24]
    return f"notice={quote(text)}&sig={sig}"


def read_notice(request: Request) -> str:
    text = request.query_params.get("notice", "")[:300]
    sig = request.query_params.get("sig", "")
    expected = hmac.new(get_settings().effective_secret_key.encode(), f"notice:{text}".encode(), "sha256").hexdigest()
    return text if text and hmac.compare_digest(sig, expected[:24]) else ""
