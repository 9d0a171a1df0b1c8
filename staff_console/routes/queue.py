"""The live queue: handed-off conversations, new work orders and deadline warnings, pushed by server-sent events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from api.db import new_session
from api.models.ticket import Ticket, TicketKind, TicketPriority, TicketStatus
from api.services import deadline_watch, handoff
from api.services.grievance_log import utcnow
from api.settings import get_settings
from api.workorders import queries
from staff_console import sessions
from staff_console.deps import page
from staff_console.ui import render, templates
from staff_console.views import CHANNELS, time_left

router = APIRouter(prefix="/staff")
QueueLogin = Annotated[sessions.ConsoleLogin, Depends(page("conversation"))]
NEW_STATUSES = (TicketStatus.received, TicketStatus.reopened)
HEARTBEAT_SECONDS = 15.0


def snapshot(session: Session, login: sessions.ConsoleLogin) -> dict[str, Any]:
    """What the queue shows now; `keys` lets the live view tell what is new."""
    now = utcnow()
    conversations = handoff.queue(session, now=now)
    rows = session.exec(
        select(Ticket)
        .where(col(Ticket.status).in_(NEW_STATUSES))
        .order_by(
            (Ticket.kind == TicketKind.emergency).desc(),  # type: ignore[attr-defined]
            (Ticket.priority == TicketPriority.urgent).desc(),  # type: ignore[attr-defined]
            col(Ticket.deadline),
        )
        .limit(100)
    ).all()
    session.rollback()
    orders: list[dict[str, Any]] = [
        {"view": queries.to_public(t, principal=login.principal, now=now), "left": time_left(t.deadline, now)}
        for t in rows
    ]
    warnings = deadline_watch.active(session, login.principal)
    return {
        "conversations": conversations,
        "orders": orders,
        "warnings": [{"alert": w, "left": time_left(w.deadline, now)} for w in warnings],
        "now": now,
        "channels": CHANNELS,
        "keys": [c.key for c in conversations]
        + [f"t{o['view'].number}:{o['view'].version}" for o in orders]
        + [w.key for w in warnings],
    }


def _announcement(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[str, str]:
    """(polite news, urgent alert) for what arrived since the last push."""
    if old is None:
        return "", ""
    seen = {c.session_id for c in old["conversations"]}
    seen_orders = {o["view"].number for o in old["orders"]}
    fresh = [c for c in new["conversations"] if c.session_id not in seen]
    fresh_orders = [o["view"] for o in new["orders"] if o["view"].number not in seen_orders]
    urgent = [c for c in fresh if c.emergency] + [o for o in fresh_orders if o.kind == TicketKind.emergency]
    news = []
    if fresh:
        news.append(f"新的转人工对话{len(fresh)}个")
    if fresh_orders:
        news.append(f"新工单{len(fresh_orders)}个")
    alert = f"紧急：有{len(urgent)}个紧急求助，请立即处理。" if urgent else ""
    return ("，".join(news) + "。" if news else ""), alert


@router.get("")
def queue_page(request: Request, login: QueueLogin) -> Response:
    with new_session() as session:
        snap = snapshot(session, login)
    return render(request, "staff/queue.html", {"title": "待办队列 - 工作台", **snap}, login=login)


@router.get("/queue/events")
async def queue_events(request: Request, login: QueueLogin) -> StreamingResponse:
    """Server-sent events: the rendered lists whenever they change, and a heartbeat comment."""
    settings = get_settings()
    token = request.cookies.get(sessions.COOKIE, "")

    def _read() -> tuple[bool, dict[str, Any]]:
        with new_session() as session:
            alive = sessions.resolve(session, token=token, settings=settings, touch=False) is not None
            return alive, snapshot(session, login)

    async def stream() -> AsyncIterator[str]:
        previous: dict[str, Any] | None = None
        quiet = 0.0
        yield "retry: 5000\n\n"
        while not await request.is_disconnected():
            alive, snap = await run_in_threadpool(_read)
            if not alive:
                yield "event: expired\ndata: {}\n\n"
                return
            if previous is None or snap["keys"] != previous["keys"]:
                news, alert = _announcement(previous, snap)
                html = templates.get_template("staff/_queue_lists.html").render(**snap)
                payload = json.dumps({"html": html, "news": news, "alert": alert}, ensure_ascii=False)
                yield f"event: queue\ndata: {payload}\n\n"
                previous, quiet = snap, 0.0
            elif quiet >= HEARTBEAT_SECONDS:
                yield ": still here\n\n"
                quiet = 0.0
            await asyncio.sleep(settings.console_poll_seconds)
            quiet += settings.console_poll_seconds

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)
