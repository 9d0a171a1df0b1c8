"""Throw-away PostgreSQL databases for tests and benchmarks, on the server this machine runs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text


def scratch_database(admin_url: str, *, prefix: str, template: str | None = None) -> Iterator[str]:
    """Yield the URL of a new database named `prefix`_…, empty or a copy of `template`; drop it afterwards.

    A generator, so a session-scoped fixture and a `with` block (contextlib.contextmanager) share it.
    """
    admin = create_engine(admin_url.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield f"{admin_url.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
