"""Dependencies of the console pages: who is logged in, what they may open, CSRF-checked forms."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from accessibility import security
from api.deps import SessionDep, SettingsDep
from api.services import access
from staff_console import sessions


class LoginRequired(Exception):
    """Not logged in (or the login ended): go to the login page, then come back."""

    def __init__(self, next_url: str) -> None:
        self.next_url = next_url


class PageForbidden(Exception):
    def __init__(self, login: sessions.ConsoleLogin, message: str) -> None:
        self.login = login
        self.message = message


def _login(request: Request, session: SessionDep, settings: SettingsDep) -> sessions.ConsoleLogin:
    background = request.headers.get("x-console-background") == "1" or request.url.path.endswith("/events")
    login = sessions.resolve(
        session, token=request.cookies.get(sessions.COOKIE, ""), settings=settings, touch=not background
    )
    if login is None:
        target = request.url.path if request.method == "GET" else "/staff"
        raise LoginRequired(target)
    return login


ConsoleLoginDep = Annotated[sessions.ConsoleLogin, Depends(_login)]


def page(capability: str) -> Callable[..., sessions.ConsoleLogin]:
    """Only callers `access` gives this capability get through; others see a 403 page saying why."""

    def _check(login: ConsoleLoginDep) -> sessions.ConsoleLogin:
        if not access.may(login.principal, capability):
            raise PageForbidden(login, "您的角色不能使用这个页面。如需使用，请联系值班主管或系统管理员。")
        return login

    return _check


async def checked_form(request: Request, login: ConsoleLoginDep, settings: SettingsDep) -> FormData:
    """The posted form, if its CSRF token belongs to this login."""
    form = await request.form()
    given = form.get("csrf") or request.headers.get(security.CSRF_HEADER)
    if not sessions.csrf_ok(settings, login, given if isinstance(given, str) else None):
        raise PageForbidden(login, "页面已过期或来源不明，请刷新页面后再提交。")
    return form


FormDep = Annotated[FormData, Depends(checked_form)]


def form_text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def install(app: FastAPI) -> None:
    """Exception handlers that turn the console's refusals into pages, never a stack trace."""
    from staff_console.ui import render

    async def _to_login(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, LoginRequired)
        if request.headers.get("accept", "").startswith("text/event-stream") or request.headers.get(
            "x-console-background"
        ):
            return Response(status_code=401)
        response = RedirectResponse(f"/staff/login?next={quote(exc.next_url)}", status_code=303)
        return security.apply_security_headers(response)

    async def _forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageForbidden)
        ctx: dict[str, Any] = {"title": "不能使用此页面", "message": exc.message}
        return render(request, "staff/forbidden.html", ctx, login=exc.login, status_code=403)

    app.add_exception_handler(LoginRequired, _to_login)
    app.add_exception_handler(PageForbidden, _forbidden)
