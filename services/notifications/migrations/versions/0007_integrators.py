"""integrators: the ministry systems that receive the platform's events on their own broker user,
queue and replay stream, or posted to their webhook (issue 20)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "integrators",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("name", sa.Text, nullable=False, unique=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("event_types", JSONB, nullable=False),
        sa.Column("personal_data", sa.Boolean, nullable=False),
        sa.Column("legal_basis", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("webhook_url", sa.Text),
        sa.Column("secret_version", sa.Integer, nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("integrator_id", UUID(as_uuid=False), sa.ForeignKey("integrators.id"), nullable=False),
        sa.Column("event_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("integrator_id", "event_id", name="webhook_once_per_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'dead')", name="webhook_delivery_status"),
    )
    op.create_index("webhook_deliveries_due", "webhook_deliveries", ["next_at"],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    op.drop_table("webhook_deliveries")
    op.drop_table("integrators")
