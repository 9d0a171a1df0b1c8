"""Work orders for the public pages and SMS: look one up, create one from the complaint form.

Both go through `api.workorders.creation`, so a form complaint is the same kind of work
order as one taken by the assistant; a lookup is `api.workorders.queries.public_lookup`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, select

from api import vocabulary, wording
from api.clock import CHINA_TZ
from api.models.ticket import Ticket, TicketCreate
from api.workorders import creation, queries

NUMBER_RE = re.compile(r"^\d{12}$")

_STATUS_BY_LABEL = {label: status for status, label in vocabulary.STATUS_LABELS.items()}


def status_explained(channel: str, label: str) -> str:
    """What the status the citizen sees as `label` (受理 …) means, in that channel's words ("" if unknown)."""
    status = _STATUS_BY_LABEL.get(label)
    return wording.texts(channel, "status").get(status, "") if status else ""


FORM_ACTOR = "citizen-web-form"


def digits(text: str) -> str:
    return re.sub(r"\D", "", text or "")


def group_digits(number: str) -> str:
    """'202611230007' → '2026 1123 0007', easier to read (the one formatter: `api.vocabulary`)."""
    return vocabulary.format_work_order(number)


def lookup(session: Session, *, number: str, phone_last4: str) -> Ticket | None:
    """The ticket when both the number and the phone's last four digits match, else None."""
    if not NUMBER_RE.match(number) or not re.fullmatch(r"\d{4}", phone_last4):
        return None
    return queries.public_lookup(session, number=number, phone_last4=phone_last4)


def status_text(ticket: Ticket) -> str:
    """The Chinese label (受理, 办理 …) whatever the enum's stored value is."""
    return vocabulary.status_label(ticket.status)


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
    return creation.create_ticket(session, data=TicketCreate.model_validate(data), actor=FORM_ACTOR)
