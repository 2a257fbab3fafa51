"""logins throttled per address and username instead of accounts locked; password resets that force a new
password, and need a second administrator for finance and administrator accounts (issue 18)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_column("staff", "failed_logins")
    op.drop_column("staff", "locked_until")
    op.add_column("staff", sa.Column("must_change_password", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "login_failures",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_failures_last_failed_at", "login_failures", ["last_failed_at"])
    op.create_table(
        "login_known_addresses",
        sa.Column("username_key", sa.Text, primary_key=True),
        sa.Column("address_key", sa.Text, primary_key=True),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_known_addresses_last_login_at", "login_known_addresses", ["last_login_at"])
    op.create_table(
        "password_resets",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("staff_id", UUID(as_uuid=False), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("requested_by", UUID(as_uuid=False), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text, nullable=False, server_default="pending"),
        sa.Column("approved_by", UUID(as_uuid=False), sa.ForeignKey("staff.id")),
        sa.Column("approved_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint("state IN ('pending', 'applied', 'replaced')", name="password_reset_state"),
        sa.CheckConstraint("approved_by IS NULL OR (approved_by <> requested_by AND approved_by <> staff_id)",
                           name="password_reset_four_eyes"),
    )
    op.create_index("ix_password_resets_staff_id", "password_resets", ["staff_id"])
    op.create_index("one_pending_reset", "password_resets", ["staff_id"], unique=True,
                    postgresql_where=sa.text("state = 'pending'"))


def downgrade():
    op.drop_table("password_resets")
    op.drop_table("login_known_addresses")
    op.drop_table("login_failures")
    op.drop_column("staff", "must_change_password")
    op.add_column("staff", sa.Column("locked_until", sa.DateTime(timezone=True)))
    op.add_column("staff", sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"))
