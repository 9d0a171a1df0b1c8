"""Console set-up and curation: departments' categories and areas, the duty roster, the citizen's own
words on a work order (the place as read back, the contact preference) and staff-written answer entries.

Revision ID: 0008_console_setup_and_knowledge
Revises: 0007_keyed_log
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_console_setup_and_knowledge"
down_revision = "0007_keyed_log"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("department") as batch:
        batch.add_column(sa.Column("categories", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("areas", sa.String(500), nullable=False, server_default=""))
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("on_duty", sa.Boolean, nullable=False, server_default=sa.false()))
    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("location_text", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("contact_preference", sa.String(8), nullable=False, server_default=""))
    op.create_table(
        "knowledge_entry",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("entry_key", sa.Integer, nullable=True, index=True),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("questions", sa.Text, nullable=False),
        sa.Column("answer", sa.Text, nullable=False),
        sa.Column("easy_read", sa.Text, nullable=False, server_default=""),
        sa.Column("source_title", sa.String(200), nullable=False),
        sa.Column("source_article", sa.String(100), nullable=False, server_default=""),
        sa.Column("source_date", sa.String(32), nullable=False, server_default=""),
        sa.Column("source_url", sa.String(500), nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("expires_on", sa.Date, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("knowledge_entry")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_column("contact_preference")
        batch.drop_column("location_text")
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("on_duty")
    with op.batch_alter_table("department") as batch:
        batch.drop_column("areas")
        batch.drop_column("categories")
