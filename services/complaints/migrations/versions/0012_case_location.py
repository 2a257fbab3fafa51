"""where a case is about, as a third-party app sends it (Open311 GeoReport v2: lat, long, address_string,
media_url) (issue 20)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("cases", sa.Column("lat", sa.Float))
    op.add_column("cases", sa.Column("long", sa.Float))
    op.add_column("cases", sa.Column("address", sa.Text))
    op.add_column("cases", sa.Column("media_url", sa.Text))


def downgrade():
    for column in ("media_url", "address", "long", "lat"):
        op.drop_column("cases", column)
