"""SMS exactly once under ambiguity: the operator that may hold a message, since when, and a poll schedule

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    # the operator(s) that may hold the current send key after an attempt that ended without a sure answer
    # (a timeout, a dropped connection, a 5xx, a crash): comma-separated names, or '*' for every operator;
    # the message is sent nowhere until they have been asked (services/notifications/dispatch.py)
    op.add_column("sms_messages", sa.Column("held_by", sa.Text))
    op.add_column("sms_messages", sa.Column("in_doubt_since", sa.DateTime(timezone=True)))
    # a sent message's next_attempt_at is when to ask its operator for its state next (back-off by age)
    op.create_index("sms_poll_due", "sms_messages", ["next_attempt_at"], postgresql_where=sa.text("status = 'sent'"))
    op.create_index("sms_in_doubt", "sms_messages", ["in_doubt_since"],
                    postgresql_where=sa.text("held_by IS NOT NULL"))
    # sent messages whose state their operator could not give at the last poll (the unresolved gauge)
    op.create_index("sms_state_unknown", "sms_messages", ["sent_at"],
                    postgresql_where=sa.text("status = 'sent' AND provider_status = 'unknown'"))


def downgrade():
    op.drop_index("sms_state_unknown", "sms_messages")
    op.drop_index("sms_in_doubt", "sms_messages")
    op.drop_index("sms_poll_due", "sms_messages")
    op.drop_column("sms_messages", "in_doubt_since")
    op.drop_column("sms_messages", "held_by")
