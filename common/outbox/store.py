from __future__ import annotations

import json

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, MetaData, Table, Text, func, insert, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Session

from common.events import schemas
from common.events.catalog import BY_TYPE

NOTIFY_CHANNEL = "outbox"


def define_outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", UUID(as_uuid=False), primary_key=True),
        Column("seq", BigInteger, Identity(always=True), nullable=False, unique=True),
        Column("exchange", Text, nullable=False),
        Column("routing_key", Text, nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("outbox_unpublished", "seq", postgresql_where=text("published_at IS NULL")),
    )


def add(session: Session, table: Table, envelope: dict) -> None:
    """Stage an event in the caller's transaction. It is checked against its schema first: an event
    that breaks the contract fails the transaction rather than reach an integrator."""
    schemas.validate(envelope)
    event_type = BY_TYPE[envelope["type"]]
    session.execute(
        insert(table).values(
            id=envelope["id"],
            exchange=event_type.exchange,
            routing_key=event_type.type,
            envelope=envelope,
        )
    )


def add_many(session: Session, table: Table, envelopes: list[dict]) -> None:
    """Stage many events in one statement (the sweeps escalate thousands of cases at a time): each checked
    against its schema, then all sent as one JSON array that the database reads back as rows, in order
    (their `seq` follows the list). A multi-row VALUES list would be a statement of four parameters per
    event for the server to parse and plan; COPY would be quicker still, but psycopg2 refuses it under
    eventlet (copy_expert and an asynchronous wait callback), as the services run."""
    if not envelopes:
        return
    exchanges = {}
    for envelope in envelopes:
        schemas.validate(envelope)
        if envelope["type"] not in exchanges:
            exchanges[envelope["type"]] = BY_TYPE[envelope["type"]].exchange
    session.execute(text(
        f"INSERT INTO {table.name} (id, exchange, routing_key, envelope) "
        "SELECT CAST(e ->> 'id' AS uuid), CAST(:exchanges AS jsonb) ->> (e ->> 'type'), e ->> 'type', e "
        "FROM jsonb_array_elements(CAST(:envelopes AS jsonb)) WITH ORDINALITY AS v(e, ord) ORDER BY ord"),
        {"envelopes": json.dumps(envelopes, ensure_ascii=False, separators=(",", ":")),
         "exchanges": json.dumps(exchanges)})


# Used by each service's first migration. The statement-level trigger wakes the relays at commit
# (LISTEN/NOTIFY is transactional), so events leave within milliseconds without tight polling.
OUTBOX_NOTIFY_SQL = f"""
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
"""
OUTBOX_NOTIFY_DROP_SQL = "DROP TRIGGER IF EXISTS outbox_notify ON outbox; DROP FUNCTION IF EXISTS outbox_notify();"
