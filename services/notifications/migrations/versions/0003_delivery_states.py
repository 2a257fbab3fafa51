"""delivery receipts, retries of undelivered messages, the dead-letter list, quiet hours

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("sms_messages", sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()))
    # the id the operator knows this attempt by: the message id, then <id>.<n> for a resend after an
    # undelivered or expired attempt (the operator keeps one message per local id)
    op.add_column("sms_messages", sa.Column("send_key", sa.Text))
    op.add_column("sms_messages", sa.Column("delivered_at", sa.DateTime(timezone=True)))
    op.add_column("sms_messages", sa.Column("receipt_at", sa.DateTime(timezone=True)))
    op.add_column("sms_messages", sa.Column("dead_lettered_at", sa.DateTime(timezone=True)))
    op.add_column("sms_messages", sa.Column("replays", sa.Integer, nullable=False, server_default="0"))
    op.create_index("sms_awaiting_receipt", "sms_messages", ["provider", "sent_at"],
                    postgresql_where=sa.text("status = 'sent'"))
    op.create_index("sms_by_provider_id", "sms_messages", ["provider", "provider_message_id"])
    op.create_index("sms_dead_letters", "sms_messages", ["dead_lettered_at"],
                    postgresql_where=sa.text("dead_lettered_at IS NOT NULL"))


def downgrade():
    for index in ("sms_dead_letters", "sms_by_provider_id", "sms_awaiting_receipt"):
        op.drop_index(index, "sms_messages")
    for column in ("replays", "dead_lettered_at", "receipt_at", "delivered_at", "send_key", "urgent"):
        op.drop_column("sms_messages", column)
