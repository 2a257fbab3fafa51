"""idempotency records without the client's address or the report's tracking code (issue 18, SPEC C17):
a keyed hash of client and key, a keyed fingerprint, and for a registered case its id, not its view

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
import sqlalchemy as sa

from common.migration_ops import hash_idempotency_keys, unhash_idempotency_keys

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _keep_answer(conn, operation: str, answer: dict) -> dict | None:
    """A registered case's stored view held its tracking code: keep the case's id instead (the
    service rebuilds the view from the case); drop the record when the case is not there."""
    if operation != "register_case":
        return answer
    case_id = conn.execute(sa.text("SELECT id::text FROM cases WHERE tracking_code = :c"),
                           {"c": answer.get("tracking_code")}).scalar()
    return {"case_id": case_id} if case_id else None


def upgrade():
    hash_idempotency_keys(_keep_answer)


def downgrade():
    unhash_idempotency_keys()
