"""Console logins: an HttpOnly cookie holding a random token, idle expiry, CSRF tokens (also for the login form).

Only the token's SHA-256 is stored, so the table cannot be used to log in. Activity
slides the expiry; the page warns two minutes ahead and offers to extend (WCAG 2.2.1).
Background requests (the live queue) do not count as activity.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session, select

from api.db import begin_write
from api.models.console import StaffSession
from api.models.staff import StaffUser
from api.services import staff as staff_service
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.services.handoff import aware
from api.settings import Settings

COOKIE = "hotline_staff"
WARN_BEFORE = timedelta(minutes=2)
TOUCH_EVERY = timedelta(seconds=15)


@dataclass(frozen=True)
class ConsoleLogin:
    principal: Principal
    full_name: str
    token_hash: str
    expires_at_ms: int
    # The server's clock when the login was checked: the page counts down from the server's time,
    # not the office computer's (which may be wrong), and tells staff the true idle limit.
    checked_at_ms: int = 0
    idle_minutes: int = 20
    warn_before_ms: int = int(WARN_BEFORE.total_seconds() * 1000)

    @property
    def username(self) -> str:
        return self.principal.username

    @property
    def role(self) -> str:
        return self.principal.role


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token(settings: Settings, token_hash: str) -> str:
    return hmac.new(settings.effective_secret_key.encode(), f"staff-csrf:{token_hash}".encode(), "sha256").hexdigest()


def csrf_ok(settings: Settings, login: ConsoleLogin, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(str(given), csrf_token(settings, login.token_hash))


def start(session: Session, *, user: StaffUser, settings: Settings) -> str:
    """A new login for `user`; returns the cookie value."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    begin_write(session)
    session.add(
        StaffSession(
            token_hash=_hash(token),
            username=user.username,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(minutes=settings.staff_idle_minutes),
        )
    )
    session.commit()
    return token


def resolve(session: Session, *, token: str, settings: Settings, touch: bool) -> ConsoleLogin | None:
    """The login behind a cookie, or None when it is unknown, ended, expired or its account is disabled."""
    if not token or len(token) > 128:
        return None
    now = utcnow()
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == _hash(token))).first()
    expires = aware(row.expires_at) if row is not None else None
    if row is None or row.ended_at is not None or expires is None or expires <= now:
        session.rollback()
        return None
    user = staff_service.get_user(session, username=row.username)
    if user is None or not user.active:
        session.rollback()
        return None
    last_seen = aware(row.last_seen_at) or now
    if touch and now - last_seen >= TOUCH_EVERY:
        row.last_seen_at = now
        row.expires_at = expires = now + timedelta(minutes=settings.staff_idle_minutes)
        session.add(row)
        session.commit()
    else:
        session.rollback()
    principal = Principal(user.username, user.role.value, user.id, user.department_id)
    return ConsoleLogin(
        principal,
        user.full_name,
        row.token_hash,
        int(expires.timestamp() * 1000),
        checked_at_ms=int(now.timestamp() * 1000),
        idle_minutes=settings.staff_idle_minutes,
    )


def extend(session: Session, *, login: ConsoleLogin, settings: Settings) -> int:
    """Restart the idle clock now (the "continue" button of the warning); returns the new expiry in ms."""
    begin_write(session)
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == login.token_hash)).one()
    now = utcnow()
    row.last_seen_at = now
    row.expires_at = now + timedelta(minutes=settings.staff_idle_minutes)
    session.add(row)
    session.commit()
    return int(row.expires_at.timestamp() * 1000)


def end(session: Session, *, login: ConsoleLogin) -> None:
    begin_write(session)
    row = session.exec(select(StaffSession).where(StaffSession.token_hash == login.token_hash)).first()
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        session.add(row)
    session.commit()


def set_cookie(response: Response, request: Request, token: str) -> None:
    # No max-age: closing the browser on a shared office computer ends the login too.
    response.set_cookie(
        COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/staff"
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/staff")


# --- the login form's own CSRF defence -------------------------------------------------------------
# Before login there is no session to bind a token to, so the form carries a signed double-submit
# token: GET /staff/login sets a random nonce in an HttpOnly cookie and puts its HMAC in the form;
# POST needs both to match. This stops another site from signing a staff member's browser in to an
# account of the attacker's choosing (login CSRF), whose actions would then be recorded as theirs.

LOGIN_CSRF_COOKIE = "hotline_staff_login"
LOGIN_CSRF_FIELD = "login_csrf"


def _login_csrf_sign(settings: Settings, nonce: str) -> str:
    key = settings.effective_secret_key.encode()
    return hmac.new(key, f"staff-login-csrf:{nonce}".encode(), "sha256").hexdigest()


def login_csrf_nonce(request: Request) -> str:
    """The browser's nonce if it already has a usable one (several open login tabs keep working), else a new one."""
    nonce = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return nonce if 20 <= len(nonce) <= 64 and nonce.replace("-", "").replace("_", "").isalnum() else ""


def issue_login_csrf(request: Request, settings: Settings) -> tuple[str, str]:
    """(nonce for the cookie, token for the form)."""
    nonce = login_csrf_nonce(request) or secrets.token_urlsafe(24)
    return nonce, _login_csrf_sign(settings, nonce)


def set_login_csrf_cookie(response: Response, request: Request, nonce: str) -> None:
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        nonce,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/staff",
        max_age=12 * 3600,
    )


def from_a_browser(request: Request) -> bool:
    """Browsers send Origin or Sec-Fetch-Site with every form POST; a request with neither (a script, the
    command line) cannot have been forced on a staff member's browser by another site."""
    return bool(request.headers.get("origin") or request.headers.get("sec-fetch-site"))


def login_csrf_ok(request: Request, settings: Settings, given: str | None) -> bool:
    """The login POST is the one our own form sent: the form's token signs this browser's cookie nonce.

    Requests that are not from a browser (no Origin, no Sec-Fetch-Site) need no token: login CSRF needs a
    victim's browser. Every browser request must carry it.
    """
    if given:
        nonce = login_csrf_nonce(request)
        return bool(nonce) and hmac.compare_digest(str(given), _login_csrf_sign(settings, nonce))
    return not from_a_browser(request)
