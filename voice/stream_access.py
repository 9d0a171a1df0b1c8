"""Who may open the media stream: a short-lived token the app signs, bound to the call and its caller.

`/voice/incoming` (a Twilio call whose webhook signature held), the browser phone's token
route and `hotline call` mint one; the stream refuses a `start` without a valid one. The
token carries the caller's number too, so a stream cannot claim a number Twilio did not give.
Pure functions: no network, no settings.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TTL_SECONDS = 120


def _signature(secret: str, call_sid: str, caller: str, expires: int, note: str) -> str:
    message = f"voice-stream|{call_sid}|{caller}|{expires}|{note}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def mint(
    secret: str, *, call_sid: str, caller: str = "", note: str = "", now: float | None = None, ttl: int = TTL_SECONDS
) -> str:
    """`note` is what the app tells the stream about the call (the order made after an unanswered transfer)."""
    expires = int((time.time() if now is None else now) + ttl)
    return f"{expires}.{_signature(secret, call_sid, caller, expires, note)}"


def verify(
    secret: str, token: str, *, call_sid: str, caller: str = "", note: str = "", now: float | None = None
) -> bool:
    """True only for an unexpired token minted for this call, this caller and this note."""
    expires_text, _, signature = token.partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or not signature:
        return False
    expires = int(expires_text)
    if expires < (time.time() if now is None else now):
        return False
    return hmac.compare_digest(signature, _signature(secret, call_sid, caller, expires, note))
