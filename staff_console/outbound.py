"""Text messages staff send to citizens: the follow-up module's Twilio sender, off the event loop."""

from __future__ import annotations

import asyncio

from api.services import follow_up
from api.settings import Settings


async def send_sms(settings: Settings, *, to: str | None, body: str) -> bool:
    """True when Twilio accepted the message; False when it is not configured, there is no number, or it failed."""
    # Numbers on work orders are written as citizens gave them (13912345678); Twilio wants E.164.
    to = to if to and to.startswith("+") else follow_up.mobile_number(to)
    if not (settings.twilio_enabled and settings.twilio_phone_number and to):
        return False
    try:
        error = await asyncio.wait_for(
            asyncio.to_thread(follow_up.send_sms, settings, to=to, body=body), settings.twilio_timeout_seconds + 2
        )
    except TimeoutError:
        return False
    return error is None
