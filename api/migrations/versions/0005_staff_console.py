"""Staff console: login sessions and conversation holds.

Revision ID: 0005_staff_console
Revises: 0004_caller_preferences
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_staff_console"
down_revision = "0004_caller_preferences"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_session",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_staff_session_token_hash", "staff_session", ["token_hash"], unique=True)
    op.create_index("ix_staff_session_username", "staff_session", ["username"])
    op.create_table(
        "conversation_hold",
        sa.Column("session_id", sa.String(128), primary_key=True),
        sa.Column("channel", sa.String(16), nullable=False, server_default="web"),
        sa.Column("holder", sa.String(32)),
        sa.Column("held_since", sa.DateTime(timezone=True)),
        sa.Column("released_after", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    )


def downgrade() -> None:
    op.drop_table("conversation_hold")
    op.drop_index("ix_staff_session_username", table_name="staff_session")
    op.drop_index("ix_staff_session_token_hash", table_name="staff_session")
    op.drop_table("staff_session")
