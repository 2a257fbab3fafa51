"""one-time codes: the case_reporter purpose, the proof that the one acting on a named case (rating it,
reporting it again, sending evidence) holds the mobile it was registered with (issue 18)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_constraint("one_time_code_purpose", "one_time_codes", type_="check")
    op.create_check_constraint("one_time_code_purpose", "one_time_codes",
                               "purpose IN ('beneficiary_login', 'case_reporter')")


def downgrade():
    op.execute("DELETE FROM one_time_codes WHERE purpose = 'case_reporter'")
    op.drop_constraint("one_time_code_purpose", "one_time_codes", type_="check")
    op.create_check_constraint("one_time_code_purpose", "one_time_codes", "purpose IN ('beneficiary_login')")
