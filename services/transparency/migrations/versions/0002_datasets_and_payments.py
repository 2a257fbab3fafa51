"""published dataset versions (hash-chained, signed, append-only) and the state fed by events:
beneficiaries' payments (private), payment totals, donations, complaint statistics

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from common.migration_ops import drop_append_only, make_append_only

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
HISTORY_COLUMNS = ("month", "budget_line", "amount_rials", "account_masked", "status")


def upgrade():
    op.create_table(
        "dataset_versions",
        sa.Column("slug", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("published_at", TS, nullable=False),
        sa.Column("row_count", sa.Integer, nullable=False),
        sa.Column("content_sha256", sa.Text, nullable=False),
        sa.Column("prev_sha256", sa.Text, nullable=False),
        sa.Column("record_sha256", sa.Text, nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
    )
    op.create_table(
        "dataset_rows",
        sa.Column("slug", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("search", sa.Text, nullable=False, server_default=""),
    )
    make_append_only("dataset_versions")
    make_append_only("dataset_rows")
    op.create_table(
        "dataset_changes",
        sa.Column("slug", sa.Text, primary_key=True),
        sa.Column("changed_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "beneficiary_payments",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("national_id", sa.Text, nullable=False),
        sa.Column("paid_on", sa.Date, nullable=False),
        sa.Column("month", sa.Text, nullable=False),
        sa.Column("budget_line", sa.Text, nullable=False),
        sa.Column("amount_rials", sa.BigInteger, nullable=False),
        sa.Column("account_masked", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.Text, nullable=False),
    )
    # one beneficiary's history, newest first, read from the index alone (an index-only scan: a person's
    # payments are written a month apart, so their rows lie on as many heap pages as they have payments)
    op.create_index("beneficiary_payments_history", "beneficiary_payments",
                    ["national_id", sa.text("paid_on DESC"), sa.text("order_id DESC")],
                    postgresql_include=list(HISTORY_COLUMNS))
    op.create_table(
        "beneficiary_contacts",
        sa.Column("national_id", sa.Text, primary_key=True),
        sa.Column("mobile", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "payment_totals",
        sa.Column("budget_line", sa.Text, primary_key=True),
        sa.Column("province", sa.Text, primary_key=True),
        sa.Column("month", sa.Text, primary_key=True),
        sa.Column("households", sa.BigInteger, nullable=False),
        sa.Column("amount_rials", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "budget_line_titles",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("title_fa", sa.Text, nullable=False),
    )
    op.create_table(
        "donations_received",
        sa.Column("donation_id", sa.Text, primary_key=True),
        sa.Column("data", JSONB, nullable=False),
        sa.Column("paid_at", TS, nullable=False),
    )
    op.create_table(
        "complaint_statistics",
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("data", JSONB, nullable=False),
    )


def downgrade():
    for table in ("complaint_statistics", "donations_received", "budget_line_titles", "payment_totals",
                  "beneficiary_contacts", "beneficiary_payments", "dataset_changes"):
        op.drop_table(table)
    drop_append_only("dataset_rows")
    drop_append_only("dataset_versions")
    op.drop_table("dataset_rows")
    op.drop_table("dataset_versions")
