"""one-time codes (SPEC N1) and staff in-app notifications (SPEC N2)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "one_time_codes",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("mobile", sa.Text, nullable=False),
        sa.Column("purpose", sa.Text, nullable=False),
        sa.Column("client", sa.Text, nullable=False),
        sa.Column("code_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="live"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('live', 'used', 'replaced', 'dead', 'expired')", name="one_time_code_state"),
        sa.CheckConstraint("purpose IN ('citizen_login', 'beneficiary_login')", name="one_time_code_purpose"),
    )
    op.create_index("one_live_code", "one_time_codes", ["mobile", "purpose"], unique=True,
                    postgresql_where=sa.text("state = 'live'"))
    op.create_index("one_time_codes_by_mobile", "one_time_codes", ["mobile", "created_at"])
    op.create_index("one_time_codes_by_client", "one_time_codes", ["client", "created_at"])

    op.create_table(
        "staff_notifications",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("staff_id", UUID(as_uuid=False), nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("tracking_code", sa.Text),
        sa.Column("title_fa", sa.Text, nullable=False),
        sa.Column("body_fa", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("read_at", sa.DateTime(timezone=True)),
        sa.Column("cause_source", sa.Text, nullable=False),
        sa.Column("cause_id", sa.Text, nullable=False),
        sa.UniqueConstraint("cause_source", "cause_id", "staff_id", name="staff_notification_once_per_cause"),
    )
    op.create_index("staff_notifications_newest", "staff_notifications", ["staff_id", "created_at", "id"])
    op.create_index("staff_notifications_unread", "staff_notifications", ["staff_id"],
                    postgresql_where=sa.text("read_at IS NULL"))


def downgrade():
    op.drop_table("staff_notifications")
    op.drop_table("one_time_codes")
