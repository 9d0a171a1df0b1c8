"""One router per part of the console; `router` bundles them for the app."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from staff_console.routes import admin, audit, auth, conversations, knowledge, oversight, queue, tickets
from staff_console.ui import HERE

router = APIRouter(include_in_schema=False)
for part in (auth, queue, conversations, tickets, knowledge, admin, oversight, audit):
    router.include_router(part.router)

static_files = StaticFiles(directory=HERE / "static")
