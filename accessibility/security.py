"""Session cookie, CSRF tokens and the flood guard of the public pages.

The chat session id lives in a signed, HttpOnly cookie so that a reload (with or
without JavaScript) finds the same conversation. CSRF tokens are derived from that
id with an HMAC: they never expire (no time limits for people who type slowly) and
need no server-side storage.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import Response

from api import wording

SESSION_COOKIE = "hotline_sid"
PREFS_COOKIE = "hotline_prefs"
CSRF_HEADER = "x-csrf-token"
PREFS = ("large", "contrast", "easy")

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()[:32]


def new_session_id() -> str:
    return f"web-{uuid.uuid4().hex}"


def read_session_id(request: Request, secret: str) -> str | None:
    """The session id of a valid signed cookie, else None (forged or missing)."""
    raw = request.cookies.get(SESSION_COOKIE, "")
    sid, _, sig = raw.rpartition(".")
    if sid.startswith("web-") and len(sid) <= 64 and hmac.compare_digest(sig, _sign(secret, "sid:" + sid)):
        return sid
    return None


def set_session_cookie(response: Response, request: Request, sid: str, secret: str) -> None:
    # A browser-session cookie: closing the browser on a shared computer (community
    # centre, library) ends the conversation for the next person.
    response.set_cookie(
        SESSION_COOKIE,
        f"{sid}.{_sign(secret, 'sid:' + sid)}",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def csrf_token(secret: str, sid: str) -> str:
    return _sign(secret, "csrf:" + sid)


def csrf_ok(secret: str, sid: str | None, token: str | None) -> bool:
    return bool(sid and token) and hmac.compare_digest(str(token), csrf_token(secret, str(sid)))


def read_prefs(request: Request) -> set[str]:
    raw = request.cookies.get(PREFS_COOKIE, "")
    return {p for p in raw.split("-") if p in PREFS}


def set_prefs_cookie(response: Response, request: Request, prefs: set[str]) -> None:
    # Display preferences are not personal data; keep them for a year.
    value = "-".join(p for p in PREFS if p in prefs) or "none"
    response.set_cookie(
        PREFS_COOKIE,
        value,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def apply_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


@dataclass
class _Window:
    times: deque[float] = field(default_factory=deque)
    last_text: str = ""
    last_time: float = 0.0


class FloodGuard:
    """Refuses rapid repeats of the same text and bursts of messages, per key (session, number, address).

    In memory: a restart forgets the counts, which only lets a sender through sooner.
    """

    REPEAT = "repeat"
    TOO_FAST = "too_fast"

    def __init__(self, *, limit: int, window_seconds: float, repeat_seconds: float, max_keys: int = 50000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.repeat = repeat_seconds
        self.max_keys = max_keys
        self._keys: dict[str, _Window] = {}
        self._lock = threading.Lock()

    def check(self, key: str, text: str, *, now: float | None = None) -> str | None:
        """None when the message may pass (and count it), else why not."""
        now = time.monotonic() if now is None else now
        with self._lock:
            if len(self._keys) > self.max_keys:
                self._forget_idle(now)
            win = self._keys.setdefault(key, _Window())
            while win.times and now - win.times[0] > self.window:
                win.times.popleft()
            if text and text == win.last_text and now - win.last_time < self.repeat:
                return self.REPEAT
            if len(win.times) >= self.limit:
                return self.TOO_FAST
            win.times.append(now)
            win.last_text, win.last_time = text, now
            return None

    def _forget_idle(self, now: float) -> None:
        idle = [k for k, w in self._keys.items() if now - w.last_time > max(self.window, self.repeat)]
        for k in idle:
            del self._keys[k]

    def reset(self) -> None:
        with self._lock:
            self._keys.clear()


# What the web chat says when FloodGuard refuses a message, by its verdict.
FLOOD_MESSAGES = wording.texts("web", "admission")
