"""Database engine and sessions: SQLite by default, PostgreSQL when configured."""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlmodel import Session, create_engine

from api.services.masking import mask_text
from api.settings import get_settings

# A value the server quotes in its message: `invalid input syntax for type integer: "…"`,
# `value "…" is out of range` (names of tables and constraints are quoted too, and kept).
_QUOTED_VALUE = re.compile(r'(value |:\s*)"[^"]*"')

# SQLite: whether the connection's open transaction holds the write lock (IMMEDIATE, or it has written).
_WRITER = "hotline_sqlite_writer"
_READS = ("SELECT", "PRAGMA", "BEGIN")


def make_engine(url: str) -> Engine:
    """Create an engine tuned for concurrent writers on either backend.

    Nothing a citizen wrote reaches the process log through a database error: the
    statement's parameters are hidden (`hide_parameters`), and the server's own
    message keeps its first line only, masked, without a quoted value (PostgreSQL
    adds `DETAIL: Key (id_number)=(…)` or `Failing row contains (…)`).
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True)
        event.listen(engine, "handle_error", _hide_values)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            # Autocommit at the driver level so that SQLAlchemy's BEGIN below is the only one.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # Readers begin DEFERRED; writers that read first (hash chain, daily
            # ticket sequence) ask for IMMEDIATE through `begin_write`, taking the
            # write lock before their first read so no other process interleaves.
            immediate = conn.get_execution_options().get("sqlite_immediate", False)
            conn.info[_WRITER] = immediate
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        @event.listens_for(engine, "before_cursor_execute")
        def _sqlite_note_writes(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            # A DEFERRED transaction that has written holds the write lock: `begin_write` keeps it.
            if not conn.info.get(_WRITER, True) and not statement.lstrip()[:6].upper().startswith(_READS):
                conn.info[_WRITER] = True

        return engine
    engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True)
    event.listen(engine, "handle_error", _hide_values)
    return engine


def _hide_values(ctx: ExceptionContext) -> None:
    """Strip the values out of the driver's message, in the driver's exception and in SQLAlchemy's wrapper."""
    for error in (ctx.original_exception, ctx.sqlalchemy_exception):
        if error is not None and error.args and isinstance(error.args[0], str):
            error.args = (_without_values(error.args[0]), *error.args[1:])


def _without_values(message: str) -> str:
    first = message.split("\n", 1)[0]
    return mask_text(_QUOTED_VALUE.sub(r'\1"…"', first)) or first


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return make_engine(settings.effective_database_url)


def new_session() -> Session:
    """A session whose objects stay readable after commit, so no transaction is reopened by accident."""
    return Session(get_engine(), expire_on_commit=False)


def get_session() -> Iterator[Session]:
    with new_session() as session:
        yield session


def begin_write(session: Session) -> None:
    """Start the session's transaction as a writer (SQLite: BEGIN IMMEDIATE).

    Call before the read of a read-then-write sequence; PostgreSQL callers lock rows
    with SELECT ... FOR UPDATE as usual.

    SQLite: a transaction already open that has only read so far (the auth check, a
    page's lookup) is ended first and begun again as IMMEDIATE. Left open, it would
    have to upgrade its read snapshot to a writer when it first writes, which fails at
    once (SQLITE_BUSY, no waiting) whenever another writer committed since its first
    read. A transaction that already writes, or holds changes not yet flushed (a
    rollback would lose them), is left as it is.
    """
    if session.in_transaction():
        conn = session.connection()
        if conn.dialect.name != "sqlite" or conn.info.get(_WRITER, True):
            return
        if session.new or session.dirty or session.deleted:
            return
        session.rollback()
    session.connection(execution_options={"sqlite_immediate": True})
