"""Grievance log: records name the key of their keyed hashes (HMAC with a key kept outside the database).

Records written before this revision keep `key_id = ''` (plain SHA-256); `hotline db upgrade`
anchors them with a signed checkpoint so that they cannot be rewritten afterwards either.
The PostgreSQL guard now also protects `key_id`.

Revision ID: 0007_keyed_log
Revises: 0006_staff_tokens_and_throttle
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_keyed_log"
down_revision = "0006_staff_tokens_and_throttle"
branch_labels = None
depends_on = None

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
      NEW.asr_confidence, NEW.status, NEW.error_code, NEW.prev_hash, NEW.record_hash, NEW.key_id)
     IS DISTINCT FROM
     (OLD.id, OLD.created_at, OLD.channel, OLD.session_id, OLD.caller_key, OLD.text,
      OLD.asr_confidence, OLD.status, OLD.error_code, OLD.prev_hash, OLD.record_hash, OLD.key_id) THEN
    RAISE EXCEPTION 'grievance_log request part is immutable: UPDATE refused';
  END IF;
  RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""


def upgrade() -> None:
    op.add_column("grievance_log", sa.Column("key_id", sa.String(16), nullable=False, server_default=""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_GUARD)


def downgrade() -> None:
    with op.batch_alter_table("grievance_log") as batch:
        batch.drop_column("key_id")
