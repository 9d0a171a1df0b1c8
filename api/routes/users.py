"""`/api/users`: staff accounts, managed by administrators."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from api.deps import SessionDep, require
from api.models.staff import StaffUserCreate, StaffUserPublic, StaffUserUpdate
from api.routes.params import Limit, Offset
from api.services import staff
from api.services.audit import Principal

router = APIRouter(prefix="/api/users", tags=["staff"])

Admin = Annotated[Principal, Depends(require("users"))]
Username = Annotated[str, Path(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")]


@router.get("", response_model=list[StaffUserPublic])
def list_users(session: SessionDep, _admin: Admin, offset: Offset = 0, limit: Limit = 100) -> list[StaffUserPublic]:
    return [StaffUserPublic.model_validate(u) for u in staff.list_users(session, offset=offset, limit=limit)]


@router.post("", response_model=StaffUserPublic, status_code=201, responses={409: {"description": "Username taken"}})
def create_user(data: StaffUserCreate, session: SessionDep, admin: Admin) -> StaffUserPublic:
    """Create a staff account (the password is stored as an argon2 hash only)."""
    return StaffUserPublic.model_validate(staff.create_user(session, data=data, actor=admin))


@router.patch(
    "/{username}",
    response_model=StaffUserPublic,
    responses={
        404: {"description": "No such account"},
        409: {"description": "The last active administrator cannot be demoted or disabled"},
    },
)
def update_user(username: Username, data: StaffUserUpdate, session: SessionDep, admin: Admin) -> StaffUserPublic:
    """Change role, department, name, password; disable an account or lift a lockout.

    A new password ends the account's existing tokens and console logins. The last active
    administrator can be neither demoted nor disabled (409): make another one first.
    """
    return StaffUserPublic.model_validate(staff.update_user(session, username=username, data=data, actor=admin))
