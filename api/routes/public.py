"""`/api/public/tickets/{number}`: citizens check their work order with the phone's last four digits.

The same 404 answers "no such number" and "wrong digits", so the endpoint cannot
be used to discover numbers; lookups are rate-limited per citizen: per conversation
when the assistant asks on a citizen's behalf (it names the conversation in
`X-Hotline-Citizen` with its service token), else per client address, so that one
caller's wrong guesses never lock out another caller on any channel.
"""

from __future__ import annotations

import hmac
import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request

from api.deps import SessionDep, SettingsDep
from api.models.ticket import TicketCitizenView
from api.services.admission import limiter_for
from api.services.problems import problem
from api.services.ratelimit import client_address
from api.settings import Settings
from api.workorders import queries

router = APIRouter(prefix="/api/public", tags=["public"])


CITIZEN_HEADER = "X-Hotline-Citizen"


def _citizen_key(request: Request, settings: Settings) -> str:
    """Who is asking: the conversation the assistant names (only with its token), else the client address."""
    citizen = request.headers.get(CITIZEN_HEADER, "")[:128]
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.startswith("Bearer ") else ""
    service = settings.effective_service_token
    if citizen and token and hmac.compare_digest(token.encode(), service.encode()):
        return "citizen:" + citizen
    return "addr:" + client_address(request, settings.trusted_proxy_set)[0]


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
    limiter = limiter_for(request, "public_lookup", settings.public_lookup_per_minute, 60.0)
    wait = limiter.hit(_citizen_key(request, settings))
    if wait > 0:
        # HTTPException carries Retry-After; the shared handler gives the standard 429 body.
        raise HTTPException(status_code=429, headers={"Retry-After": str(max(1, math.ceil(wait)))})
    ticket = queries.public_lookup(session, number=number, phone_last4=phone_last4)
    if ticket is None:
        raise problem(404, "public_not_found")
    return queries.to_citizen(ticket)
