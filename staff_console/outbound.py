"""Text messages staff send to citizens, through the official Twilio library with a deadline."""

from __future__ import annotations

import asyncio
import logging

from api.settings import Settings

log = logging.getLogger(__name__)


async def send_sms(settings: Settings, *, to: str | None, body: str) -> bool:
    """True when Twilio accepted the message; False when it is not configured, there is no number, or it failed."""
    if not (settings.twilio_enabled and settings.twilio_phone_number and to):
        return False

    def _send() -> None:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client

        http = TwilioHttpClient(timeout=settings.twilio_timeout_seconds)
        client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)
        client.messages.create(to=to, from_=settings.twilio_phone_number, body=body[:1500])

    try:
        await asyncio.wait_for(asyncio.to_thread(_send), settings.twilio_timeout_seconds + 2)
    except Exception as exc:  # any Twilio or network failure: staff are told to call instead
        log.warning("staff SMS failed: %s", type(exc).__name__)
        return False
    return True
