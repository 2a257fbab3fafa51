"""Idempotency keys: a request that creates something, sent twice with the same key, has one effect
and gets the same answer; the same key with another body is refused.

The key is reserved in the caller's transaction before the effect and its answer stored in the same
transaction, so a concurrent duplicate waits on the reservation and then reads the stored answer.

What a record keeps is the whistleblower's custody (issue 18, SPEC C17): never the client (for an
anonymous caller, its address) nor the key, only a keyed hash of the two; a keyed fingerprint of the
request; and an answer that holds no tracking code or secret: the caller keeps a reference to what it
created (`remember`) and rebuilds the answer from it on a retry (`replay`). Records are purged after
RETENTION by each service's timer (common/retention.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta
from typing import Any, Callable

from nameko.exceptions import deserialize_to_instance
from sqlalchemy import Column, DateTime, Index, MetaData, Table, Text, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session

from common.config import get_settings
from common.retention import purge_older_than

RETENTION = timedelta(hours=24)  # a client retries within minutes; a day is ample


@deserialize_to_instance
class IdempotencyConflict(Exception):
    expected = True

    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def define_idempotency_table(metadata: MetaData) -> Table:
    return Table(
        "idempotency_keys",
        metadata,
        Column("key_hash", Text, primary_key=True),  # record_key(client, key)
        Column("operation", Text, nullable=False),
        Column("fingerprint", Text, nullable=False),  # request_fingerprint(key_hash, operation, payload)
        Column("response", JSONB),  # the answer, or what `remember` kept to rebuild it
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Index("idempotency_keys_by_age", "created_at"),
    )


def _hmac_key() -> bytes:
    """Derived from the server's secret for this use alone (the same secret derives reports' secrets
    from client and key, for another purpose: a record never yields one)."""
    return hmac.new(get_settings().secret_derivation_key.encode(), b"idempotency-record", hashlib.sha256).digest()


def record_key(client: str, key: str) -> str:
    return hmac.new(_hmac_key(), f"{client}\x1f{key}".encode(), hashlib.sha256).hexdigest()


def payload_digest(operation: str, payload) -> str:
    return hashlib.sha256(json.dumps([operation, payload], sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def request_fingerprint(key_hash: str, digest: str) -> str:
    """Keyed and bound to its record: a short body (a mobile, a national id) cannot be guessed from it,
    and two records of one body do not show it."""
    return hmac.new(_hmac_key(), f"{key_hash}\x1f{digest}".encode(), hashlib.sha256).hexdigest()


def replay_or_reserve(session: Session, table: Table, key_hash: str, operation: str, payload,
                      key: str = "") -> dict | None:
    """What was kept of an earlier request with this key, or None after reserving the key for this
    one (the caller then does the work and calls `complete`). `key` only names the conflict."""
    this_request = request_fingerprint(key_hash, payload_digest(operation, payload))
    reserved = session.execute(
        insert(table).values(key_hash=key_hash, operation=operation, fingerprint=this_request)
        .on_conflict_do_nothing(index_elements=["key_hash"]).returning(table.c.key_hash)
    ).first()
    if reserved:
        return None
    earlier = session.execute(
        select(table.c.fingerprint, table.c.response).where(table.c.key_hash == key_hash)
    ).one()
    if not hmac.compare_digest(earlier.fingerprint, this_request):
        raise IdempotencyConflict(key)
    return earlier.response


def complete(session: Session, table: Table, key_hash: str, response: dict) -> None:
    session.execute(update(table).where(table.c.key_hash == key_hash).values(response=response))


def once(session: Session, table: Table, idempotency: dict | None, operation: str, payload,
         work: Callable[[], Any], remember: Callable[[Any], dict] | None = None,
         replay: Callable[[dict], Any] | None = None) -> Any:
    """Run `work` (in the caller's transaction) and return what it returns; with an idempotency
    {"client", "key"}, only the first time: a later call with the same key gets `replay` of what
    `remember` kept of the first result (by default the result itself, which must then be a dict
    holding no tracking code or secret)."""
    if not idempotency:
        return work()
    key = str(idempotency["key"])
    key_hash = record_key(str(idempotency["client"]), key)
    earlier = replay_or_reserve(session, table, key_hash, operation, payload, key)
    if earlier is not None:
        return replay(earlier) if replay else earlier
    result = work()
    complete(session, table, key_hash, remember(result) if remember else result)
    return result


def purge_idempotency_records(session: Session, table: Table) -> int:
    """The records older than RETENTION deleted (each service's timer; safe in every replica at once)."""
    return purge_older_than(session, table, "created_at", RETENTION)
