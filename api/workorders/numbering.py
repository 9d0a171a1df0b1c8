"""Work-order numbers: `YYYYMMDD` (China date) + a 4-digit daily sequence.

The sequence is taken with one atomic upsert on the day's row (see `next_number`):
unique under any concurrency, with possible gaps (a number whose work order is then
not committed is not reused).
"""

from __future__ import annotations

import threading
import weakref
from datetime import date
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from api.db import begin_write
from api.models.ticket import TicketDaySequence
from api.services.problems import problem


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
