"""idempotency keys of requests that create cases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""
from common.migration_ops import create_idempotency_keys, drop_idempotency_keys

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    create_idempotency_keys()


def downgrade():
    drop_idempotency_keys()
