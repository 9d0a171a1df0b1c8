"""The lean creation path: what `create_ticket` returns and stores, the deadline memo, numbering under failures."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.pool import QueuePool
from sqlmodel import Session, select

from api.models.staff import AuditEvent
from api.models.ticket import Ticket, TicketCreate, TicketEvent, TicketKind, TicketStatus
from api.services import sla
from tests.backoffice.conftest import TICKET


def _aware(value: Any) -> Any:
    """Datetimes as stored come back naive (UTC) on SQLite; compare them as aware UTC."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def test_created_ticket_is_the_stored_row_and_persistent(settings_env: Path) -> None:
    from api.db import get_engine, new_session
    from api.services.audit import Principal
    from api.workorders import creation

    actor = Principal(username="op1", role="operator", client_ip="10.0.0.7")
    with new_session() as session:
        ticket = creation.create_ticket(session, data=TicketCreate(**TICKET), actor=actor, idempotency_key="k-1")
        state = inspect(ticket)
        assert state.persistent and state.session is session  # as after an ORM flush and commit
        assert not session.dirty and not session.new
        assert session.get(Ticket, ticket.id) is ticket  # in the identity map
        assert ticket.__pydantic_fields_set__ >= {"number", "description", "deadline"}
        returned = ticket.model_dump()
    assert returned["status"] is TicketStatus.received and returned["version"] == 1
    assert returned["kind"] is TicketKind.complaint and returned["category"] == "无障碍"
    assert returned["created_by"] == "op1" and returned["idempotency_key"] == "op1:k-1"
    assert returned["created_at"].tzinfo is not None  # the Python value, as before (not re-read)
    assert returned["deadline"] == sla.deadline_for(TicketKind.complaint, returned["created_at"], sla.load_policy())[0]
    with Session(get_engine()) as fresh:
        stored = fresh.exec(select(Ticket).where(Ticket.number == ticket.number)).one()
        assert {k: _aware(v) for k, v in stored.model_dump().items()} == returned
        events = fresh.exec(select(TicketEvent).where(TicketEvent.ticket_id == stored.id)).all()
        assert [(e.action, e.actor, e.from_status, e.to_status) for e in events] == [
            ("create", "op1", None, TicketStatus.received)
        ]
        assert _aware(events[0].at) == returned["created_at"]
        audit = fresh.exec(select(AuditEvent).where(AuditEvent.target_id == ticket.number)).one()
        assert (audit.actor, audit.role, audit.action, audit.client_ip) == (
            "op1",
            "operator",
            "ticket.create",
            "10.0.0.7",
        )
        assert audit.detail == {"kind": "投诉", "channel": "web"}


def test_a_string_actor_writes_no_audit_event(settings_env: Path) -> None:
    from api.db import get_engine, new_session
    from api.workorders import creation

    with new_session() as session:
        ticket = creation.create_ticket(session, data=TicketCreate(description="求助"))
    assert ticket.created_by == creation.SYSTEM_ACTOR and ticket.kind is TicketKind.consultation
    with Session(get_engine()) as fresh:
        assert fresh.exec(select(AuditEvent).where(AuditEvent.target_id == ticket.number)).first() is None
        assert fresh.exec(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).one().actor == "system:gateway"


def test_deadline_memo_matches_the_calendar_and_belongs_to_its_policy() -> None:
    policy = sla.parse_policy({})
    for start in (date(2025, 9, 28), date(2025, 9, 30), date(2026, 2, 13), date(2027, 12, 30)):
        moment = datetime.combine(start, datetime.min.time(), tzinfo=sla.CHINA_TZ)
        for kind in TicketKind:
            days = policy.working_days[kind]
            expected = sla.end_of_day(sla.add_working_days(start, days, policy))
            assert sla.deadline_for(kind, moment, policy) == (expected, days)
            assert sla.deadline_for(kind, moment, policy) == (expected, days)  # the memoised answer
    monday = datetime(2027, 1, 4, 9, 0, tzinfo=sla.CHINA_TZ)
    assert sla.china_date(sla.deadline_for(TicketKind.emergency, monday, policy)[0]) == date(2027, 1, 4)
    # Another policy (e.g. the file changed) has its own memo: its extra holiday counts at once.
    changed = sla.parse_policy({"extra_holidays": ["2027-01-04"]})
    assert sla.china_date(sla.deadline_for(TicketKind.emergency, monday, changed)[0]) == date(2027, 1, 4)
    assert sla.china_date(sla.deadline_for(TicketKind.consultation, monday, changed)[0]) == date(2027, 1, 7)
    assert sla.china_date(sla.deadline_for(TicketKind.consultation, monday, policy)[0]) == date(2027, 1, 7)
    before = datetime(2026, 12, 31, 9, 0, tzinfo=sla.CHINA_TZ)  # Thursday; 1 Jan is a holiday
    assert sla.china_date(sla.deadline_for(TicketKind.consultation, before, policy)[0]) == date(2027, 1, 6)
    assert sla.china_date(sla.deadline_for(TicketKind.consultation, before, changed)[0]) == date(2027, 1, 7)


def test_the_deadline_memo_is_bounded() -> None:
    policy = sla.parse_policy({})
    for offset in range(sla.MAX_CACHED_DEADLINES + 10):
        sla.extend_deadline(datetime(2020, 1, 1, tzinfo=UTC) + (offset * sla.timedelta(days=1)), 1, policy)
    assert 0 < len(policy._deadlines) <= sla.MAX_CACHED_DEADLINES


def _pg_only() -> None:
    from api.db import get_engine

    if get_engine().dialect.name != "postgresql":
        pytest.skip("PostgreSQL only (SQLite numbers inside the writer's transaction)")


def test_numbering_survives_a_dropped_allocator_connection(settings_env: Path) -> None:
    from api.db import get_engine, new_session
    from api.workorders import numbering

    _pg_only()
    day = date(2031, 5, 6)
    with new_session() as session:
        assert numbering.next_number(session, day=day) == "203105060001"
        side = numbering._allocator(get_engine())
        with get_engine().connect() as admin:  # the server drops every idle allocator connection
            killed = admin.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
                )
            ).scalar_one()
        assert killed >= 1
        time.sleep(0.2)
        pool = side.pool
        assert isinstance(pool, QueuePool) and pool.checkedin() >= 1  # the dead connection is still pooled
        assert numbering.next_number(session, day=day) == "203105060002"  # retried on a fresh one
        assert numbering.next_number(session, day=day) == "203105060003"


def test_a_concurrent_replay_of_the_idempotency_key_returns_the_winner(settings_env: Path) -> None:
    """The replay misses the first request's uncommitted row, waits on the unique key, then returns that row."""
    from api.db import get_engine, new_session
    from api.services.grievance_log import utcnow
    from api.workorders import creation

    _pg_only()
    with new_session() as first:  # the first request, between its INSERT and its COMMIT
        winner = Ticket(number="209901010001", created_at=utcnow(), description="先到", idempotency_key="gw:x")
        first.add(winner)
        first.flush()
        result: list[Any] = []

        def replay() -> None:
            with new_session() as session:
                try:
                    data = TicketCreate(description="重试")
                    result.append(creation.create_ticket(session, data=data, actor="gw", idempotency_key="x"))
                except Exception as exc:
                    result.append(exc)

        thread = threading.Thread(target=replay)
        thread.start()
        waiting = 0
        deadline = time.monotonic() + 10
        with get_engine().connect() as watcher:  # until the replay's INSERT waits on the key's index entry
            while not waiting and time.monotonic() < deadline:
                time.sleep(0.02)
                waiting = watcher.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                ).scalar_one()
                watcher.rollback()
        assert waiting, "the replay never waited on the key"
        first.commit()
        thread.join(10)
    assert len(result) == 1 and isinstance(result[0], Ticket), result
    assert result[0].id == winner.id and result[0].number == "209901010001"
    with Session(get_engine()) as fresh:  # nothing of the replay was written
        assert [t.id for t in fresh.exec(select(Ticket)).all()] == [winner.id]
        assert fresh.exec(select(TicketEvent)).all() == []


def test_audit_values_cover_every_audit_column() -> None:
    """The creation path inserts audit rows from `audit.values`; a new column must be filled there too."""
    from api.services import audit

    columns = {c.name for c in AuditEvent.__table__.columns} - {"id"}  # type: ignore[attr-defined]
    assert set(audit.FIELDS) == columns == set(audit.values(actor="x", action="y"))
