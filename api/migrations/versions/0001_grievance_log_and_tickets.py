"""Grievance log with its chain head, and the first work-order tables.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# PostgreSQL refuses any edit of a sealed record: only the one-time completion
# of an open record may change it, and never its request part.
PG_GUARD = """
CREATE OR REPLACE FUNCTION grievance_log_guard() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    RAISE EXCEPTION 'grievance_log is append-only: DELETE refused';
  END IF;
  IF OLD.completed_at IS NOT NULL THEN
    RAISE EXCEPTION 'grievance_log record % is sealed: UPDATE refused', OLD.id;
  END IF;
  IF (NEW.id, NEW.created_at, NEW.channel, NEW.session_id, NEW.caller_key, NEW.text,
      NEW.asr_confidence, NEW.status, NEW.error_code, NEW.prev_hash, NEW.record_hash)
     IS DISTINCT FROM
     (OLD.id, OLD.created_at, OLD.channel, OLD.session_id, OLD.caller_key, OLD.text,
      OLD.asr_confidence, OLD.status, OLD.error_code, OLD.prev_hash, OLD.record_hash) THEN
    RAISE EXCEPTION 'grievance_log request part is immutable: UPDATE refused';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER grievance_log_guard BEFORE UPDATE OR DELETE ON grievance_log
  FOR EACH ROW EXECUTE FUNCTION grievance_log_guard();
CREATE OR REPLACE FUNCTION grievance_log_no_truncate() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'grievance_log is append-only: TRUNCATE refused';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER grievance_log_no_truncate BEFORE TRUNCATE ON grievance_log
  FOR EACH STATEMENT EXECUTE FUNCTION grievance_log_no_truncate();
"""


def upgrade() -> None:
    op.create_table(
        "grievance_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False, index=True),
        sa.Column("session_id", sa.String(128), nullable=False, index=True),
        sa.Column("caller_key", sa.String(64), nullable=False, index=True),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("asr_confidence", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error_code", sa.String(64)),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16)),
        sa.Column("intent", sa.String(64)),
        sa.Column("intent_confidence", sa.Float),
        sa.Column("replies", sa.JSON),
        sa.Column("handoff", sa.Boolean),
        sa.Column("ticket_number", sa.String(12), index=True),
        sa.Column("latency_ms", sa.Integer),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        sa.Column("completion_hash", sa.String(64)),
    )
    op.create_table(
        "grievance_log_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("last_seq", sa.Integer, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
    )
    op.execute("INSERT INTO grievance_log_head (id, last_seq, last_hash) VALUES (1, 0, '" + "0" * 64 + "')")
    op.create_table(
        "ticket",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("number", sa.String(12), nullable=False, unique=True, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("session_id", sa.String(128), index=True),
        sa.Column("contact_phone", sa.String(20)),
        sa.Column("contact_name", sa.String(64)),
        sa.Column("confidential", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "ticket_day_sequence",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("last", sa.Integer, nullable=False),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_GUARD)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS grievance_log_no_truncate ON grievance_log")
        op.execute("DROP TRIGGER IF EXISTS grievance_log_guard ON grievance_log")
        op.execute("DROP FUNCTION IF EXISTS grievance_log_no_truncate()")
        op.execute("DROP FUNCTION IF EXISTS grievance_log_guard()")
    op.drop_table("ticket_day_sequence")
    op.drop_table("ticket")
    op.drop_table("grievance_log_head")
    op.drop_table("grievance_log")
