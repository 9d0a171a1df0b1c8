"""Work orders for the public pages and SMS: look one up, create one from the complaint form.

Both go through `api.services.tickets`, so a form complaint is the same kind of work
order as one taken by the assistant. `public_lookup` is used when the tickets service
provides it; until then an equivalent query stands in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from api.models import ticket as ticket_models
from api.models.ticket import Ticket, TicketCreate, TicketStatus
from api.services import tickets

CHINA_TZ = ZoneInfo("Asia/Shanghai")
NUMBER_RE = re.compile(r"^\d{12}$")

# Keyed by the Chinese status label the citizen sees.
STATUS_EXPLAINED: dict[str, str] = {
    "受理": "我们已经收到您的诉求，正在安排处理。",
    "派单": "已经交给负责的部门。",
    "签收": "负责的部门已经接手。",
    "办理": "正在办理中。",
    "答复": "已经答复您，请留意电话或短信。",
    "办结": "已经办完。",
    "回访": "已经办完，我们会回访，问问您是否满意。",
    "关闭": "这件事已经结束。",
    "重办": "您不满意，我们正在重新办理。",
}


FORM_ACTOR = "citizen-web-form"


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def group_digits(number: str, size: int = 4) -> str:
    """'202611230007' → '2026 1123 0007', easier to read and copy."""
    return " ".join(number[i : i + size] for i in range(0, len(number), size))


def _fallback_lookup(session: Session, *, number: str, phone_last4: str) -> Ticket | None:
    ticket = session.exec(select(Ticket).where(Ticket.number == number)).first()
    if ticket is None or not ticket.contact_phone:
        return None
    return ticket if digits(ticket.contact_phone)[-4:] == phone_last4 else None


def lookup(session: Session, *, number: str, phone_last4: str) -> Ticket | None:
    """The ticket when both the number and the phone's last four digits match, else None."""
    if not NUMBER_RE.match(number) or not re.fullmatch(r"\d{4}", phone_last4):
        return None
    finder: Callable[..., Ticket | None] = getattr(tickets, "public_lookup", _fallback_lookup)
    return finder(session, number=number, phone_last4=phone_last4)


def status_text(ticket: Ticket) -> str:
    """The Chinese label (受理, 办理 …) whatever the enum's stored value is."""
    labels: dict[Any, str] = getattr(ticket_models, "STATUS_LABELS", {})
    status = ticket.status
    label = labels.get(status)
    if label:
        return label
    return status.value if isinstance(status, TicketStatus) else str(status)


def public_reply(ticket: Ticket) -> str:
    return str(getattr(ticket, "public_reply", "") or "")


def deadline_text(ticket: Ticket) -> str:
    return china_date(ticket.deadline)


def china_date(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(CHINA_TZ)
    return f"{local.year}年{local.month}月{local.day}日"


def by_number(session: Session, number: str) -> Ticket | None:
    return session.exec(select(Ticket).where(Ticket.number == number)).first()


def create_from_form(session: Session, fields: dict[str, Any]) -> Ticket:
    """Create the work order; fields the model does not (yet) have are kept in the description."""
    known = set(TicketCreate.model_fields)
    data = {k: v for k, v in fields.items() if k in known}
    extra_labels = {
        "district": "区",
        "street": "街道",
        "community": "社区",
        "occurred_at_text": "发生时间",
        "wish": "诉求",
    }
    extras = [f"{label}：{fields[k]}" for k, label in extra_labels.items() if fields.get(k) and k not in known]
    if extras:
        data["description"] = str(fields.get("description", "")) + "\n" + "；".join(extras)
    return tickets.create_ticket(session, data=TicketCreate.model_validate(data), actor=FORM_ACTOR)
