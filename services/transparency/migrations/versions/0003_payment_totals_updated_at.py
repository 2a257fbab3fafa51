"""when each payment total last changed (the Last-Modified of the public spending answer)

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
    op.add_column("payment_totals", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                                              server_default=sa.func.now()))


def downgrade():
    op.drop_column("payment_totals", "updated_at")
