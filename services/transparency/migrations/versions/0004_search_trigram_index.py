"""a trigram index on the rows' search text: the portal's `q` (every word, anywhere in the text) finds
its rows through the index instead of reading each row of a version

pg_trgm ships with PostgreSQL (contrib) and is a trusted extension: the database's owner may create it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE INDEX dataset_rows_search_trgm ON dataset_rows USING gin (search gin_trgm_ops)")


def downgrade():
    op.execute("DROP INDEX dataset_rows_search_trgm")
