"""sms messages, outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from common.migration_ops import create_inbox, create_outbox, drop_inbox, drop_outbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sms_messages",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("cause_source", sa.Text, nullable=False),
        sa.Column("cause_id", sa.Text, nullable=False),
        sa.Column("cause_type", sa.Text, nullable=False),
        sa.Column("recipient", sa.Text, nullable=False),
        sa.Column("template", sa.Text, nullable=False),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("segments", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("provider", sa.Text),
        sa.Column("provider_message_id", sa.Text),
        sa.Column("provider_status", sa.Text),
        sa.Column("cost_rials", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("cause_source", "cause_id", "recipient", "template", name="sms_once_per_cause"),
    )
    op.create_index("sms_due", "sms_messages", ["next_attempt_at"],
                    postgresql_where=sa.text("status IN ('queued', 'sending')"))
    create_outbox()
    create_inbox()


def downgrade():
    drop_inbox()
    drop_outbox()
    op.drop_table("sms_messages")
