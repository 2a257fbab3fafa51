"""outbox and inbox

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""
from common.migration_ops import create_inbox, create_outbox, drop_inbox, drop_outbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    create_outbox()
    create_inbox()


def downgrade():
    drop_inbox()
    drop_outbox()
