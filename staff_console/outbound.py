"""Text messages staff send to citizens: the follow-up module's Twilio sender, off the event loop.

A number that sent 退订 gets nothing (`api.services.callers`), whatever staff asked for; the outcome
says so, so the notice can tell staff to reach the citizen another way.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from api.services import callers, follow_up
from api.settings import Settings

Outcome = Literal["sent", "unsubscribed", "not_sent"]


async def send_sms(settings: Settings, *, to: str | None, body: str) -> Outcome:
    """ "sent" when Twilio accepted the message; "unsubscribed" after 退订; "not_sent" when SMS is not
    configured, there is no mobile number, or Twilio failed."""
    # Numbers on work orders are written as citizens gave them (13912345678); Twilio wants E.164.
    to = to if to and to.startswith("+") else follow_up.mobile_number(to)
    unsubscribed: bool = bool(to) and await asyncio.to_thread(callers.is_unsubscribed, settings, to)
    if unsubscribed:
        return "unsubscribed"
    if not (settings.twilio_enabled and settings.twilio_phone_number and to):
        return "not_sent"
    try:
        error = await asyncio.wait_for(
            asyncio.to_thread(follow_up.send_sms, settings, to=to, body=body), settings.twilio_timeout_seconds + 2
        )
    except TimeoutError:
        return "not_sent"
    return "sent" if error is None else "not_sent"
