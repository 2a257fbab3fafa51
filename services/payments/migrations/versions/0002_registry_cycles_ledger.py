"""the registry, the budget lines, payment cycles and orders, the ledger, bank batches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from common.migration_ops import create_idempotency_keys, drop_idempotency_keys

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade():
    create_idempotency_keys()
    op.create_table(
        "budget_lines",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("title_fa", sa.Text, nullable=False),
        sa.Column("per_capita_rials", sa.BigInteger, nullable=False),
        sa.Column("purpose_fa", sa.Text, nullable=False),
        sa.Column("legal_basis_fa", sa.Text, nullable=False),
        sa.Column("pays", sa.Text, nullable=False),
        sa.Column("year", sa.Text, nullable=False),
        sa.Column("yearly_allocation_rials", sa.BigInteger, nullable=False),
        sa.CheckConstraint("per_capita_rials >= 0 AND yearly_allocation_rials >= 0"),
    )
    op.create_table(
        "beneficiaries",
        sa.Column("national_id", sa.Text, primary_key=True),
        sa.Column("full_name", sa.Text, nullable=False),
        sa.Column("household_size", sa.Integer, nullable=False),
        sa.Column("mobile", sa.Text),
        sa.Column("province", sa.Text, nullable=False),
        sa.Column("iban", sa.Text, nullable=False),
        sa.Column("iban_verified_at", TS),
        sa.Column("status", sa.Text, nullable=False),
        sa.CheckConstraint("status IN ('active', 'suspended', 'deceased')"),
    )
    op.create_table(
        "enrolments",
        sa.Column("national_id", sa.Text, sa.ForeignKey("beneficiaries.national_id"), primary_key=True),
        sa.Column("line", sa.Text, sa.ForeignKey("budget_lines.code"), primary_key=True),
        sa.Column("since", sa.Text, nullable=False),
    )
    op.create_index("enrolments_line", "enrolments", ["line", "national_id"])
    op.create_table(
        "registry_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("national_id", sa.Text, nullable=False, index=True),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("before", JSONB),
        sa.Column("after", JSONB),
    )
    op.create_table(
        "cycles",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("month", sa.Text, nullable=False),
        sa.Column("line", sa.Text, sa.ForeignKey("budget_lines.code"), nullable=False),
        sa.Column("stage", sa.Text, nullable=False),
        sa.Column("stopped_reason", sa.Text),
        sa.Column("prepared_by", sa.Text, nullable=False),
        sa.Column("approved_by", sa.Text),
        sa.Column("beneficiaries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("total_rials", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("opened_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("month", "line"),
    )
    op.create_table(
        "payment_orders",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("cycle_id", sa.Text, sa.ForeignKey("cycles.id"), nullable=False, index=True),
        sa.Column("national_id", sa.Text, nullable=False),
        sa.Column("iban", sa.Text, nullable=False),
        sa.Column("amount_rials", sa.BigInteger, nullable=False),
        sa.Column("batch_id", sa.Text, index=True),
        sa.Column("status", sa.Text, nullable=False, server_default="issued"),
        sa.Column("reason", sa.Text),
        sa.Column("resolution", sa.Text),
        sa.UniqueConstraint("cycle_id", "national_id"),
        sa.CheckConstraint("amount_rials > 0"),
    )
    op.create_table(
        "ledger_postings",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("at", TS, nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "ledger_lines",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("posting_key", sa.Text, sa.ForeignKey("ledger_postings.key"), nullable=False, index=True),
        sa.Column("account", sa.Text, nullable=False, index=True),
        sa.Column("amount_rials", sa.BigInteger, nullable=False),
        sa.CheckConstraint("amount_rials <> 0"),
    )
    op.create_table(
        "bank_batches",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("cycle_id", sa.Text, sa.ForeignKey("cycles.id"), nullable=False, index=True),
        sa.Column("orders", sa.Integer, nullable=False),
        sa.Column("total_rials", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="built"),
        sa.Column("statement_id", sa.Text, unique=True),
        sa.Column("sent_at", TS),
        sa.Column("settled_at", TS),
    )


def downgrade():
    for table in ("bank_batches", "ledger_lines", "ledger_postings", "payment_orders", "cycles", "registry_audit",
                  "enrolments", "beneficiaries", "budget_lines"):
        op.drop_table(table)
    drop_idempotency_keys()
