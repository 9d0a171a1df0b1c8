"""Work orders: creation and numbering, the lifecycle moves, edits, notes, queries, citizen lookup.

Numbers are `YYYYMMDD` (China date) + a 4-digit daily sequence taken with one
atomic upsert on the day's row (see `next_number`): unique under any concurrency,
with possible gaps (a number whose work order is then not committed is not reused).
A ticket, its first event and its audit event are committed together.
"""

from __future__ import annotations

import hmac
import threading
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from pydantic.fields import FieldInfo
from sqlalchemy import bindparam, create_engine, event, func, insert
from sqlalchemy import inspect as sa_inspect
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import configure_mappers, make_transient_to_detached
from sqlmodel import Session, col, select

from api.clock import china_today
from api.db import begin_write
from api.models.staff import AuditEvent, StaffUser
from api.models.ticket import (
    OPEN_STATUSES,
    STATUS_LABELS,
    Satisfaction,
    Ticket,
    TicketCategory,
    TicketCitizenView,
    TicketCreate,
    TicketCreated,
    TicketDaySequence,
    TicketEvent,
    TicketKind,
    TicketNote,
    TicketNoteCreate,
    TicketPriority,
    TicketPublic,
    TicketStatus,
    TicketUpdate,
    TransitionAction,
    TransitionCreate,
)
from api.services import access, audit, flood_watch, lifecycle, masking, sla
from api.services.audit import Principal
from api.services.grievance_log import utcnow
from api.services.problems import problem
from api.services.staff import get_department

SYSTEM_ACTOR = "system:gateway"


@lru_cache(maxsize=2)
def _sequence_upsert(dialect: str) -> Any:
    """The day's counter +1 (or 1 for a new day), returning the new value; `:day` is bound per call."""
    table = TicketDaySequence.__table__  # type: ignore[attr-defined]
    upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        upsert(table)
        .values(day=bindparam("day", type_=table.c.day.type), last=1)
        .on_conflict_do_update(index_elements=["day"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )


_allocators: weakref.WeakKeyDictionary[Engine, Engine] = weakref.WeakKeyDictionary()
_allocators_lock = threading.Lock()


def _allocator(engine: Engine) -> Engine:
    """A small autocommit engine beside `engine` (same database) whose sessions commit asynchronously.

    A pool of its own, so that a creator holding a connection of the main pool never
    waits for a second one from the same pool (which could deadlock a full pool).
    """
    with _allocators_lock:
        side = _allocators.get(engine)
        if side is None:
            side = create_engine(
                engine.url,
                isolation_level="AUTOCOMMIT",
                pool_size=4,
                max_overflow=0,
                connect_args={"options": "-c synchronous_commit=off"},  # this side engine's sessions only
            )
            event.listen(engine, "engine_disposed", lambda _engine, side=side: side.dispose())
            _allocators[engine] = side
        return side


# Driver-level SQL on a raw pooled connection: this runs once per work order, and SQLAlchemy's
# statement and Connection layers cost more CPU than the round trip itself.
_PG_ALLOCATE = (
    "INSERT INTO ticket_day_sequence (day, last) VALUES (%s, 1) "
    "ON CONFLICT (day) DO UPDATE SET last = ticket_day_sequence.last + 1 RETURNING last"
)


def _allocate_on_side(side: Engine, day: date, *, retry: bool = True) -> int:
    """Run the upsert on the side pool; a connection the server dropped is discarded and the upsert retried once.

    No pre-ping (a round trip per number): a dead connection fails once instead.
    Driver errors are raised as SQLAlchemy's `DBAPIError` family, as `Connection.execute` would.
    """
    dialect = side.dialect
    conn = side.raw_connection()
    cursor = None
    try:
        cursor = conn.cursor()
        cursor.execute(_PG_ALLOCATE, (day,))
        row = cursor.fetchone()
        cursor.close()
        assert row is not None  # an upsert's RETURNING always yields the row
        return int(row[0])
    except dialect.loaded_dbapi.Error as exc:
        dropped = dialect.is_disconnect(exc, conn.dbapi_connection, cursor)
        if dropped:
            conn.invalidate(exc)
        if not (dropped and retry):
            raise DBAPIError.instance(
                _PG_ALLOCATE, (day,), exc, dialect.loaded_dbapi.Error, connection_invalidated=dropped, dialect=dialect
            ) from exc
    finally:
        conn.close()
    return _allocate_on_side(side, day, retry=False)


def _allocate(session: Session, day: date) -> int:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql" and isinstance(bind, Engine):
        return _allocate_on_side(_allocator(bind), day)
    begin_write(session)  # SQLite: the write lock is the file's, so allocate inside the caller's transaction
    return int(session.execute(_sequence_upsert(bind.dialect.name), {"day": day}).scalar_one())


def next_number(session: Session, *, day: date) -> str:
    """Reserve the next number of `day`; unique, possibly with gaps.

    PostgreSQL: the number is taken in its own autocommit statement (an upsert on
    the day's row) on a side connection with `synchronous_commit = off`, so the
    day's row is locked for microseconds instead of across the work order's WAL
    flush, and creators no longer queue behind each other's commits. This is safe
    because WAL is flushed in order: the work order's own synchronous commit
    flushes the WAL up to and past the allocation record, so once a work order
    with number N is durable, the counter's advance to N is durable too. If the
    server crashes first, the lost advance can only belong to numbers whose work
    orders were not durably committed either, so a reissued number never collides
    with a committed one (and the unique constraint on `number` stays the last
    guard). A rollback after the allocation leaves a gap, which is allowed.

    SQLite: the whole database has one write lock, taken by the caller's BEGIN
    IMMEDIATE anyway, so the number is taken inside the caller's transaction.
    """
    last = _allocate(session, day)
    if last > 9999:
        session.rollback()
        raise problem(503, "numbers_exhausted")
    return f"{day:%Y%m%d}{last:04d}"


def _policy(policy: sla.SlaPolicy | None) -> sla.SlaPolicy:
    if policy is not None:
        return policy
    from api.settings import get_settings

    return sla.load_policy(get_settings().sla_policy_file)


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

    `data` was validated when the request was parsed, so its values go to the row
    as they are, written with Core inserts instead of an ORM flush (this runs for
    every inbound request that becomes a work order; see bench/backoffice_bench.py).
    """
    policy = _policy(policy)
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
    row["number"] = next_number(session, day=china_today(now))
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


def get_ticket(session: Session, *, number: str, for_update: bool = False) -> Ticket:
    query = select(Ticket).where(Ticket.number == number)
    if for_update:
        query = query.with_for_update()
    ticket = session.exec(query).first()
    if ticket is None:
        raise problem(404, "ticket_not_found")
    return ticket


def _check_version(ticket: Ticket, given: int | None) -> None:
    if given is not None and given != ticket.version:
        raise problem(409, "stale_version", current=ticket.version, given=given)


def _check_assignee(session: Session, username: str | None) -> None:
    if not username:
        return
    user = session.exec(select(StaffUser).where(StaffUser.username == username.lower())).first()
    if user is None or not user.active:
        raise problem(422, "assignee_not_found")


def update_ticket(
    session: Session, *, number: str, data: TicketUpdate, actor: Principal, policy: sla.SlaPolicy | None = None
) -> Ticket:
    """Apply a staff edit if `data.version` is current (optimistic concurrency), else 409.

    The caller's access to the order and to each change (see `access.check_edit`) is
    checked under the write lock before anything is changed. Lifting confidentiality is
    recorded with its reason in the order's history and in the audit trail.
    """
    begin_write(session)
    ticket = access.check_ticket(actor, get_ticket(session, number=number, for_update=True))
    _check_version(ticket, data.version)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "reason"})
    if changes.get("department_id") is not None:
        get_department(session, department_id=changes["department_id"], active_only=True)
    if changes.get("assignee"):
        _check_assignee(session, changes["assignee"])
        changes["assignee"] = changes["assignee"].lower()
    for required in ("kind", "category", "description", "priority", "confidential"):
        if required in changes and changes[required] is None:
            del changes[required]  # null on a required field means "leave as is"
    access.check_edit(actor, ticket, changes, reason=data.reason)
    lifted = changes.get("confidential") is False and ticket.confidential
    if "category" in changes:
        changes["category"] = TicketCategory(changes["category"]).value
    now = utcnow()
    if "kind" in changes and changes["kind"] != ticket.kind and ticket.status in OPEN_STATUSES:
        ticket.deadline, ticket.sla_working_days = sla.deadline_for(changes["kind"], ticket.created_at, _policy(policy))
    for key, value in changes.items():
        setattr(ticket, key, value)
    ticket.version += 1
    ticket.updated_at = now
    session.add(ticket)
    fields = sorted(changes)
    session.add(
        TicketEvent(
            ticket_id=ticket.id or 0,
            at=now,
            actor=actor.username,
            action="edit",
            from_status=ticket.status,
            to_status=ticket.status,
            reason=data.reason,
            note="修改字段 / fields: " + ", ".join(fields) + ("（解除保密 / lifted confidentiality）" * lifted),
        )
    )
    detail: dict[str, Any] = {"fields": fields}
    if data.reason:
        detail["reason"] = data.reason
    if lifted:
        audit.record(
            session,
            actor=actor,
            action="ticket.confidentiality_lifted",
            target_type="ticket",
            target_id=number,
            detail={"reason": data.reason},
        )
    audit.record(session, actor=actor, action="ticket.update", target_type="ticket", target_id=number, detail=detail)
    session.commit()
    return ticket


def transition(
    session: Session,
    *,
    number: str,
    data: TransitionCreate,
    actor: Principal,
    policy: sla.SlaPolicy | None = None,
) -> Ticket:
    """Make one move of the loop; refused moves (and orders outside the caller's department) change nothing."""
    policy = _policy(policy)
    begin_write(session)
    ticket = access.check_ticket(actor, get_ticket(session, number=number, for_update=True))
    _check_version(ticket, data.version)
    action = data.action
    move = lifecycle.check(ticket.status, action, reason=data.reason)
    now = utcnow()
    before = ticket.status
    detail: dict[str, Any] = {"action": action.value}

    if action is TransitionAction.dispatch:
        department_id = data.department_id or ticket.department_id
        if department_id is None:
            raise problem(422, "department_required")
        get_department(session, department_id=department_id, active_only=True)
        _check_assignee(session, data.assignee)
        ticket.department_id = department_id
        ticket.assignee = data.assignee.lower() if data.assignee else None
        detail["department_id"] = department_id
    elif action is TransitionAction.reject:
        detail["department_id"] = ticket.department_id
        ticket.department_id = None
        ticket.assignee = None
    elif action is TransitionAction.accept and data.assignee:
        _check_assignee(session, data.assignee)
        ticket.assignee = data.assignee.lower()
    elif action is TransitionAction.reply:
        reply = data.public_reply or ticket.public_reply
        if not reply:
            raise problem(422, "reply_required")
        ticket.public_reply = reply
        ticket.replied_at = now
    elif action is TransitionAction.resolve:
        ticket.resolved_at = now
    elif action is TransitionAction.follow_up and data.satisfaction is not None:
        ticket.satisfaction = data.satisfaction.value
    elif action is TransitionAction.close:
        satisfaction = data.satisfaction or (Satisfaction(ticket.satisfaction) if ticket.satisfaction else None)
        if satisfaction is Satisfaction.unsatisfied:
            raise problem(422, "close_unsatisfied")
        ticket.satisfaction = satisfaction.value if satisfaction else None
        ticket.closed_at = now
    elif action is TransitionAction.reopen:
        ticket.satisfaction = Satisfaction.unsatisfied.value
        ticket.reopen_count += 1
        ticket.replied_at = None
        ticket.resolved_at = None
        ticket.deadline, ticket.sla_working_days = sla.deadline_for(ticket.kind, now, policy)
        ticket.extension_count = 0
    elif action is TransitionAction.extend:
        if ticket.deadline is None or ticket.deadline <= now:
            raise problem(409, "deadline_passed")
        if ticket.extension_count >= policy.max_extensions:
            raise problem(409, "too_many_extensions", count=ticket.extension_count)
        days = data.working_days or policy.extension_default_working_days
        if days > policy.extension_max_working_days:
            raise problem(422, "extension_too_long", max=policy.extension_max_working_days)
        old = ticket.deadline
        ticket.deadline = sla.extend_deadline(old, days, policy)
        ticket.sla_working_days = (ticket.sla_working_days or 0) + days
        ticket.extension_count += 1
        detail.update(old_deadline=old.isoformat(), new_deadline=ticket.deadline.isoformat(), working_days=days)

    if move.target is not None:
        ticket.status = move.target
    ticket.version += 1
    ticket.updated_at = now
    session.add(ticket)
    session.add(
        TicketEvent(
            ticket_id=ticket.id or 0,
            at=now,
            actor=actor.username,
            action=action.value,
            from_status=before,
            to_status=ticket.status,
            reason=data.reason,
            note=data.note,
        )
    )
    audit.record(
        session, actor=actor, action="ticket." + action.value, target_type="ticket", target_id=number, detail=detail
    )
    session.commit()
    return ticket


def list_events(session: Session, *, number: str) -> list[TicketEvent]:
    ticket = get_ticket(session, number=number)
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(col(TicketEvent.id))
    return list(session.exec(query).all())


def add_note(session: Session, *, number: str, data: TicketNoteCreate, actor: Principal) -> TicketNote:
    begin_write(session)
    ticket = access.check_ticket(actor, get_ticket(session, number=number))
    note = TicketNote(ticket_id=ticket.id or 0, at=utcnow(), author=actor.username, text=data.text)
    session.add(note)
    audit.record(session, actor=actor, action="ticket.note", target_type="ticket", target_id=number)
    session.commit()
    return note


def list_notes(session: Session, *, number: str) -> list[TicketNote]:
    ticket = get_ticket(session, number=number)
    return list(
        session.exec(select(TicketNote).where(TicketNote.ticket_id == ticket.id).order_by(col(TicketNote.id))).all()
    )


@dataclass
class TicketFilter:
    status: TicketStatus | None = None
    kind: TicketKind | None = None
    category: TicketCategory | None = None
    priority: TicketPriority | None = None
    channel: str | None = None
    department_id: int | None = None
    assignee: str | None = None
    session_id: str | None = None
    overdue: bool | None = None
    due_soon: bool | None = None
    created_since: datetime | None = None
    created_until: datetime | None = None


def _filtered(query: Any, flt: TicketFilter, *, now: datetime, policy: sla.SlaPolicy) -> Any:
    if flt.status is not None:
        query = query.where(Ticket.status == flt.status)
    if flt.kind is not None:
        query = query.where(Ticket.kind == flt.kind)
    if flt.category is not None:
        query = query.where(Ticket.category == flt.category.value)
    if flt.priority is not None:
        query = query.where(Ticket.priority == flt.priority)
    if flt.channel:
        query = query.where(Ticket.channel == flt.channel)
    if flt.department_id is not None:
        query = query.where(Ticket.department_id == flt.department_id)
    if flt.assignee:
        query = query.where(Ticket.assignee == flt.assignee.lower())
    if flt.session_id:
        query = query.where(Ticket.session_id == flt.session_id)
    if flt.created_since is not None:
        query = query.where(Ticket.created_at >= flt.created_since)
    if flt.created_until is not None:
        query = query.where(Ticket.created_at < flt.created_until)
    if flt.overdue is not None or flt.due_soon is not None:
        query = query.where(col(Ticket.status).in_(OPEN_STATUSES))
    if flt.overdue is not None:
        query = query.where(col(Ticket.deadline) < now) if flt.overdue else query.where(col(Ticket.deadline) >= now)
    if flt.due_soon:
        query = query.where(
            col(Ticket.deadline) >= now, col(Ticket.deadline) < now + timedelta(hours=policy.due_soon_hours)
        )
    elif flt.due_soon is False:
        query = query.where(col(Ticket.deadline) >= now + timedelta(hours=policy.due_soon_hours))
    return query


def list_tickets(
    session: Session,
    *,
    flt: TicketFilter,
    offset: int = 0,
    limit: int = 50,
    now: datetime | None = None,
    policy: sla.SlaPolicy | None = None,
) -> tuple[list[Ticket], int]:
    """A page of work orders (most urgent deadline first when filtering by SLA, else newest first) and the total."""
    policy = _policy(policy)
    now = now or utcnow()
    query = _filtered(select(Ticket), flt, now=now, policy=policy)
    total = session.exec(_filtered(select(func.count()).select_from(Ticket), flt, now=now, policy=policy)).one()
    if flt.overdue or flt.due_soon:
        query = query.order_by(col(Ticket.deadline), col(Ticket.id))
    else:
        query = query.order_by(col(Ticket.id).desc())
    return list(session.exec(query.offset(offset).limit(limit)).all()), int(total)


def iter_tickets(session: Session, *, flt: TicketFilter, batch: int = 1000) -> Any:
    """All matching work orders in id order, fetched in batches (for exports)."""
    policy = _policy(None)
    now = utcnow()
    last = 0
    while True:
        query = _filtered(select(Ticket), flt, now=now, policy=policy).where(col(Ticket.id) > last)
        rows = list(session.exec(query.order_by(col(Ticket.id)).limit(batch)).all())
        if not rows:
            return
        yield from rows
        last = rows[-1].id or 0


def public_lookup(session: Session, *, number: str, phone_last4: str) -> Ticket | None:
    """The work order if the number exists and its contact phone ends in `phone_last4`; else None (same for both)."""
    if not (len(number) == 12 and number.isdigit() and len(phone_last4) == 4 and phone_last4.isdigit()):
        return None
    ticket = session.exec(select(Ticket).where(Ticket.number == number)).first()
    phone = (ticket.contact_phone or "") if ticket is not None else ""
    expected = phone[-4:] if len(phone) >= 4 else "----"
    matches = hmac.compare_digest(expected.encode(), phone_last4.encode())
    return ticket if ticket is not None and matches else None


# --- views ---------------------------------------------------------------------------------------


def to_public(ticket: Ticket, *, principal: Principal, now: datetime | None = None) -> TicketPublic:
    now = now or utcnow()
    view = TicketPublic.model_validate(
        ticket,
        update={
            "status_text": STATUS_LABELS[ticket.status],
            "deadline_text": sla.deadline_text(ticket.deadline, ticket.sla_working_days, start=ticket.created_at),
            "overdue": ticket.status in OPEN_STATUSES and sla.is_overdue(ticket.deadline, now),
            "allowed_actions": [a.value for a in lifecycle.allowed_actions(ticket.status)],
        },
    )
    if not access.sees_identity(principal, ticket):
        view.contact_phone = masking.mask_phone(view.contact_phone)
        view.contact_name = masking.mask_name(view.contact_name)
        view.description = masking.mask_text(view.description) or ""
        view.wish = masking.mask_text(view.wish) or ""
        view.occurred_at_text = masking.mask_text(view.occurred_at_text) or ""
        view.location_text = masking.mask_text(view.location_text) or ""  # "…门口，电话139…" names the caller
    return view


def to_created(ticket: Ticket) -> TicketCreated:
    return TicketCreated(
        id=ticket.id or 0,
        number=ticket.number,
        status=ticket.status,
        status_text=STATUS_LABELS[ticket.status],
        kind=ticket.kind,
        deadline=ticket.deadline,
        deadline_text=sla.deadline_text(ticket.deadline, ticket.sla_working_days, start=ticket.created_at),
        created_at=ticket.created_at,
    )


def to_citizen(ticket: Ticket) -> TicketCitizenView:
    return TicketCitizenView(
        number=ticket.number,
        kind=ticket.kind,
        status=ticket.status,
        status_text=STATUS_LABELS[ticket.status],
        created_at=ticket.created_at,
        deadline=ticket.deadline,
        deadline_text=sla.deadline_text(ticket.deadline, ticket.sla_working_days, start=ticket.created_at),
        replied_at=ticket.replied_at,
        closed_at=ticket.closed_at,
        public_reply=ticket.public_reply,
    )
