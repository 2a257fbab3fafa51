"""Idempotency keys: a request that creates something, sent twice with the same key, has one effect
and gets the same answer; the same key with another body is refused.

The key is reserved in the caller's transaction before the effect and its answer stored in the same
transaction, so a concurrent duplicate waits on the reservation and then reads the stored answer.
"""
from __future__ import annotations

import hashlib
import json
from typing import Callable

from nameko.exceptions import deserialize_to_instance
from sqlalchemy import Column, DateTime, MetaData, Table, Text, func, select, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.orm import Session


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
        Column("client", Text, primary_key=True),
        Column("key", Text, primary_key=True),
        Column("operation", Text, nullable=False),
        Column("fingerprint", Text, nullable=False),
        Column("response", JSONB),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def fingerprint(payload) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def replay_or_reserve(session: Session, table: Table, client: str, key: str, operation: str,
                      payload) -> dict | None:
    """The stored answer of an earlier request with this key, or None after reserving the key for
    this one (the caller then does the work and calls `complete`)."""
    this_request = fingerprint([operation, payload])
    reserved = session.execute(
        insert(table).values(client=client, key=key, operation=operation, fingerprint=this_request)
        .on_conflict_do_nothing(index_elements=["client", "key"]).returning(table.c.key)
    ).first()
    if reserved:
        return None
    earlier = session.execute(
        select(table.c.fingerprint, table.c.response).where(table.c.client == client, table.c.key == key)
    ).one()
    if earlier.fingerprint != this_request:
        raise IdempotencyConflict(key)
    return earlier.response


def complete(session: Session, table: Table, client: str, key: str, response: dict) -> None:
    session.execute(update(table).where(table.c.client == client, table.c.key == key).values(response=response))


def once(session: Session, table: Table, idempotency: dict | None, operation: str, payload,
         work: Callable[[], dict], redact: tuple[str, ...] = ()) -> dict:
    """Run `work` (in the caller's transaction) and return its answer; with an idempotency
    {"client", "key"}, only the first time: later calls with the same key get the first answer,
    less the `redact`ed fields, which are never stored (the caller derives them again)."""
    if not idempotency:
        return work()
    client, key = idempotency["client"], idempotency["key"]
    earlier = replay_or_reserve(session, table, client, key, operation, payload)
    if earlier is not None:
        return earlier
    answer = work()
    complete(session, table, client, key, {k: v for k, v in answer.items() if k not in redact})
    return answer
