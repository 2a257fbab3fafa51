"""idempotency records without the client's address (issue 18): a keyed hash of client and key and a keyed
fingerprint; records older than a day are not carried over

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""
from common.migration_ops import hash_idempotency_keys, unhash_idempotency_keys

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    hash_idempotency_keys()


def downgrade():
    unhash_idempotency_keys()
