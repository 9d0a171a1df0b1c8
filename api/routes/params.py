"""Query-parameter types shared by the back-office routes: bounded, and safe for both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, get_args, get_origin

from fastapi import Query
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import AfterValidator
from starlette.requests import HTTPConnection

from api.clock import CHINA_TZ
from api.errors import MESSAGES, ApiError

NO_NUL = r"^[^\x00]*$"
MAX_INT = 2**31 - 1


def _utc(value: datetime | None) -> datetime | None:
    """Naive times are China time; everything is compared in UTC; absurd years are a 422, not a 500."""
    if value is None:
        return None
    if not 2000 <= value.year <= 2100:
        raise ValueError("year must be between 2000 and 2100")
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TZ)
    return value.astimezone(UTC)


Since = Annotated[
    datetime | None,
    AfterValidator(_utc),
    Query(
        description="From this time (inclusive); without a zone it is China time",
        examples=["2026-11-24T00:00:00+08:00"],
    ),
]
Until = Annotated[
    datetime | None,
    AfterValidator(_utc),
    Query(description="Up to this time (exclusive)", examples=["2026-11-25T00:00:00+08:00"]),
]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
Limit = Annotated[int, Query(ge=1, le=500)]
SessionId = Annotated[str | None, Query(max_length=128, pattern=NO_NUL, examples=["web-3f2a9c"])]
TicketNumberQuery = Annotated[str | None, Query(pattern=r"^\d{12}$", examples=["202611240007"])]


def strict_query(request: HTTPConnection) -> None:
    """The API refuses query parameters it does not know, or a single-valued one given twice (422).

    Ignoring them would let a misspelt filter (`?satus=办结`) silently return everything.
    Applied to `/api/` routes only: citizens' pages keep tolerating whatever a link adds.
    Typed as a connection, not a request, because app-wide dependencies also run for WebSockets.
    """
    route = request.scope.get("route")
    if not request.url.path.startswith("/api/") or not isinstance(route, APIRoute):
        return
    declared = _query_params(route.dependant)
    for name in request.query_params:
        if name not in declared:
            raise ApiError(422, "validation_error", MESSAGES["validation_error"] + f" (unknown: {name[:40]})")
        if len(request.query_params.getlist(name)) > 1 and not declared[name]:
            raise ApiError(422, "validation_error", MESSAGES["validation_error"] + f" ({name[:40]})")


def _query_params(dependant: Dependant) -> dict[str, bool]:
    """Query parameter names of a route and its dependencies: whether each may repeat (a list)."""
    found: dict[str, bool] = {}
    pending = [dependant]
    while pending:
        current = pending.pop()
        for field in current.query_params:
            annotation = field.field_info.annotation
            found[field.alias] = any(get_origin(a) in (list, tuple, set) for a in (annotation, *get_args(annotation)))
        pending.extend(current.dependencies)
    return found
