"""The inbox: a consumer records each event's source+id in the same transaction as its effects, so a
redelivered event has no second effect."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from common.metrics import INBOX_DUPLICATES


def define_inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("source", Text, primary_key=True),
        Column("event_id", Text, primary_key=True),
        Column("type", Text, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def claim(session: Session, table: Table, envelope: dict) -> bool:
    """True the first time this event is seen (the caller goes on with its effects in the same
    transaction); False for a redelivery (the caller does nothing)."""
    stmt = (
        insert(table)
        .values(source=envelope["source"], event_id=envelope["id"], type=envelope["type"])
        .on_conflict_do_nothing(index_elements=["source", "event_id"])
        .returning(table.c.event_id)
    )
    if session.execute(stmt).first() is not None:
        return True
    INBOX_DUPLICATES.labels(envelope["type"]).inc()
    return False
