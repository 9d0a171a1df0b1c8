"""`GET /health`: each dependency as ok or the reason it is not; `GET /health/ready`: the balancer's check."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.db import get_engine
from api.services import flood_watch, outbox
from api.settings import get_settings

router = APIRouter(tags=["health"])


def _database() -> str | None:
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver error means "not ok", with its reason
        return f"{type(exc).__name__}: {str(exc)[:200]}"
    return None


async def _action_server(url: str) -> str | None:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            resp = await client.get(url + "/health")
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}"
    return None if resp.status_code == 200 else f"HTTP {resp.status_code}"


def _work_order_rate() -> str | None:
    try:
        with Session(get_engine()) as session:
            alerts = flood_watch.recent_alerts(session, within=timedelta(hours=1))
    except Exception:  # the database check above reports why
        return None
    return "abnormal work-order rate in the last hour (see the oversight page)" if alerts else None


def _outbox() -> str | None:
    try:
        with Session(get_engine()) as session:
            late = outbox.overdue_count(session)
    except Exception:  # the database check above reports why
        return None
    return f"{late} SMS/call(s) waiting more than 5 minutes: is the task worker running?" if late else None


def _speech_model() -> str | None:
    from voice.asr import unavailable_reason  # knows about downloads and load failures

    return unavailable_reason(get_settings().vosk_model_path)


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    settings = get_settings()
    problems = {
        # Off the event loop: the balancer asks every instance every 2 s, and a hung database must not stall it.
        "database": await run_in_threadpool(_database),
        "rasa": await request.app.state.rasa.health(),
        "action_server": await _action_server(settings.action_server_url),
        "speech_model": _speech_model(),
        "work_order_rate": await run_in_threadpool(_work_order_rate),
        "outbox": await run_in_threadpool(_outbox),
    }
    checks = {
        name: ({"status": "ok"} if why is None else {"status": "down", "reason": why}) for name, why in problems.items()
    }
    essential_ok = problems["database"] is None
    body = {"status": "ok" if all(p is None for p in problems.values()) else "degraded", "checks": checks}
    return JSONResponse(body, status_code=200 if essential_ok else 503)


@router.get("/health/ready")
async def ready() -> JSONResponse:
    """Whether this instance should take requests: what decides /health's status code (the database answers),
    without asking Rasa, the action server or the speech model. A load balancer asks every few seconds; a busy
    Rasa would make /health slow for every instance at once, and take them all out of the balancer together."""
    why = await run_in_threadpool(_database)
    if why is None:
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "down", "reason": why}, status_code=503)
