"""Application factory: one FastAPI app holding every channel and the back office."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accessibility import feedback, sms, web
from api import wording
from api.db import get_engine
from api.errors import install_error_handlers
from api.integrations import twilio
from api.knowledge import warm_up
from api.routes import audit as audit_routes
from api.routes import auth, chat, departments, exports, knowledge, on_duty, public, reports, tickets, users
from api.routes import grievance_log as grievance_log_routes
from api.routes.params import strict_query
from api.services import log_checkpoints
from api.services.masking import MaskingLogFilter
from api.services.rasa_client import RasaClient
from api.services.text_input import CleanInputMiddleware
from api.settings import get_settings
from hotline import health, worker
from staff_console import deps as console_deps
from staff_console import routes as console_routes
from voice import follow_up_call
from voice import routes as voice_routes


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = get_settings()
    # Generated now, once, rather than by whichever request needs them first.
    _ = settings.effective_secret_key, settings.effective_caller_salt, settings.effective_log_key
    app.state.rasa = RasaClient(
        settings.rasa_url, token=settings.effective_rasa_token, timeout=settings.rasa_timeout_seconds
    )
    # The knowledge base (index, jieba, gazetteer) loads in the background, so that the first citizen's
    # question is not the one that waits for it; the app answers meanwhile.
    warm = asyncio.get_running_loop().run_in_executor(None, warm_up)
    checkpoints = asyncio.create_task(
        log_checkpoints.keep_writing(get_engine(), every_seconds=settings.log_checkpoint_seconds)
    )
    # Each commit that writes an SMS or call to the outbox tells the task worker at once.
    stop_notifying = worker.install_notifier(worker.build_queue(settings))
    try:
        yield
    finally:
        stop_notifying()
        checkpoints.cancel()
        warm.cancel()
        await app.state.rasa.aclose()


def _refuse_unsafe_start() -> None:
    """Production never starts with its doors open; development only warns."""
    problems = twilio.startup_problems(get_settings())
    if problems:
        print("The hotline will not start:\n" + "\n".join(f"  {p}" for p in problems), file=sys.stderr)
        raise SystemExit(2)


def _refuse_unusable_wording() -> None:
    """A mistake in an office's wording files stops the start, not the first citizen who needs that text."""
    try:
        wording.current()
    except wording.WordingError as exc:
        print(f"The hotline will not start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _mask_process_logs() -> None:
    """A safety net: whatever reaches the process logs has its phone and ID numbers masked."""
    for name in ("", "uvicorn", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, MaskingLogFilter) for f in handler.filters):
                handler.addFilter(MaskingLogFilter())


class InstanceHeader:
    """Names the answering instance in `X-Hotline-Instance`, so that operators (and the scaled-out test)
    see which app process behind the balancer served a request. Pure ASGI: streams pass untouched."""

    def __init__(self, app: ASGIApp, instance_id: str) -> None:
        self.app = app
        self.header = (b"x-hotline-instance", instance_id.encode("ascii"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), self.header]}
            await send(message)

        await self.app(scope, receive, named)


def create_app() -> FastAPI:
    _refuse_unsafe_start()
    _refuse_unusable_wording()
    _mask_process_logs()
    app = FastAPI(
        title="残联服务热线 API / Disability-services hotline API",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(strict_query)],
    )
    install_error_handlers(app)
    app.add_middleware(CleanInputMiddleware, skip_paths=("/sms/", "/voice/"))
    if instance_id := get_settings().instance_id:
        app.add_middleware(InstanceHeader, instance_id=instance_id)
    app.include_router(chat.router)
    app.include_router(knowledge.router)
    app.include_router(on_duty.router)
    app.include_router(health.router)
    app.include_router(auth.router)
    app.include_router(tickets.router)
    app.include_router(public.router)
    app.include_router(grievance_log_routes.router)
    app.include_router(exports.router)
    app.include_router(users.router)
    app.include_router(departments.router)
    app.include_router(audit_routes.router)
    app.include_router(reports.router)
    app.include_router(web.router)
    app.include_router(voice_routes.router)
    app.include_router(follow_up_call.router)
    app.include_router(sms.router)
    app.include_router(feedback.router)
    app.include_router(console_routes.router)
    console_deps.install(app)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")
    app.mount("/staff/static", console_routes.static_files, name="staff-static")
    return app
