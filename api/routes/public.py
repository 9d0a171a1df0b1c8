"""`/api/public/tickets/{number}`: citizens check their work order with the phone's last four digits.

The same 404 answers "no such number" and "wrong digits", so the endpoint cannot
be used to discover numbers; lookups are rate-limited per client address.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request

from api.deps import SessionDep, SettingsDep, client_ip
from api.models.ticket import TicketCitizenView
from api.services import tickets
from api.services.problems import problem
from api.services.ratelimit import SlidingWindowLimiter

router = APIRouter(prefix="/api/public", tags=["public"])


def _limiter(request: Request, per_minute: int) -> SlidingWindowLimiter:
    limiter: SlidingWindowLimiter | None = getattr(request.app.state, "public_lookup_limiter", None)
    if limiter is None or limiter.limit != per_minute:
        limiter = SlidingWindowLimiter(per_minute, 60.0)
        request.app.state.public_lookup_limiter = limiter
    return limiter


@router.get(
    "/tickets/{number}",
    response_model=TicketCitizenView,
    responses={
        404: {"description": "No work order with this number and these digits"},
        422: {"description": "Number must be 12 digits, phone_last4 4 digits"},
        429: {"description": "Too many lookups from this address; see Retry-After"},
    },
)
def lookup(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    number: Annotated[str, Path(pattern=r"^\d{12}$", examples=["202611240007"])],
    phone_last4: Annotated[str, Query(pattern=r"^\d{4}$", examples=["8000"])],
) -> TicketCitizenView:
    """Status, dates and the public reply; nothing about the caller or the internal handling."""
    wait = _limiter(request, settings.public_lookup_per_minute).hit(client_ip(request) or "unknown")
    if wait > 0:
        # HTTPException carries Retry-After; the shared handler gives the standard 429 body.
        raise HTTPException(status_code=429, headers={"Retry-After": str(max(1, math.ceil(wait)))})
    ticket = tickets.public_lookup(session, number=number, phone_last4=phone_last4)
    if ticket is None:
        raise problem(404, "public_not_found")
    return tickets.to_citizen(ticket)
