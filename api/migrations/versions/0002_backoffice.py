"""Back office: departments, staff users, audit trail, ticket lifecycle fields, events and notes.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Staff actions and work-order events are history: PostgreSQL refuses to rewrite them.
PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION hotline_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
  FOR EACH ROW EXECUTE FUNCTION hotline_append_only();
CREATE TRIGGER ticket_event_append_only BEFORE UPDATE OR DELETE ON ticket_event
  FOR EACH ROW EXECUTE FUNCTION hotline_append_only();
"""


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    )
    op.create_index("ix_department_code", "department", ["code"], unique=True)
    op.create_index("ix_department_name", "department", ["name"], unique=True)

    op.create_table(
        "staff_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("full_name", sa.String(64), nullable=False, server_default=""),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("department_id", sa.Integer, sa.ForeignKey("department.id"), nullable=True),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("last_login_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_staff_user_username", "staff_user", ["username"], unique=True)

    with op.batch_alter_table("ticket") as batch:
        batch.add_column(sa.Column("district", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("street", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("community", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("occurred_at_text", sa.String(200), nullable=False, server_default=""))
        batch.add_column(sa.Column("wish", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("priority", sa.String(16), nullable=False, server_default="normal"))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("created_by", sa.String(64)))
        batch.add_column(sa.Column("department_id", sa.Integer, nullable=True))
        batch.add_column(sa.Column("assignee", sa.String(64)))
        batch.add_column(sa.Column("sla_working_days", sa.Integer))
        batch.add_column(sa.Column("extension_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("reopen_count", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("public_reply", sa.Text))
        batch.add_column(sa.Column("replied_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("closed_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("satisfaction", sa.String(16)))
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("idempotency_key", sa.String(200)))
        batch.create_foreign_key("fk_ticket_department_id", "department", ["department_id"], ["id"])
        batch.create_unique_constraint("uq_ticket_idempotency_key", ["idempotency_key"])
    op.create_index("ix_ticket_department_id", "ticket", ["department_id"])
    op.create_index("ix_ticket_assignee", "ticket", ["assignee"])
    op.create_index("ix_ticket_deadline", "ticket", ["deadline"])
    op.create_index("ix_ticket_status_deadline", "ticket", ["status", "deadline"])
    op.create_index("ix_ticket_created_at", "ticket", ["created_at"])

    op.create_table(
        "ticket_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16)),
        sa.Column("reason", sa.Text),
        sa.Column("note", sa.Text),
    )
    op.create_index("ix_ticket_event_ticket_id", "ticket_event", ["ticket_id"])

    op.create_table(
        "ticket_note",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("ticket_id", sa.Integer, sa.ForeignKey("ticket.id"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_ticket_note_ticket_id", "ticket_note", ["ticket_id"])

    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False, server_default=""),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=False, server_default=""),
        sa.Column("target_id", sa.String(64), nullable=False, server_default=""),
        sa.Column("detail", sa.JSON),
        sa.Column("client_ip", sa.String(64), nullable=False, server_default=""),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_actor", "audit_event", ["actor"])
    op.create_index("ix_audit_event_action", "audit_event", ["action"])
    op.create_index("ix_audit_event_target_id", "audit_event", ["target_id"])

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND_ONLY)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ticket_event_append_only ON ticket_event")
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS hotline_append_only()")
    op.drop_table("audit_event")
    op.drop_table("ticket_note")
    op.drop_table("ticket_event")
    for name in (
        "ix_ticket_created_at",
        "ix_ticket_status_deadline",
        "ix_ticket_deadline",
        "ix_ticket_assignee",
        "ix_ticket_department_id",
    ):
        op.drop_index(name, table_name="ticket")
    with op.batch_alter_table("ticket") as batch:
        batch.drop_constraint("uq_ticket_idempotency_key", type_="unique")
        batch.drop_constraint("fk_ticket_department_id", type_="foreignkey")
        for column in (
            "idempotency_key",
            "version",
            "satisfaction",
            "closed_at",
            "resolved_at",
            "replied_at",
            "public_reply",
            "reopen_count",
            "extension_count",
            "sla_working_days",
            "assignee",
            "department_id",
            "created_by",
            "updated_at",
            "priority",
            "wish",
            "occurred_at_text",
            "community",
            "street",
            "district",
        ):
            batch.drop_column(column)
    op.drop_table("staff_user")
    op.drop_table("department")
