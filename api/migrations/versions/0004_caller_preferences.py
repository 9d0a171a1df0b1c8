"""Caller preferences: slower speech remembered for a caller who agreed to it.

Revision ID: 0004_caller_preferences
Revises: 0003_follow_up
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_caller_preferences"
down_revision = "0003_follow_up"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caller_preference",
        sa.Column("caller_key", sa.String(64), primary_key=True),
        sa.Column("slow_speech", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("consented_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("caller_preference")
