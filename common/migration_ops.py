"""Migration steps every service's first revision takes: its outbox and its inbox."""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from common.outbox.store import OUTBOX_NOTIFY_DROP_SQL, OUTBOX_NOTIFY_SQL


def create_outbox() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False, unique=True),
        sa.Column("exchange", sa.Text, nullable=False),
        sa.Column("routing_key", sa.Text, nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
    )
    op.create_index("outbox_unpublished", "outbox", ["seq"], postgresql_where=sa.text("published_at IS NULL"))
    op.execute(OUTBOX_NOTIFY_SQL)


def drop_outbox() -> None:
    op.execute(OUTBOX_NOTIFY_DROP_SQL)
    op.drop_table("outbox")


def create_inbox() -> None:
    op.create_table(
        "inbox",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def drop_inbox() -> None:
    op.drop_table("inbox")


def create_idempotency_keys() -> None:
    op.create_table(
        "idempotency_keys",
        sa.Column("client", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("operation", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("response", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def drop_idempotency_keys() -> None:
    op.drop_table("idempotency_keys")


def hash_idempotency_keys(keep_answer: Callable[[sa.engine.Connection, str, dict], dict | None] | None = None) -> None:
    """Issue 18: a record keeps a keyed hash of client and key instead of the two (common/idempotency.py).
    The records younger than a day are carried over, each answer through `keep_answer(connection,
    operation, answer)` (None drops the record); the old table is dropped, so its file, addresses and
    all, is gone at once (no dead rows left for VACUUM)."""
    from common import idempotency

    conn = op.get_bind()
    op.create_table(
        "idempotency_keys_hashed",
        sa.Column("key_hash", sa.Text, primary_key=True),
        sa.Column("operation", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("response", JSONB),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    hashed = sa.table("idempotency_keys_hashed", sa.column("key_hash"), sa.column("operation"),
                      sa.column("fingerprint"), sa.column("response", JSONB), sa.column("created_at"))
    old = conn.execute(sa.text("SELECT client, key, operation, fingerprint, response, created_at FROM idempotency_keys "
                               "WHERE created_at > now() - :age AND response IS NOT NULL"),
                       {"age": idempotency.RETENTION}).all()
    for row in old:
        answer = keep_answer(conn, row.operation, row.response) if keep_answer else row.response
        if answer is None:
            continue
        key_hash = idempotency.record_key(row.client, row.key)
        # the old fingerprint is the plain digest of [operation, payload]: the new one keys it
        conn.execute(hashed.insert().values(key_hash=key_hash, operation=row.operation, response=answer,
                                            fingerprint=idempotency.request_fingerprint(key_hash, row.fingerprint),
                                            created_at=row.created_at))
    op.drop_table("idempotency_keys")
    op.rename_table("idempotency_keys_hashed", "idempotency_keys")
    op.execute("ALTER INDEX idempotency_keys_hashed_pkey RENAME TO idempotency_keys_pkey")
    op.create_index("idempotency_keys_by_age", "idempotency_keys", ["created_at"])


def unhash_idempotency_keys() -> None:
    """Back to the old shape, empty: the clients and keys cannot be had back from their hashes."""
    op.drop_table("idempotency_keys")
    create_idempotency_keys()


def make_append_only(table: str) -> None:
    """Rows of `table` can be added, never changed or deleted (published records, chained histories)."""
    op.execute(f"""
CREATE FUNCTION {table}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '{table} is append-only';
END $$;
CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
  FOR EACH ROW EXECUTE FUNCTION {table}_append_only();
""")


def drop_append_only(table: str) -> None:
    op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}; "
               f"DROP FUNCTION IF EXISTS {table}_append_only();")
