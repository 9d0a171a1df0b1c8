"""Staff accounts, departments and the audit trail of staff actions."""

from __future__ import annotations

import enum
import re
from datetime import datetime
from typing import Any

from pydantic import ConfigDict, field_validator
from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from api.models.common import CleanInput


class StaffRole(enum.StrEnum):
    operator = "operator"
    supervisor = "supervisor"
    auditor = "auditor"
    admin = "admin"


USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{2,31}$")
DEPARTMENT_CODE_PATTERN = r"^[a-z0-9][a-z0-9_\-]*$"


# --- departments ---------------------------------------------------------------------------------


class DepartmentBase(SQLModel):
    code: str = Field(max_length=32, unique=True, index=True, description="Short ASCII code, e.g. hd-dpf")
    name: str = Field(max_length=64, unique=True, description="e.g. 海淀区残联")
    active: bool = True
    categories: str = Field(default="", max_length=200, description="Work-order categories it handles, 、-separated")
    areas: str = Field(default="", max_length=500, description="Districts and streets it covers, 、-separated")


class Department(DepartmentBase, table=True):
    __tablename__ = "department"

    id: int | None = Field(default=None, primary_key=True)


class DepartmentCreate(CleanInput):
    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={"examples": [{"code": "hd-dpf", "name": "海淀区残联"}]}
    )

    code: str = Field(
        min_length=2,
        max_length=32,
        schema_extra={"pattern": DEPARTMENT_CODE_PATTERN},
        description="2-32 lowercase ASCII letters, digits, - and _; starts with a letter or digit",
    )
    name: str = Field(min_length=2, max_length=64)
    categories: str = Field(default="", max_length=200)
    areas: str = Field(default="", max_length=500)


class DepartmentUpdate(CleanInput):
    name: str | None = Field(default=None, min_length=2, max_length=64)
    active: bool | None = None
    categories: str | None = Field(default=None, max_length=200)
    areas: str | None = Field(default=None, max_length=500)


class DepartmentPublic(DepartmentBase):
    id: int


# --- staff users ---------------------------------------------------------------------------------


class StaffUserBase(SQLModel):
    username: str = Field(max_length=32, unique=True, index=True)
    full_name: str = Field(default="", max_length=64)
    role: StaffRole = Field(default=StaffRole.operator, max_length=16)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    active: bool = True
    # On the duty roster: counted as a person who can take a conversation or a transferred call.
    on_duty: bool = False


class StaffUser(StaffUserBase, table=True):
    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = Field(max_length=255)
    failed_logins: int = 0
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime
    # Bumped when the password changes: tokens carry it, so every token issued before is refused.
    token_version: int = Field(default=0)
    # Failed logins before this moment no longer count (a good login, an unlock, a new password).
    failures_reset_at: datetime | None = None


class StaffUserCreate(CleanInput):
    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={
            "examples": [
                {"username": "li.na", "full_name": "李娜", "role": "operator", "password": "长期有效的口令2026"}
            ]
        }
    )

    username: str = Field(min_length=3, max_length=32)
    full_name: str = Field(default="", max_length=64)
    role: StaffRole = StaffRole.operator
    department_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    password: str = Field(min_length=10, max_length=128)

    @field_validator("username", mode="after")
    @classmethod
    def _username(cls, value: str) -> str:
        value = value.lower()
        if not USERNAME_RE.fullmatch(value):
            raise ValueError("3-32 characters: lowercase letters, digits, . _ -")
        return value


class StaffUserUpdate(CleanInput):
    full_name: str | None = Field(default=None, max_length=64)
    role: StaffRole | None = None
    department_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    active: bool | None = None
    on_duty: bool | None = None
    password: str | None = Field(default=None, min_length=10, max_length=128)
    unlock: bool = Field(default=False, description="Clear a login lockout")


class StaffUserPublic(StaffUserBase):
    id: int
    locked_until: datetime | None = None
    last_login_at: datetime | None = None
    created_at: datetime


class Token(SQLModel):
    model_config = ConfigDict(  # type: ignore[assignment]
        json_schema_extra={
            "examples": [
                {"access_token": "eyJhbGciOi…", "token_type": "bearer", "expires_in": 1800, "role": "operator"}
            ]
        }
    )

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    role: StaffRole


# --- audit trail ---------------------------------------------------------------------------------


class AuditEventBase(SQLModel):
    actor: str = Field(max_length=64, index=True)
    role: str = Field(default="", max_length=16)
    action: str = Field(max_length=32, index=True)
    target_type: str = Field(default="", max_length=32)
    target_id: str = Field(default="", max_length=64, index=True)
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    client_ip: str = Field(default="", max_length=64, index=True)


class AuditEvent(AuditEventBase, table=True):
    """One staff action (login, create, move, note, edit, export, search): who did what, when."""

    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(index=True)


class AuditEventPublic(AuditEventBase):
    id: int
    at: datetime
