"""Session cookie and CSRF tokens of the public pages.

The chat session id lives in a signed, HttpOnly cookie so that a reload (with or
without JavaScript) finds the same conversation. CSRF tokens are derived from that
id with an HMAC: they never expire (no time limits for people who type slowly) and
need no server-side storage.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid

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


# What the web chat says when the flood guard (`api.services.admission`) refuses a message, by its verdict.
FLOOD_MESSAGES = wording.texts("web", "admission")
