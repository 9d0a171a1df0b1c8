"""Rendering of console pages: the public page shell, the staff navigation by role, CSRF and the idle clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, FileSystemLoader

from accessibility import security
from api import vocabulary
from api.clock import china_time
from api.services import access
from api.settings import get_settings
from staff_console import sessions
from staff_console.views import ACTORS

HERE = Path(__file__).resolve().parent

templates = Jinja2Templates(directory=HERE / "templates")
templates.env.loader = ChoiceLoader(
    [FileSystemLoader(HERE / "templates"), FileSystemLoader(HERE.parent / "accessibility" / "templates")]
)


templates.env.filters["china_time"] = china_time
vocabulary.install(templates.env)  # every page writes numbers, statuses and ratings the same way
templates.env.filters["actor"] = lambda name: ACTORS.get(str(name), str(name))

# The navigation, in order: address, label, and the capability (see `api.services.access`) it needs.
PAGES: tuple[tuple[str, str, str], ...] = (
    ("/staff", "待办队列", "conversation"),
    ("/staff/tickets", "工单", "ticket.read"),
    ("/staff/knowledge", "知识库", "knowledge.write"),
    ("/staff/admin", "系统管理", "users"),
    ("/staff/oversight", "服务监督", "oversight"),
    ("/staff/audit", "诉求日志审计", "log.search"),
)


def nav_for(login: sessions.ConsoleLogin | None) -> list[tuple[str, str]]:
    if login is None:
        return [("/staff/login", "工作人员登录")]
    return [(href, label) for href, label, capability in PAGES if access.may(login.principal, capability)]


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    login: sessions.ConsoleLogin | None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = get_settings()
    errors = context.get("errors") or {}
    ctx = {
        "nav": nav_for(login),
        "nav_label": "工作台页面",
        "path": request.url.path,
        "prefs": security.read_prefs(request),
        "csrf": sessions.csrf_token(settings, login.token_hash) if login else "",
        "login": login,
        "errors": errors,
        "role_labels": ROLE_LABELS,
        **context,
    }
    if errors and not str(ctx.get("title", "")).startswith("错误"):
        ctx["title"] = "错误：" + str(ctx.get("title", ""))
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    security.apply_security_headers(response)
    response.headers["Cache-Control"] = "no-store"
    return response


ROLE_LABELS = {"operator": "话务员", "supervisor": "值班主管", "auditor": "审计员", "admin": "系统管理员"}
