"""A client's turn id on the grievance log, so that a turn sent again is answered once.

The turn id is part of the request, so the PostgreSQL guard now protects it too.

Revision ID: 0011_turn_ids
Revises: 0010_outbox
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_turn_ids"
down_revision = "0010_outbox"
branch_labels = None
depends_on = None

REQUEST_COLUMNS = (
    "id, created_at, channel, session_id, caller_key, text, asr_confidence, status, error_code, prev_hash,"
    " record_hash, key_id"
)


def _guard(columns: str) -> str:
    new = ", ".join(f"NEW.{c.strip()}" for c in columns.split(","))
    old = ", ".join(f"OLD.{c.strip()}" for c in columns.split(","))
    return f"""
CREATE OR REPLACE FUNCTION grievance_log_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'grievance_log is append-only: DELETE refused';
  END IF;
  IF OLD.completed_at IS NOT NULL THEN
    RAISE EXCEPTION 'grievance_log record % is sealed: UPDATE refused', OLD.id;
  END IF;
  IF ({new}) IS DISTINCT FROM ({old}) THEN
    RAISE EXCEPTION 'grievance_log request part is immutable: UPDATE refused';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    with op.batch_alter_table("grievance_log") as batch:
        batch.add_column(sa.Column("turn_id", sa.String(64), nullable=True))
    # NULLs are distinct in a unique index (SQLite and PostgreSQL): turns without an id are not constrained.
    op.create_index("uq_grievance_log_turn", "grievance_log", ["session_id", "turn_id"], unique=True)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_guard(REQUEST_COLUMNS + ", turn_id"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_guard(REQUEST_COLUMNS))
    op.drop_index("uq_grievance_log_turn", table_name="grievance_log")
    with op.batch_alter_table("grievance_log") as batch:
        batch.drop_column("turn_id")
