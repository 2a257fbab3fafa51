"""outages do not count against people, and a row a sweep cannot act on is set aside (issue 17, items 5, 6):
outage windows (recorded by an administrator or detected by the sweep's own pulse), the sweeps' pulse,
the rows set aside with their error, and a hop's deadline as first given when an outage extended it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APPEND_ONLY_SQL = """
CREATE FUNCTION outage_windows_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'outage_windows is append-only: record a correcting window instead';
END $$;
CREATE TRIGGER outage_windows_append_only BEFORE UPDATE OR DELETE ON outage_windows
  FOR EACH ROW EXECUTE FUNCTION outage_windows_append_only();
"""


def upgrade():
    op.add_column("case_hops", sa.Column("given_due_at", sa.DateTime(timezone=True)))
    op.add_column("case_hops", sa.Column("given_warn_at", sa.DateTime(timezone=True)))
    op.create_table(
        "outage_windows",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("recorded_by", UUID(as_uuid=False), sa.ForeignKey("staff.id")),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("ends_at > starts_at", name="outage_windows_not_empty"),
        sa.CheckConstraint("source IN ('operator', 'detected')", name="outage_windows_source"),
        sa.CheckConstraint("source = 'detected' OR recorded_by IS NOT NULL", name="outage_windows_recorded_by"),
    )
    op.create_index("outage_windows_ends", "outage_windows", ["ends_at"])
    op.execute(APPEND_ONLY_SQL)
    op.create_table(
        "sweep_pulses",
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sweep_failures",
        sa.Column("sweep", sa.Text, primary_key=True),
        sa.Column("subject_id", UUID(as_uuid=False), primary_key=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("sweep_failures_retry", "sweep_failures", ["sweep", "retry_at"])


def downgrade():
    op.drop_table("sweep_failures")
    op.drop_table("sweep_pulses")
    op.execute("DROP TRIGGER IF EXISTS outage_windows_append_only ON outage_windows; "
               "DROP FUNCTION IF EXISTS outage_windows_append_only();")
    op.drop_table("outage_windows")
    op.drop_column("case_hops", "given_warn_at")
    op.drop_column("case_hops", "given_due_at")
