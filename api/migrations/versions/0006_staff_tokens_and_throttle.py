"""Staff accounts: a token version (a new password ends earlier tokens), failures counted since a reset,
and the audit trail searchable by client address (login throttling per address).

Revision ID: 0006_staff_tokens_and_throttle
Revises: 0005_staff_console
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_staff_tokens_and_throttle"
down_revision = "0005_staff_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("token_version", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("failures_reset_at", sa.DateTime(timezone=True)))
    op.create_index("ix_audit_event_client_ip", "audit_event", ["client_ip"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_client_ip", table_name="audit_event")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("failures_reset_at")
        batch.drop_column("token_version")
