"""Rendering shared by every public page (and reusable by the staff console).

`render` adds what each accessible page needs: the citizen's display preferences
(large text, high contrast, easy read) as classes on <html>, the CSRF token, the
signed session cookie and strict security headers (no inline script can run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from accessibility import security
from api import vocabulary
from api.settings import get_settings

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")
vocabulary.install(templates.env)  # citizen pages write numbers, statuses and ratings as the console does

NAV = (
    ("/", "在线咨询"),
    ("/status", "查询工单进度"),
    ("/complaint", "网上投诉和求助"),
)


def session_id(request: Request) -> str:
    """The caller's chat session id; a new one is remembered on the request so `finish` sets its cookie."""
    sid: str | None = getattr(request.state, "hotline_sid", None)
    if sid:
        return sid
    sid = security.read_session_id(request, get_settings().effective_secret_key)
    if sid is None:
        sid = security.new_session_id()
        request.state.hotline_sid_new = True
    request.state.hotline_sid = sid
    return sid


def finish(request: Request, response: Any) -> Any:
    """Set a new session cookie if one was issued, and the security headers."""
    if getattr(request.state, "hotline_sid_new", False):
        security.set_session_cookie(response, request, request.state.hotline_sid, get_settings().effective_secret_key)
    security.apply_security_headers(response)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def render(request: Request, name: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    sid = session_id(request)
    prefs = security.read_prefs(request)
    errors = context.get("errors") or {}
    ctx = {
        "nav": NAV,
        "path": request.url.path,
        "prefs": prefs,
        "csrf": security.csrf_token(get_settings().effective_secret_key, sid),
        "errors": errors,
        **context,
    }
    if errors and not str(ctx.get("title", "")).startswith("错误"):
        ctx["title"] = "错误：" + str(ctx.get("title", ""))
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    return finish(request, response)


def check_csrf(request: Request, token: str | None) -> bool:
    secret = get_settings().effective_secret_key
    sid = security.read_session_id(request, secret)
    return security.csrf_ok(secret, sid, token)
