"""the organization tree, staff accounts and their refresh tokens; each case's holder unit

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from services.complaints.org import INSPECTION_OPERATORS, units

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    org = op.create_table(
        "org_units",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("parent_id", sa.Text, sa.ForeignKey("org_units.id")),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("name_fa", sa.Text, nullable=False),
    )
    op.bulk_insert(org, [{"id": u["id"], "parent_id": u["parent"], "kind": u["kind"], "name_fa": u["name_fa"]}
                         for u in units()])
    op.add_column("cases", sa.Column("holder_unit_id", sa.Text, sa.ForeignKey("org_units.id"),
                                     nullable=False, server_default=INSPECTION_OPERATORS))
    op.create_index("cases_holder", "cases", ["holder_unit_id"])
    op.create_table(
        "staff",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("username", sa.Text, nullable=False, unique=True),
        sa.Column("full_name", sa.Text, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("unit_id", sa.Text, sa.ForeignKey("org_units.id"), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("revoked_reason", sa.Text),
        sa.Column("credentials_version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
        sa.Column("locked_until", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("staff_id", UUID(as_uuid=False), sa.ForeignKey("staff.id"), nullable=False, index=True),
        sa.Column("token_hash", sa.Text, nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )


def downgrade():
    op.drop_table("refresh_tokens")
    op.drop_table("staff")
    op.drop_index("cases_holder", "cases")
    op.drop_column("cases", "holder_unit_id")
    op.drop_table("org_units")
