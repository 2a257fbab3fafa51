"""the versions of each year's budget lines announced to the other services (`budget_lines.published`)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-12
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "budget_lines_versions",
        sa.Column("year", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("lines_sha256", sa.Text, nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade():
    op.drop_table("budget_lines_versions")
