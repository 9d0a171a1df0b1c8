"""Outgoing work for a call: transfer to staff, SMS, call-back work orders, hang-up.

Twilio calls go through the official library with a deadline and off the event
loop; an SMS goes to the outbox, which the task worker sends with retries. When
Twilio is not configured or fails, a work order records what the caller asked for
so staff can do it by hand, and the caller is told so.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session

from api.db import get_engine
from api.integrations import twilio
from api.models.outbox import OutboxKind
from api.models.ticket import ContactPreference, TicketCreate, TicketKind
from api.services import callers, follow_up, grievance_log, outbox
from api.services.masking import mask_text
from api.services.on_duty import CHINA_TZ, callback_promise, phone_transfer_configured, within_service_hours
from api.settings import Settings
from api.workorders import creation
from voice.transfer import dial_twiml

log = logging.getLogger("voice.actions")
__all__ = ["CHINA_TZ", "CallActions", "callback_promise", "within_service_hours"]


@dataclass
class CallActions:
    settings: Settings
    call_sid: str
    session_id: str
    caller_phone: str  # verified caller number, "" when unknown
    is_twilio_call: bool

    def _client(self) -> Any:
        return twilio.rest_client(self.settings)

    async def _blocking(self, fn: Any) -> bool:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, fn), self.settings.twilio_timeout_seconds + 2)
        except Exception as exc:  # any Twilio or network error: the caller is told, a work order follows
            log.warning("Twilio action failed: %s: %s", type(exc).__name__, mask_text(str(exc)[:200]))
            return False
        return True

    def can_transfer(self, now: datetime | None = None) -> bool:
        return bool(
            phone_transfer_configured(
                twilio_enabled=self.settings.twilio_enabled, transfer_number=self.settings.voice_transfer_number or ""
            )
            and self.settings.public_base_url  # Twilio must reach us again when the dial ends
            and self.is_twilio_call
            and within_service_hours(
                now or datetime.now(CHINA_TZ), self.settings.voice_service_hours, self.settings.service_days
            )
        )

    async def transfer(self) -> bool:
        """Move the call to the on-duty target; Twilio comes back to /voice/transfer-result when the dial ends."""
        twiml = dial_twiml(self.settings, call_sid=self.call_sid)
        return await self._blocking(lambda: self._client().calls(self.call_sid).update(twiml=twiml))

    async def unsubscribed(self, phone: str) -> bool:
        """Whether the number sent 退订: then the phone line sends it no SMS either."""
        return await asyncio.to_thread(callers.is_unsubscribed, self.settings, phone)

    async def send_sms(self, to: str, body: str) -> bool:
        """Write the SMS to the outbox (the task worker sends it, retrying); False when none can be sent."""
        number = follow_up.mobile_number(to) or (to if to.startswith("+") else None)
        if not (self.settings.twilio_enabled and self.settings.twilio_phone_number and number):
            return False
        await asyncio.to_thread(self._queue_sms, number, body)
        return True

    def _queue_sms(self, to: str, body: str) -> None:
        with Session(get_engine()) as session:
            key = outbox.idempotency_key("answer", self.call_sid, uuid.uuid4().hex)
            outbox.add(session, kind=OutboxKind.sms, recipient=to, body=body, key=key, purpose="answer")
            session.commit()

    async def hangup(self) -> bool:
        if not (self.settings.twilio_enabled and self.is_twilio_call):
            return False
        return await self._blocking(lambda: self._client().calls(self.call_sid).update(status="completed"))

    async def work_order(
        self,
        *,
        kind: TicketKind,
        description: str,
        phone: str | None,
        preference: ContactPreference = ContactPreference.unknown,
    ) -> str:
        """A work order for what the caller asked, with how they asked to be reached (a call-back, an SMS);
        off the event loop, which serves every open call."""
        return await asyncio.to_thread(self._work_order, kind, description, phone, preference)

    def _work_order(self, kind: TicketKind, description: str, phone: str | None, preference: ContactPreference) -> str:
        with Session(get_engine()) as session:
            ticket = creation.create_ticket(
                session,
                data=TicketCreate(
                    kind=kind,
                    description=description,
                    channel="voice",
                    session_id=self.session_id,
                    contact_phone=phone or None,
                    contact_preference=preference,
                ),
            )
            return ticket.number

    async def log_key_action(self, text: str, reply: str, *, ticket_number: str | None, handoff: bool) -> None:
        """Key presses that never reach the assistant still belong in the call's log."""
        await asyncio.to_thread(self._log_key_action, text, reply, ticket_number, handoff)

    def _log_key_action(self, text: str, reply: str, ticket_number: str | None, handoff: bool) -> None:
        with Session(get_engine()) as session:
            rec = grievance_log.append(
                session,
                channel="voice",
                session_id=self.session_id,
                caller=grievance_log.caller_key(
                    self.caller_phone or self.session_id, salt=self.settings.effective_caller_salt
                ),
                text=text,
            )
            grievance_log.complete(
                session,
                record_id=rec.id,
                outcome="keypad",
                replies=[{"text": reply}],
                handoff=handoff,
                ticket_number=ticket_number,
            )
