"""units' files for datasets, waiting for a second person's approval (SPEC T10)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    op.create_table(
        "dataset_uploads",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("slug", sa.Text, nullable=False),
        sa.Column("filename", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("rows", JSONB, nullable=False),
        sa.Column("uploaded_by", sa.Text, nullable=False),
        sa.Column("uploaded_by_name", sa.Text, nullable=False),
        sa.Column("uploaded_at", TS, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("decided_by_name", sa.Text),
        sa.Column("decided_at", TS),
        sa.Column("version", sa.Integer),
    )
    # the waiting files, newest first (the approvers' list)
    op.create_index("dataset_uploads_pending", "dataset_uploads", [sa.text("uploaded_at DESC")],
                    postgresql_where=sa.text("status = 'pending'"))


def downgrade():
    op.drop_table("dataset_uploads")
