"""Staff accounts: argon2 passwords, short-lived JWTs, lockout and throttling, departments.

Tokens carry the username and the account's token version; every request reloads the
account, so disabling a user or changing a role takes effect at once, and a new
password (which bumps the version) ends every token and console login issued before.

Failed logins are counted from the audit trail, so every app process sees them:
- per account and address: `login_max_failures` wrong passwords for one account from
  one address lock that account for that address (423) for `login_lockout_minutes`;
- per address: `ADDRESS_FAILURE_FACTOR` times as many failures from one address, on any
  accounts, throttle the address (429) without even checking the password;
- per account: `ACCOUNT_FAILURE_FACTOR` times as many failures from any addresses lock
  the account everywhere (a guess spread over many addresses).
So someone hammering `admin` from one address throttles only that address, and the
real administrator elsewhere still logs in; only a guess spread over several addresses
locks the account itself.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from pwdlib import PasswordHash
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from api.db import begin_write
from api.models.console import StaffSession
from api.models.staff import (
    AuditEvent,
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
ADDRESS_FAILURE_FACTOR = 4
ACCOUNT_FAILURE_FACTOR = 3
# Audit actions that count as a failed login (a refused attempt while locked or throttled does not).
FAILURES = ("auth.failed", "auth.lockout")


@lru_cache
def hasher() -> PasswordHash:
    return PasswordHash.recommended()


@lru_cache
def _dummy_hash() -> str:
    """Verified against for unknown usernames, so a miss costs as long as a wrong password."""
    return hasher().hash(secrets.token_urlsafe(16))


def aware(moment: datetime | None) -> datetime | None:
    """A stored time as aware UTC (SQLite may hand back naive datetimes)."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


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


def _active_admin_ids(session: Session) -> list[int]:
    """Ids of the active administrators, their rows locked (PostgreSQL) in id order, so that two
    administrators demoting each other at once wait for each other instead of both succeeding."""
    query = (
        select(StaffUser.id)
        .where(StaffUser.role == StaffRole.admin, col(StaffUser.active).is_(True))
        .order_by(col(StaffUser.id))
        .with_for_update()
    )
    return [i for i in session.exec(query).all() if i is not None]


def update_user(session: Session, *, username: str, data: StaffUserUpdate, actor: Principal) -> StaffUser:
    """Apply an administrator's change; the last active administrator can be neither demoted nor disabled (409)."""
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
    if changes.get("role", StaffRole.admin) != StaffRole.admin or changes.get("active") is False:
        admins = _active_admin_ids(session)
        if user.id in admins and len(admins) == 1:
            session.rollback()
            raise problem(409, "last_admin")
    now = utcnow()
    for key, value in changes.items():
        setattr(user, key, value)
    if data.password:
        user.password_hash = hash_password(data.password)
        user.token_version += 1
        _end_console_logins(session, username=user.username, now=now)
    if data.unlock or data.password:
        user.failed_logins = 0
        user.locked_until = None
        user.failures_reset_at = now
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


def _end_console_logins(session: Session, *, username: str, now: datetime) -> None:
    """End the account's open console logins (their cookies stop working at once)."""
    open_logins = select(StaffSession).where(StaffSession.username == username, col(StaffSession.ended_at).is_(None))
    for row in session.exec(open_logins).all():
        row.ended_at = now
        session.add(row)


def _failures(session: Session, *, since: datetime, username: str | None = None, address: str | None = None) -> int:
    """Failed logins recorded since `since`, for this account and/or from this address."""
    query = select(func.count()).select_from(AuditEvent).where(col(AuditEvent.action).in_(FAILURES))
    query = query.where(AuditEvent.at > since)
    if username is not None:
        query = query.where(AuditEvent.actor == username)
    if address is not None:
        query = query.where(AuditEvent.client_ip == address)
    return int(session.exec(query).one())


def authenticate(
    session: Session, *, username: str, password: str, settings: Settings, client_ip: str = ""
) -> StaffUser:
    """The account if the password is right and neither it nor the address is locked; failures are audited.

    See the module's docstring for the three limits (account and address, address, account).
    """
    now = utcnow()
    window = timedelta(minutes=settings.login_lockout_minutes)
    address = client_ip[:64]
    name = username[:64] or "-"
    begin_write(session)
    if _failures(session, since=now - window, address=address) >= settings.login_max_failures * ADDRESS_FAILURE_FACTOR:
        audit.record(session, actor=name, action="auth.throttled", client_ip=address)
        session.commit()
        raise problem(429, "login_throttled", minutes=settings.login_lockout_minutes)
    user = get_user(session, username=username[:64]) if username else None
    if user is None or not user.active:
        hasher().verify(password, _dummy_hash())
        audit.record(session, actor=name, action="auth.failed", detail={"reason": "unknown"}, client_ip=address)
        session.commit()
        raise problem(401, "bad_credentials")
    reset = aware(user.failures_reset_at)
    since = max(now - window, reset) if reset is not None else now - window
    locked_here = _failures(session, since=since, username=user.username, address=address)
    locked_until = aware(user.locked_until)
    if (locked_until is not None and locked_until > now) or locked_here >= settings.login_max_failures:
        audit.record(session, actor=user.username, action="auth.locked", client_ip=address)
        session.commit()
        raise problem(423, "account_locked", minutes=settings.login_lockout_minutes)
    if not hasher().verify(password, user.password_hash):
        everywhere = _failures(session, since=since, username=user.username) + 1
        locked = locked_here + 1 >= settings.login_max_failures
        if everywhere >= settings.login_max_failures * ACCOUNT_FAILURE_FACTOR:
            locked = True
            user.locked_until = now + window
            user.failures_reset_at = now
            everywhere = 0
        user.failed_logins = everywhere
        session.add(user)
        action = "auth.lockout" if locked else "auth.failed"
        audit.record(session, actor=user.username, action=action, client_ip=address)
        session.commit()
        if locked:
            raise problem(423, "account_locked", minutes=settings.login_lockout_minutes)
        raise problem(401, "bad_credentials")
    user.failed_logins = 0
    user.locked_until = None
    user.failures_reset_at = now
    user.last_login_at = now
    session.add(user)
    audit.record(session, actor=Principal(user.username, user.role.value), action="auth.login", client_ip=client_ip)
    session.commit()
    return user


def issue_token(user: StaffUser, *, settings: Settings) -> Token:
    now = utcnow()
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": user.username,
        "role": user.role.value,
        "ver": user.token_version,
        "iat": now,
        "exp": now + lifetime,
        "typ": "access",
    }
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
    if user is None or not user.active or claims.get("ver", 0) != user.token_version:
        return None  # unknown, disabled, or issued before the password last changed
    return Principal(user.username, user.role.value, user.id, user.department_id, client_ip)


@dataclass(frozen=True)
class AdminEnsured:
    user: StaffUser
    created: bool = False
    generated_password: str | None = None  # a new account without a configured password: shown once
    restored: bool = False  # the account existed but was no longer an active administrator
    password_set: bool = False  # restored with the configured password


def ensure_admin(session: Session, *, username: str, password: str = "") -> AdminEnsured:
    """Make sure an active administrator exists.

    - One exists: nothing changes.
    - None, and no account `username`: it is created (with `password`, or a generated one).
    - None, and `username` exists (demoted or disabled, e.g. in the database by hand): it is
      made an active administrator again and unlocked; its password is set to `password` if
      one is configured, else kept. Audited as `user.restore_admin`.
    """
    begin_write(session)
    existing = session.exec(
        select(StaffUser).where(StaffUser.role == StaffRole.admin, col(StaffUser.active).is_(True))
    ).first()
    if existing is not None:
        return AdminEnsured(existing)
    user = get_user(session, username=username)
    if user is not None:
        before = {"role": user.role.value, "active": user.active}
        now = utcnow()
        user.role = StaffRole.admin
        user.active = True
        user.locked_until = None
        user.failed_logins = 0
        user.failures_reset_at = now
        if password:
            user.password_hash = hash_password(password)
            user.token_version += 1
            _end_console_logins(session, username=user.username, now=now)
        session.add(user)
        audit.record(
            session,
            actor="cli:ensure-admin",
            action="user.restore_admin",
            target_type="staff_user",
            target_id=user.username,
            detail={"before": before, "password": "set" if password else "kept"},
        )
        session.commit()
        return AdminEnsured(user, restored=True, password_set=bool(password))
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    user = create_user(
        session,
        data=StaffUserCreate(username=username, full_name="管理员", role=StaffRole.admin, password=password),
        actor="cli:ensure-admin",
    )
    return AdminEnsured(user, created=True, generated_password=generated)


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
    dept = Department(code=data.code, name=data.name, categories=data.categories, areas=data.areas)
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
