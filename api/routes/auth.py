"""`/api/auth`: staff log in with the OAuth2 password form and get a short-lived bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep, SettingsDep, client_ip
from api.models.staff import Token
from api.services import staff
from api.services.problems import problem

router = APIRouter(prefix="/api/auth", tags=["auth"])


class Me(BaseModel):
    username: str
    role: str
    department_id: int | None = None


@router.post(
    "/token",
    response_model=Token,
    responses={401: {"description": "Wrong username or password"}, 423: {"description": "Locked after failures"}},
)
def login(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Token:
    """Exchange username and password for a bearer token valid `HOTLINE_ACCESS_TOKEN_MINUTES` minutes."""
    if len(form.username) > 64 or len(form.password) > 256 or "\x00" in form.username + form.password:
        raise problem(401, "bad_credentials")
    user = staff.authenticate(
        session, username=form.username, password=form.password, settings=settings, client_ip=client_ip(request)
    )
    return staff.issue_token(user, settings=settings)


@router.get("/me", response_model=Me, responses={401: {"description": "Not logged in"}})
def me(user: CurrentUser) -> Me:
    """Who the token belongs to (the staff console shows it)."""
    return Me(username=user.username, role=user.role, department_id=user.department_id)
