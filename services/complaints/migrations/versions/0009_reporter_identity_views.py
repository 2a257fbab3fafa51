"""who saw a reporter's identity (issue 18, SPEC C17): an audit row per view

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "reporter_identity_views",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("case_id", UUID(as_uuid=False), sa.ForeignKey("cases.id")),
        sa.Column("staff_id", UUID(as_uuid=False), sa.ForeignKey("staff.id"), nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("unit_id", sa.Text, nullable=False),
        sa.Column("how", sa.Text, nullable=False),
    )
    op.create_index("reporter_identity_views_by_case", "reporter_identity_views", ["case_id"])


def downgrade():
    op.drop_table("reporter_identity_views")
