"""Follow-up (回访): the citizen's satisfaction requests and answers, and the score on the work order.

Revision ID: 0003_follow_up
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_follow_up"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("satisfaction_score", sa.Integer, nullable=True))

    op.create_table(
        "follow_up",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_channel", sa.String(8), nullable=True),
        sa.Column("score", sa.Integer, nullable=True),
        sa.Column("comment", sa.Text, nullable=True),
        sa.CheckConstraint("score IS NULL OR (score BETWEEN 1 AND 5)", name="ck_follow_up_score"),
    )
    op.create_index("ix_follow_up_ticket_id", "follow_up", ["ticket_id"])
    op.create_index("ix_follow_up_token", "follow_up", ["token"], unique=True)
    op.create_index("ix_follow_up_answered_at", "follow_up", ["answered_at"])


def downgrade() -> None:
    op.drop_index("ix_follow_up_answered_at", table_name="follow_up")
    op.drop_index("ix_follow_up_token", table_name="follow_up")
    op.drop_index("ix_follow_up_ticket_id", table_name="follow_up")
    op.drop_table("follow_up")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("satisfaction_score")
