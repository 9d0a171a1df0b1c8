"""Console login, logout and the "continue" button of the idle warning."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from accessibility import security
from api.deps import SessionDep, SettingsDep, client_ip
from api.errors import ApiError
from api.services import access
from api.services import staff as staff_service
from api.services.grievance_log import utcnow
from api.settings import Settings
from staff_console import sessions
from staff_console.deps import ConsoleLoginDep, FormDep, form_text
from staff_console.ui import PAGES, render

router = APIRouter(prefix="/staff")


def _safe_next(value: str) -> str:
    """Only our own console pages: never an open redirect."""
    if value.startswith("/staff") and not value.startswith("//") and "\\" not in value and len(value) < 300:
        return value
    return "/staff/home"


LOGIN_EXPIRED = "页面已过期，请重新登录（已为您刷新登录页面，请再输入一次密码）。"


def _login_page(request: Request, settings: SettingsDep, *, status_code: int | None = None, **ctx: object) -> Response:
    """The login form, always with a fresh login-CSRF token and its cookie (also after an error)."""
    nonce, token = sessions.issue_login_csrf(request, settings)
    context = {
        "title": "工作人员登录",
        "next": "/staff/home",
        "username": "",
        "max_failures": settings.login_max_failures,
        "lockout_minutes": settings.login_lockout_minutes,
        "idle_minutes": settings.staff_idle_minutes,
        "warn_before_ms": int(sessions.WARN_BEFORE.total_seconds() * 1000),
        "login_csrf": token,
        "login_csrf_field": sessions.LOGIN_CSRF_FIELD,
        **ctx,
    }
    code = status_code or (400 if ctx.get("errors") else 200)
    response = render(request, "staff/login.html", context, login=None, status_code=code)
    sessions.set_login_csrf_cookie(response, request, nonce)
    return response


@router.get("/login")
def login_form(request: Request, settings: SettingsDep, next: str = "/staff/home") -> Response:
    return _login_page(request, settings, next=_safe_next(next))


def _sign_in(session: Session, username: str, password: str, settings: Settings, ip: str) -> str:
    """Check the password and start the login (a worker thread: password hashing and database work)."""
    user = staff_service.authenticate(session, username=username, password=password, settings=settings, client_ip=ip)
    return sessions.start(session, user=user, settings=settings)


@router.post("/login")
async def login(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    username = str(form.get("username") or "").strip().lower()[:64]
    password = str(form.get("password") or "")[:256]
    next_url = _safe_next(str(form.get("next") or ""))
    given = form.get(sessions.LOGIN_CSRF_FIELD)
    if not sessions.login_csrf_ok(request, settings, given if isinstance(given, str) else None):
        # Before the password is checked: a forged login neither signs anyone in nor counts as a failure.
        return _login_page(
            request, settings, status_code=403, next=next_url, username=username, errors={"login": LOGIN_EXPIRED}
        )
    if not username or not password:
        return _login_page(
            request, settings, next=next_url, username=username, errors={"login": "请填写用户名和密码。"}
        )
    try:
        token = await run_in_threadpool(_sign_in, session, username, password, settings, client_ip(request))
    except ApiError as exc:
        message = exc.message.split(" / ")[0]
        return _login_page(request, settings, next=next_url, username=username, errors={"login": message})
    response = RedirectResponse(next_url, status_code=303)
    sessions.set_cookie(response, request, token)
    return security.apply_security_headers(response)


@router.post("/logout")
def logout(request: Request, session: SessionDep, login: ConsoleLoginDep, form: FormDep) -> Response:
    sessions.end(session, login=login)
    response = RedirectResponse("/staff/login", status_code=303)
    sessions.clear_cookie(response)
    return security.apply_security_headers(response)


@router.post("/session/extend")
def extend(
    request: Request, session: SessionDep, settings: SettingsDep, login: ConsoleLoginDep, form: FormDep
) -> Response:
    expires = sessions.extend(session, login=login, settings=settings)
    if request.headers.get(security.CSRF_HEADER):
        # With the server's clock, so that the page counts down correctly whatever the office computer's says.
        return JSONResponse({"expires_at_ms": expires, "now_ms": int(utcnow().timestamp() * 1000)})
    return security.apply_security_headers(RedirectResponse(_safe_next(form_text(form, "next")), status_code=303))


@router.get("/home")
def home(login: ConsoleLoginDep) -> Response:
    """Each role starts on the first page it may use."""
    for href, _label, capability in PAGES:
        if access.may(login.principal, capability):
            return RedirectResponse(href, status_code=303)
    return RedirectResponse("/staff/tickets", status_code=303)
