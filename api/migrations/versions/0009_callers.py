"""One home for what is remembered about a caller: 退订 and easy-read join slower speech in
`caller_preference`, and the entries of the old per-process file data_dir/sms_state.json are
imported once.

The data directory comes from the caller of the migration (`api.migrate.upgrade(..., data_dir=)`);
without one, or without the file, there is nothing to import. The file's keys are already the salted
caller keys. The file is left where it is (a file move cannot be rolled back with the transaction);
nothing reads it any more.

Revision ID: 0009_callers
Revises: 0008_console_setup_and_knowledge
Create Date: 2026-12-04
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0009_callers"
down_revision = "0008_console_setup_and_knowledge"
branch_labels = None
depends_on = None

_LEGACY_FILE = "sms_state.json"
# The file's lists and the columns they become.
_LEGACY_LISTS = {"unsubscribed": "unsubscribed", "easy": "easy_read"}

caller_preference = sa.table(
    "caller_preference",
    sa.column("caller_key", sa.String),
    sa.column("slow_speech", sa.Boolean),
    sa.column("easy_read", sa.Boolean),
    sa.column("unsubscribed", sa.Boolean),
    sa.column("consented_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def legacy_entries(data_dir: Path | None) -> dict[str, set[str]]:
    """Caller keys per column from data_dir/sms_state.json; empty when there is no file or it is unreadable."""
    if data_dir is None:
        return {}
    try:
        data = json.loads((Path(data_dir) / _LEGACY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    found: dict[str, set[str]] = {}
    for name, column in _LEGACY_LISTS.items():
        values = data.get(name)
        if isinstance(values, list):
            found[column] = {v for v in values if isinstance(v, str) and 0 < len(v) <= 64}
    return found


def _import(data_dir: Path | None) -> None:
    entries = legacy_entries(data_dir)
    keys = set().union(*entries.values()) if entries else set()
    if not keys:
        return
    bind = op.get_bind()
    existing = set(bind.execute(sa.select(caller_preference.c.caller_key)).scalars())
    now = datetime.now(UTC)
    for key in sorted(keys):
        flags = {column: key in entries.get(column, set()) for column in _LEGACY_LISTS.values()}
        if key in existing:
            on = {column: True for column, value in flags.items() if value}
            bind.execute(
                caller_preference.update().where(caller_preference.c.caller_key == key).values(updated_at=now, **on)
            )
        else:
            bind.execute(
                caller_preference.insert().values(
                    caller_key=key, slow_speech=False, consented_at=now, updated_at=now, **flags
                )
            )


def upgrade() -> None:
    with op.batch_alter_table("caller_preference") as batch:
        batch.add_column(sa.Column("easy_read", sa.Boolean, nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("unsubscribed", sa.Boolean, nullable=False, server_default=sa.false()))
    data_dir = context.config.attributes.get("data_dir")
    _import(Path(data_dir) if data_dir else None)


def downgrade() -> None:
    # Rows that only held 退订 or easy-read go with their columns; the old file was left in place.
    op.execute(sa.delete(caller_preference).where(caller_preference.c.slow_speech == sa.false()))
    with op.batch_alter_table("caller_preference") as batch:
        batch.drop_column("unsubscribed")
        batch.drop_column("easy_read")
