"""the secret of an anonymous report (SPEC C17)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cases", sa.Column("secret_hash", sa.Text))


def downgrade():
    op.drop_column("cases", "secret_hash")
