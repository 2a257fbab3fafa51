"""one-time codes: the citizen_login purpose, texted by a public route and used by nothing, is gone; queued
code texts no longer hold the code (issue 18)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.execute("DELETE FROM one_time_codes WHERE purpose = 'citizen_login'")
    op.drop_constraint("one_time_code_purpose", "one_time_codes", type_="check")
    op.create_check_constraint("one_time_code_purpose", "one_time_codes", "purpose IN ('beneficiary_login')")
    # texts written before: the code is masked as the sender now expects; those still to be sent are
    # filled in from the row's id, which older codes were not derived from, so they end (a new code is asked)
    op.execute("UPDATE sms_messages SET body = regexp_replace(body, '[0-9]{6}', '******'), "
               "status = CASE WHEN status IN ('queued', 'sending') THEN 'expired' ELSE status END "
               "WHERE cause_type = 'otp'")


def downgrade():
    op.drop_constraint("one_time_code_purpose", "one_time_codes", type_="check")
    op.create_check_constraint("one_time_code_purpose", "one_time_codes",
                               "purpose IN ('citizen_login', 'beneficiary_login')")
