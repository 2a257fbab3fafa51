"""donations of the participation portal and its campaigns (SPEC P5, P6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)

# The demo campaigns as this revision knew them (services/payments/donations.py DEMO_CAMPAIGNS loads them too).
DEMO_CAMPAIGNS = [
    {"code": "winter_warmth_1405", "title_fa": "پویش گرمای زمستان برای خانواده‌های مددجو", "province": None,
     "goal_rials": 50_000_000_000, "opens": date(2026, 3, 21), "closes": date(2028, 3, 19), "published": True},
    {"code": "bushehr_rehab_centers", "title_fa": "تجهیز مراکز توان‌بخشی استان بوشهر", "province": "bushehr",
     "goal_rials": 20_000_000_000, "opens": date(2026, 3, 21), "closes": date(2028, 3, 19), "published": True},
    {"code": "sistan_village_nurseries", "title_fa": "مهدکودک‌های روستایی سیستان و بلوچستان",
     "province": "sistan_baluchestan", "goal_rials": 30_000_000_000, "opens": date(2026, 3, 21),
     "closes": date(2028, 3, 19), "published": True},
]


def upgrade():
    campaigns = op.create_table(
        "donation_campaigns",
        sa.Column("code", sa.Text, primary_key=True),
        sa.Column("title_fa", sa.Text, nullable=False),
        sa.Column("province", sa.Text),
        sa.Column("goal_rials", sa.BigInteger, nullable=False),
        sa.Column("opens", sa.Date, nullable=False),
        sa.Column("closes", sa.Date, nullable=False),
        sa.Column("published", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.CheckConstraint("goal_rials > 0 AND opens <= closes"),
    )
    op.create_table(
        "donations",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("receipt_number", sa.Text, nullable=False, unique=True),
        sa.Column("donor_kind", sa.Text, nullable=False),
        sa.Column("donor_name", sa.Text),
        sa.Column("company_national_id", sa.Text),
        sa.Column("mobile", sa.Text),
        sa.Column("province", sa.Text, nullable=False),
        sa.Column("purpose_kind", sa.Text, nullable=False),
        sa.Column("purpose_code", sa.Text, nullable=False),
        sa.Column("amount_rials", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("token", sa.Text, unique=True),
        sa.Column("psp_reference", sa.Text, unique=True),
        sa.Column("card_masked", sa.Text),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("paid_at", TS),
        sa.Column("settled_at", TS),
        sa.CheckConstraint("amount_rials > 0"),
        sa.CheckConstraint("donor_kind IN ('person', 'company')"),
        sa.CheckConstraint("donor_kind = 'person' OR (company_national_id IS NOT NULL AND donor_name IS NOT NULL)"),
        sa.CheckConstraint("purpose_kind IN ('line', 'campaign')"),
        sa.CheckConstraint("status IN ('started', 'paid', 'failed')"),
        sa.CheckConstraint("status <> 'paid' OR (psp_reference IS NOT NULL AND paid_at IS NOT NULL)"),
    )
    op.create_index("donations_paid", "donations", ["status", "paid_at"])
    op.bulk_insert(campaigns, DEMO_CAMPAIGNS)


def downgrade():
    op.drop_table("donations")
    op.drop_table("donation_campaigns")
