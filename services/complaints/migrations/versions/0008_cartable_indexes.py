"""the cartable at any size (issue 22): keyset pages of one unit's cases by deadline and by registration

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("cases_cartable", "cases", ["holder_unit_id", "deadline_at", "id"],
                    postgresql_where=sa.text("deadline_at IS NOT NULL"))
    op.create_index("cases_cartable_newest", "cases", ["holder_unit_id", "registered_at", "id"],
                    postgresql_where=sa.text("deadline_at IS NOT NULL"))


def downgrade():
    op.drop_index("cases_cartable_newest", "cases")
    op.drop_index("cases_cartable", "cases")
