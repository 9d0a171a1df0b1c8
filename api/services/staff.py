"""Staff accounts: argon2 passwords, short-lived JWTs, lockout, departments.

Tokens carry only the username; every request reloads the account, so disabling
a user or changing a role takes effect at once.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.db import begin_write
from api.models.staff import (
    Department,
    DepartmentCreate,
    DepartmentUpdate,
    StaffRole,
    StaffUser,
    StaffUserCreate,
    StaffUserUpdate,
    Token,
)
from api.services import audit
from api.services.audit import SERVICE_NAME, SERVICE_ROLE, Principal
from api.services.grievance_log import utcnow
from api.services.problems import problem
from api.settings import Settings

JWT_ALGORITHM = "HS256"


@lru_cache
def hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache
def _dummy_hash() -> str:
    """Verified against for unknown usernames, so a miss costs as long as a wrong password."""
    return hasher().hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return hasher().hash(password)


def get_user(session: Session, *, username: str) -> StaffUser | None:
    return session.exec(select(StaffUser).where(StaffUser.username == username.lower())).first()


def create_user(session: Session, *, data: StaffUserCreate, actor: Principal | str) -> StaffUser:
    begin_write(session)
    if data.department_id is not None:
        get_department(session, department_id=data.department_id, active_only=True)
    if get_user(session, username=data.username) is not None:
        raise problem(409, "username_taken")
    user = StaffUser(
        username=data.username,
        full_name=data.full_name,
        role=data.role,
        department_id=data.department_id,
        password_hash=hash_password(data.password),
        created_at=utcnow(),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise problem(409, "username_taken") from None
    audit.record(
        session,
        actor=actor,
        action="user.create",
        target_type="staff_user",
        target_id=user.username,
        detail={"role": data.role.value, "department_id": data.department_id},
    )
    session.commit()
    return user


def update_user(session: Session, *, username: str, data: StaffUserUpdate, actor: Principal) -> StaffUser:
    begin_write(session)
    user = get_user(session, username=username)
    if user is None:
        raise problem(404, "user_not_found")
    # null means "leave as is" for every column that cannot be empty; only the department can be cleared
    changes = {
        key: value
        for key, value in data.model_dump(exclude_unset=True, exclude={"password", "unlock"}).items()
        if value is not None or key == "department_id"
    }
    if changes.get("department_id") is not None:
        get_department(session, department_id=changes["department_id"], active_only=True)
    for key, value in changes.items():
        setattr(user, key, value)
    if data.password:
        user.password_hash = hash_password(data.password)
    if data.unlock or data.password:
        user.failed_logins = 0
        user.locked_until = None
    session.add(user)
    detail = {k: (v.value if isinstance(v, StaffRole) else v) for k, v in changes.items()}
    if data.password:
        detail["password"] = "changed"  # noqa: S105 - records that it changed, never the value
    if data.unlock:
        detail["unlock"] = True
    audit.record(
        session, actor=actor, action="user.update", target_type="staff_user", target_id=username, detail=detail
    )
    session.commit()
    return user


def list_users(session: Session, *, offset: int = 0, limit: int = 100) -> list[StaffUser]:
    return list(session.exec(select(StaffUser).order_by(col(StaffUser.id)).offset(offset).limit(limit)).all())


def authenticate(
    session: Session, *, username: str, password: str, settings: Settings, client_ip: str = ""
) -> StaffUser:
    """The account if the password is right and it is not locked; failures are counted and audited."""
    now = utcnow()
    begin_write(session)
    user = get_user(session, username=username[:64]) if username else None
    if user is None or not user.active:
        hasher().verify(password, _dummy_hash())
        audit.record(
            session, actor=username[:64] or "-", action="auth.failed", detail={"reason": "unknown"}, client_ip=client_ip
        )
        session.commit()
        raise problem(401, "bad_credentials")
    if user.locked_until is not None and user.locked_until > now:
        audit.record(session, actor=user.username, action="auth.locked", client_ip=client_ip)
        session.commit()
        raise problem(423, "account_locked", minutes=settings.login_lockout_minutes)
    if not hasher().verify(password, user.password_hash):
        user.failed_logins += 1
        locked = user.failed_logins >= settings.login_max_failures
        if locked:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
        session.add(user)
        audit.record(
            session, actor=user.username, action="auth.lockout" if locked else "auth.failed", client_ip=client_ip
        )
        session.commit()
        if locked:
            raise problem(423, "account_locked", minutes=settings.login_lockout_minutes)
        raise problem(401, "bad_credentials")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    audit.record(session, actor=Principal(user.username, user.role.value), action="auth.login", client_ip=client_ip)
    session.commit()
    return user


def issue_token(user: StaffUser, *, settings: Settings) -> Token:
    now = utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {"sub": user.username, "role": user.role.value, "iat": now, "exp": now + lifetime, "typ": "access"}
    return Token(
        access_token=jwt.encode(claims, settings.effective_secret_key, algorithm=JWT_ALGORITHM),
        expires_in=int(lifetime.total_seconds()),
        role=user.role,
    )


def principal_for_token(session: Session, *, token: str, settings: Settings, client_ip: str = "") -> Principal | None:
    """The caller behind a bearer token (staff JWT or the service token), or None."""
    service = settings.effective_service_token
    if service and hmac.compare_digest(token.encode(), service.encode()):
        return Principal(SERVICE_NAME, SERVICE_ROLE, client_ip=client_ip)
    try:
        claims = jwt.decode(
            token, settings.effective_secret_key, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError:
        return None
    if claims.get("typ") != "access" or not isinstance(claims.get("sub"), str):
        return None
    user = get_user(session, username=claims["sub"])
    if user is None or not user.active:
        return None
    return Principal(user.username, user.role.value, user.id, user.department_id, client_ip)


def ensure_admin(session: Session, *, username: str, password: str = "") -> tuple[StaffUser, str | None]:
    """Create the first administrator unless one exists; returns the generated password, if any."""
    begin_write(session)
    existing = session.exec(select(StaffUser).where(StaffUser.role == StaffRole.admin)).first()
    if existing is not None:
        return existing, None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    user = create_user(
        session,
        data=StaffUserCreate(username=username, full_name="管理员", role=StaffRole.admin, password=password),
        actor="cli:ensure-admin",
    )
    return user, generated


# --- departments ---------------------------------------------------------------------------------


def get_department(session: Session, *, department_id: int, active_only: bool = False) -> Department:
    dept = session.get(Department, department_id)
    if dept is None or (active_only and not dept.active):
        raise problem(422 if active_only else 404, "department_not_found")
    return dept


def list_departments(session: Session) -> list[Department]:
    return list(session.exec(select(Department).order_by(col(Department.id))).all())


def create_department(session: Session, *, data: DepartmentCreate, actor: Principal) -> Department:
    begin_write(session)
    clash = session.exec(
        select(Department).where((Department.code == data.code) | (Department.name == data.name))
    ).first()
    if clash is not None:
        raise problem(409, "department_exists")
    dept = Department(code=data.code, name=data.name)
    session.add(dept)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise problem(409, "department_exists") from None
    audit.record(session, actor=actor, action="department.create", target_type="department", target_id=data.code)
    session.commit()
    return dept


def update_department(session: Session, *, department_id: int, data: DepartmentUpdate, actor: Principal) -> Department:
    begin_write(session)
    dept = get_department(session, department_id=department_id)
    # null means "leave as is": neither column can be empty
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if changes.get("name") and changes["name"] != dept.name:
        clash = session.exec(select(Department).where(Department.name == changes["name"])).first()
        if clash is not None:
            raise problem(409, "department_exists")
    for key, value in changes.items():
        setattr(dept, key, value)
    session.add(dept)
    audit.record(
        session, actor=actor, action="department.update", target_type="department", target_id=dept.code, detail=changes
    )
    session.commit()
    return dept
