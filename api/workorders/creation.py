"""Opening a work order (受理): its number, its deadline, its first event and its audit event, committed together.

This runs for every inbound request that becomes a work order (the chat gateway, the
voice line, the complaint form, the API), so the row is written with Core inserts
from a plan built once, not through an ORM flush (see bench/backoffice_bench.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic.fields import FieldInfo
from sqlalchemy import bindparam, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as core_select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlmodel import Session, select

from api.clock import china_today
from api.db import begin_write
from api.models.staff import AuditEvent
from api.models.ticket import Ticket, TicketCategory, TicketCreate, TicketEvent
from api.services import audit, flood_watch, sla
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.services.problems import problem
from api.workorders import numbering

SYSTEM_ACTOR = "system:gateway"


def _actor_name(actor: Principal | str | None) -> str:
    if actor is None:
        return SYSTEM_ACTOR
    return actor.username if isinstance(actor, Principal) else actor


def _idempotency_key(actor: Principal | str | None, key: str | None) -> str | None:
    return f"{_actor_name(actor)}:{key}"[:200] if key else None


def find_by_idempotency_key(session: Session, *, actor: Principal | str | None, key: str) -> Ticket | None:
    """The work order this caller already created with this Idempotency-Key, if any."""
    stored = _idempotency_key(actor, key)
    return session.exec(select(Ticket).where(Ticket.idempotency_key == stored)).first()


@dataclass(frozen=True)
class _CreatePlan:
    """What a creation needs that never changes: the ticket columns, their defaults, the INSERT statements."""

    columns: frozenset[str]
    defaults: dict[str, Any]  # columns whose model default is a plain value
    factories: tuple[tuple[str, FieldInfo], ...]  # columns whose model default is a factory
    insert_ticket: Any  # INSERT INTO ticket ... RETURNING id
    insert_event: Any  # INSERT INTO ticket_event (the "create" event), with :ticket_id
    insert_audit: Any  # INSERT INTO audit_event, with the :audit_* parameters
    insert_both: Any  # PostgreSQL: one statement, the ticket and its event (RETURNING the ticket's id)
    insert_all: Any  # PostgreSQL: the same plus the audit event


@lru_cache(maxsize=1)
def _create_plan() -> _CreatePlan:
    """Built on first use from the table, so columns added to the model are inserted without a change here."""
    configure_mappers()  # `_persistent` builds instances without the constructor, which would do this
    table = Ticket.__table__  # type: ignore[attr-defined]
    events = TicketEvent.__table__  # type: ignore[attr-defined]
    audits = AuditEvent.__table__  # type: ignore[attr-defined]
    columns = [c for c in table.columns if c.name != "id"]
    defaults: dict[str, Any] = {}
    factories: list[tuple[str, FieldInfo]] = []
    for column in columns:
        info = Ticket.model_fields[column.name]
        if info.default_factory is not None:
            factories.append((column.name, info))
        elif not info.is_required():
            defaults[column.name] = info.default
    insert_ticket = (
        insert(table).values({c.name: bindparam(c.name, type_=c.type) for c in columns}).returning(table.c.id)
    )
    event_values = {
        "at": bindparam("event_at", type_=events.c.at.type),
        "actor": bindparam("event_actor", type_=events.c.actor.type),
        "action": bindparam("event_action", type_=events.c.action.type),
        "to_status": bindparam("event_to_status", type_=events.c.to_status.type),
    }
    insert_event = insert(events).values(
        ticket_id=bindparam("ticket_id", type_=events.c.ticket_id.type), **event_values
    )
    created = insert_ticket.cte("created")
    insert_both = (
        insert(events)
        .from_select(["ticket_id", *event_values], core_select(created.c.id, *event_values.values()))
        .returning(events.c.ticket_id)
    )
    insert_audit = insert(audits).values({f: bindparam("audit_" + f, type_=audits.c[f].type) for f in audit.FIELDS})
    return _CreatePlan(
        columns=frozenset(c.name for c in columns),
        defaults=defaults,
        factories=tuple(factories),
        insert_ticket=insert_ticket,
        insert_event=insert_event,
        insert_audit=insert_audit,
        insert_both=insert_both,
        # An unreferenced data-modifying CTE still runs (PostgreSQL), in the same statement.
        insert_all=insert_both.add_cte(insert_audit.cte("audited")),
    )


def _ticket_row(plan: _CreatePlan, data: TicketCreate, fields: dict[str, Any]) -> dict[str, Any]:
    """Every column of the new row: the model defaults, then the (already validated) request, then `fields`."""
    row = dict(plan.defaults)
    for name, info in plan.factories:
        row[name] = info.get_default(call_default_factory=True)
    row.update((name, value) for name, value in data.__dict__.items() if name in plan.columns)
    row.update(fields)
    return row


def _insert_ticket(
    session: Session, plan: _CreatePlan, row: dict[str, Any], event: dict[str, Any], audited: dict[str, Any] | None
) -> int:
    """Insert the work order, its "create" event and the audit event if any; PostgreSQL in one statement.

    Returns the ticket's id. Nothing is committed: the caller's commit makes them durable together.
    """
    conn = session.connection()
    audit_params = {"audit_" + k: v for k, v in audited.items()} if audited is not None else {}
    if conn.dialect.name == "postgresql":
        statement = plan.insert_all if audited is not None else plan.insert_both
        return int(conn.execute(statement, {**row, **event, **audit_params}).scalar_one())
    ticket_id = int(conn.execute(plan.insert_ticket, row).scalar_one())
    conn.execute(plan.insert_event, {"ticket_id": ticket_id, **event})
    if audited is not None:
        conn.execute(plan.insert_audit, audit_params)
    return ticket_id


def _persistent(session: Session, row: dict[str, Any]) -> Ticket:
    """The inserted row as a clean, persistent `Ticket` of `session`, without a flush or a re-validation.

    Built the way the ORM builds a loaded row (no `__init__`, which re-runs every
    field through instrumented setattr), then registered in the session's identity
    map as if just loaded, so the caller gets what a flushed `Ticket` would be.
    """
    ticket: Ticket = sa_inspect(Ticket).class_manager.new_instance()
    ticket.__dict__.update(row)
    object.__setattr__(ticket, "__pydantic_fields_set__", set(row))
    make_transient_to_detached(ticket)
    session.add(ticket)
    return ticket


def create_ticket(
    session: Session,
    *,
    data: TicketCreate,
    actor: Principal | str | None = None,
    idempotency_key: str | None = None,
    policy: sla.SlaPolicy | None = None,
) -> Ticket:
    """Open a work order (受理) with its number and deadline; replays of an idempotency key return the first one.

    `data` was validated when the request was parsed, so its values go to the row as
    they are (see the module's docstring for why Core inserts, not an ORM flush).
    """
    policy = sla.policy_or_configured(policy)
    name = _actor_name(actor)
    key = _idempotency_key(actor, idempotency_key)
    begin_write(session)
    if idempotency_key:
        existing = find_by_idempotency_key(session, actor=actor, key=idempotency_key)
        if existing is not None:
            return existing
    now = utcnow()
    deadline, days = sla.deadline_for(data.kind, now, policy)
    plan = _create_plan()
    row = _ticket_row(
        plan,
        data,
        {
            "category": TicketCategory(data.category).value,
            "created_at": now,
            "updated_at": now,
            "created_by": name,
            "deadline": deadline,
            "sla_working_days": days,
            "idempotency_key": key,
        },
    )
    row["number"] = numbering.next_number(session, day=china_today(now))
    event = {"event_at": now, "event_actor": name, "event_action": "create", "event_to_status": row["status"]}
    audited = None
    if isinstance(actor, Principal):
        audited = audit.values(
            actor=actor,
            action="ticket.create",
            target_type="ticket",
            target_id=row["number"],
            detail={"kind": data.kind.value, "channel": data.channel},
        )
    try:
        row["id"] = _insert_ticket(session, plan, row, event, audited)
    except IntegrityError:
        session.rollback()
        if key is not None:  # a concurrent request with the same key won
            existing = session.exec(select(Ticket).where(Ticket.idempotency_key == key)).first()
            if existing is not None:
                return existing
        raise problem(409, "conflict") from None
    ticket = _persistent(session, row)
    session.commit()
    bind = session.get_bind()
    if isinstance(bind, Engine):
        flood_watch.opened(bind, number=ticket.number)
    return ticket
