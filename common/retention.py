"""Personal data kept only as long as it serves (docs/privacy.md): a timer in each service deletes the
rows older than their retention.

Timers fire in every replica at once. Each batch deletes only rows it can lock without waiting
(FOR UPDATE SKIP LOCKED), in its own short transaction: replicas purging together share the rows,
never wait on each other and never deadlock, and a row a request holds is left for the next tick.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

PURGE_BATCH = 1000


def purge_older_than(session: Session, table: Table, column: str, age: timedelta, batch: int = PURGE_BATCH) -> int:
    """Delete the rows of `table` whose `column` (a timestamp) is older than `age` by the database's
    clock; returns how many this call deleted. `session` must not be in a transaction."""
    if column not in table.c:
        raise ValueError(f"{table.name} has no column {column!r}")
    statement = text(
        f'DELETE FROM "{table.name}" WHERE ctid = ANY(ARRAY('
        f'SELECT ctid FROM "{table.name}" WHERE "{column}" < now() - :age LIMIT :batch FOR UPDATE SKIP LOCKED))')
    total = 0
    while True:
        with session.begin():
            deleted = session.execute(statement, {"age": age, "batch": batch}).rowcount
        total += deleted
        if deleted < batch:
            return total
