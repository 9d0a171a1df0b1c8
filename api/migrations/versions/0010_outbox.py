"""The outbox of outgoing SMS and calls, sent by the task worker with retries; deadline warnings; the
nightly checks of the grievance log.

Revision ID: 0010_outbox
Revises: 0008_console_setup_and_knowledge
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_outbox"
down_revision = "0009_callers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False, server_default=""),
        sa.Column("recipient", sa.String(32), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=True),
        sa.Column("status", sa.String(8), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.String(300), nullable=False, server_default=""),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("provider_sid", sa.String(64), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_outbox_message_idempotency_key", "outbox_message", ["idempotency_key"], unique=True)
    op.create_index("ix_outbox_message_ticket_id", "outbox_message", ["ticket_id"])
    op.create_index("ix_outbox_message_status", "outbox_message", ["status"])
    op.create_index("ix_outbox_message_next_attempt_at", "outbox_message", ["next_attempt_at"])
    op.create_table(
        "deadline_alert",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("department_id", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("ticket_id", "kind", "deadline", name="uq_deadline_alert"),
    )
    op.create_index("ix_deadline_alert_ticket_id", "deadline_alert", ["ticket_id"])
    op.create_index("ix_deadline_alert_created_at", "deadline_alert", ["created_at"])
    op.create_table(
        "log_check",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("day", sa.String(10), nullable=False, unique=True),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("first_broken_id", sa.Integer, nullable=True),
        sa.Column("reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("head_hash", sa.String(64), nullable=False, server_default=""),
        sa.Column("checkpoints", sa.Integer, nullable=False, server_default="0"),
        sa.Column("export_file", sa.String(300), nullable=False, server_default=""),
        sa.Column("export_records", sa.Integer, nullable=False, server_default="0"),
        sa.Column("export_sha256", sa.String(64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    op.drop_table("log_check")
    op.drop_table("deadline_alert")
    op.drop_table("outbox_message")
