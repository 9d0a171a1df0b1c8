"""The audit trail of staff actions: added inside the action's own transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from api.db import begin_write
from api.models.staff import AuditEvent
from api.services.grievance_log import utcnow


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member, or the assistant's action server (role "service")."""

    username: str
    role: str
    user_id: int | None = None
    department_id: int | None = None
    client_ip: str = ""


SERVICE_ROLE = "service"
SERVICE_NAME = "service:assistant"


# The columns `values` fills (every column but the id).
FIELDS = ("at", "actor", "role", "action", "target_type", "target_id", "detail", "client_ip")


def values(
    *,
    actor: Principal | str,
    action: str,
    target_type: str = "",
    target_id: str = "",
    detail: dict[str, Any] | None = None,
    client_ip: str = "",
) -> dict[str, Any]:
    """An audit event's column values, stamped now (for callers that insert the row themselves)."""
    if isinstance(actor, Principal):
        name, role, ip = actor.username, actor.role, client_ip or actor.client_ip
    else:
        name, role, ip = actor, "", client_ip
    return {
        "at": utcnow(),
        "actor": name[:64],
        "role": role[:16],
        "action": action[:32],
        "target_type": target_type[:32],
        "target_id": str(target_id)[:64],
        "detail": detail,
        "client_ip": ip[:64],
    }


def record(
    session: Session,
    *,
    actor: Principal | str,
    action: str,
    target_type: str = "",
    target_id: str = "",
    detail: dict[str, Any] | None = None,
    client_ip: str = "",
) -> AuditEvent:
    """Add an audit event to the session; the caller's commit makes it durable with the action."""
    event = AuditEvent(
        **values(
            actor=actor, action=action, target_type=target_type, target_id=target_id, detail=detail, client_ip=client_ip
        )
    )
    session.add(event)
    return event


def record_now(session: Session, **kwargs: Any) -> None:
    """Write one audit event in a transaction of its own, after a read-only request (nothing pending)."""
    if session.in_transaction():
        session.rollback()
    begin_write(session)
    record(session, **kwargs)
    session.commit()


def search(
    session: Session,
    *,
    actor: str | None = None,
    action: str | None = None,
    target_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    offset: int = 0,
    limit: int = 100,
) -> list[AuditEvent]:
    query = select(AuditEvent)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if target_id:
        query = query.where(AuditEvent.target_id == target_id)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    return list(session.exec(query.order_by(col(AuditEvent.id).desc()).offset(offset).limit(limit)).all())


def record_log_search(session: Session, *, actor: Principal, results: int, **filters: Any) -> None:
    """Who looked into the grievance log, with what filters (API and console alike)."""
    record_now(
        session, actor=actor, action="log.search", target_type="grievance_log", detail={**filters, "results": results}
    )


def record_log_verify(
    session: Session, *, actor: Principal, ok: bool, records: int, first_broken_id: int | None
) -> None:
    detail = {"ok": ok, "records": records, "first_broken_id": first_broken_id}
    record_now(session, actor=actor, action="log.verify", target_type="grievance_log", detail=detail)
