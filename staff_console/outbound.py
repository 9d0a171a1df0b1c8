"""Text messages staff send to citizens: written to the outbox, sent by the task worker."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlmodel import Session

from api.models.outbox import OutboxKind
from api.services import callers, follow_up, outbox
from api.settings import Settings

QUEUED_NOTE = "发送结果会记在工单的处理记录里。"

Outcome = Literal["queued", "unsubscribed", "not_sent"]


def queue_sms(session: Session, settings: Settings, *, to: str | None, body: str, ticket_id: int | None) -> Outcome:
    """Add a staff reply SMS to the session (the caller's next commit writes it with the reply).

    "unsubscribed" after 退订 (checked again when the worker sends it); "not_sent" when Twilio is not
    configured or there is no mobile number. Blocking: call it from a thread.
    """
    # Numbers on work orders are written as citizens gave them (13912345678); Twilio wants E.164.
    to = to if to and to.startswith("+") else follow_up.mobile_number(to)
    if to and callers.is_unsubscribed(settings, to):
        return "unsubscribed"
    if not (settings.twilio_enabled and settings.twilio_phone_number and to):
        return "not_sent"
    outbox.add(
        session,
        kind=OutboxKind.sms,
        recipient=to,
        body=body,
        key=outbox.idempotency_key("staff_reply", uuid.uuid4().hex),
        purpose="staff_reply",
        ticket_id=ticket_id,
    )
    return "queued"
