"""Dependency aliases shared by the routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.db import get_session
from api.services import access
from api.services import staff as staff_service
from api.services.audit import Principal
from api.services.rasa_client import RasaClient
from api.services.ratelimit import client_address
from api.settings import Settings, get_settings


def get_rasa(request: Request) -> RasaClient:
    client: RasaClient = request.app.state.rasa
    return client


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RasaDep = Annotated[RasaClient, Depends(get_rasa)]


# --- staff authentication ------------------------------------------------------------------------

oauth2_scheme = OAuth2PasswordBearer(
    tokenUrl="/api/auth/token",
    auto_error=False,
    description="Staff: a token from POST /api/auth/token. The assistant's action server: the service token.",
)


def client_ip(request: Request) -> str:
    """The caller's address (behind a trusted proxy, the address the proxy saw)."""
    return client_address(request, get_settings().trusted_proxy_set)[0]


def get_current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> Principal:
    """The caller behind the bearer token; 401 when there is none or it is invalid or expired."""
    principal = (
        staff_service.principal_for_token(session, token=token, settings=settings, client_ip=client_ip(request))
        if token
        else None
    )
    # End the read transaction: the route's writers begin their own (SQLite: BEGIN IMMEDIATE).
    session.rollback()
    if principal is None:
        raise HTTPException(status_code=401, headers={"WWW-Authenticate": "Bearer"})
    return principal


CurrentUser = Annotated[Principal, Depends(get_current_user)]


def require(capability: str) -> Callable[[Principal], Principal]:
    """A dependency that lets through only callers `access` gives this capability (403 names the roles)."""

    def _check(user: CurrentUser) -> Principal:
        return access.require(user, capability)

    return _check
