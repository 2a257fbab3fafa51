"""payment cycles under faults (issue 17 item 3): a cycle's failure recorded with its error and its retry; a
bank file claimed by one worker for a while (a lease) so that one replica sends it; the statements of a file
counted, and the orders the last one left out

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    op.add_column("cycles", sa.Column("failures", sa.Integer, nullable=False, server_default="0"))
    op.add_column("cycles", sa.Column("last_error", sa.Text))
    op.add_column("cycles", sa.Column("failed_at", TS))
    op.add_column("cycles", sa.Column("retry_at", TS))
    op.add_column("bank_batches", sa.Column("claimed_by", sa.Text))
    op.add_column("bank_batches", sa.Column("claimed_until", TS))
    op.add_column("bank_batches", sa.Column("statements", sa.Integer, nullable=False, server_default="0"))
    op.add_column("bank_batches", sa.Column("left_out", sa.Integer, nullable=False, server_default="0"))


def downgrade():
    for column in ("left_out", "statements", "claimed_until", "claimed_by"):
        op.drop_column("bank_batches", column)
    for column in ("retry_at", "failed_at", "last_error", "failures"):
        op.drop_column("cycles", column)
