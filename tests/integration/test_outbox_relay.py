"""The outbox relay against real PostgreSQL and RabbitMQ: nothing committed is lost, whatever dies."""
import subprocess
import sys

import pytest
import sqlalchemy as sa
from kombu import Connection, Queue
from sqlalchemy.orm import Session

from common import outbox
from common.events.catalog import CASE_REGISTERED
from common.outbox.relay import OutboxRelay, event_exchange
from services.complaints.models import outbox as outbox_table
from tests.helpers import case_registered, wait_for


@pytest.fixture
def complaints_db(db_urls):
    engine = sa.create_engine(db_urls["complaints"])
    yield engine
    engine.dispose()


@pytest.fixture
def tap(rabbit_config):
    """A durable queue bound to every complaints event, as an integrator would bind one."""
    conn = Connection(rabbit_config["AMQP_URI"])
    queue = Queue("integrator-tap", exchange=event_exchange(CASE_REGISTERED.exchange), routing_key="#",
                  durable=True)(conn.default_channel)
    queue.declare()

    def drain():
        got = []
        while (message := queue.get(no_ack=True, accept=["cloudevents"])) is not None:
            got.append(message.decode())
        return got

    yield drain
    conn.release()


def commit_events(engine, n):
    events = [case_registered() for _ in range(n)]
    with Session(engine) as session, session.begin():
        for event in events:
            outbox.add(session, outbox_table, event)
    return events


def unpublished(engine):
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar()


def claimable(engine):
    with engine.connect() as conn:
        return len(conn.execute(sa.text("SELECT id FROM outbox WHERE published_at IS NULL "
                                        "FOR UPDATE SKIP LOCKED")).all())


def relay(db_urls, rabbit_config, **kwargs):
    return OutboxRelay("complaints", db_urls["complaints"], rabbit_config["AMQP_URI"], **kwargs)


def test_committed_events_are_published_with_confirms_and_marked(complaints_db, db_urls, rabbit_config, tap):
    events = commit_events(complaints_db, 3)
    r = relay(db_urls, rabbit_config)
    assert r.drain() == 3
    r.close()
    got = tap()
    assert [e["id"] for e in got] == [e["id"] for e in events]  # in commit order
    assert unpublished(complaints_db) == 0


def test_a_relay_that_fails_before_publishing_loses_nothing(complaints_db, db_urls, rabbit_config, tap):
    events = commit_events(complaints_db, 2)

    def broker_gone(rows):
        raise ConnectionError("broker went away")

    with pytest.raises(ConnectionError):
        relay(db_urls, rabbit_config, before_publish=broker_gone).run_once()
    assert tap() == [] and unpublished(complaints_db) == 2
    r = relay(db_urls, rabbit_config)
    assert r.drain() == 2
    r.close()
    assert sorted(e["id"] for e in tap()) == sorted(e["id"] for e in events)


def test_a_relay_killed_between_commit_and_publish_loses_nothing(complaints_db, db_urls, rabbit_config, tap):
    """A real relay process dies (os._exit, no cleanup) after claiming the rows, before publishing."""
    events = commit_events(complaints_db, 5)
    script = (
        "import os, sys\n"
        "from common.outbox.relay import OutboxRelay\n"
        "def die(rows):\n"
        "    os._exit(137)\n"
        "OutboxRelay('complaints', sys.argv[1], sys.argv[2], before_publish=die).run_once()\n"
    )
    killed = subprocess.run([sys.executable, "-c", script, db_urls["complaints"], rabbit_config["AMQP_URI"]],
                            timeout=60)
    assert killed.returncode == 137
    assert tap() == [] and unpublished(complaints_db) == 5  # its claim died with its connection
    # the server ends the dead relay's backend (and its row locks) once it reads the closed socket
    wait_for(lambda: claimable(complaints_db) == 5, "the dead relay's claim released")
    r = relay(db_urls, rabbit_config)
    assert r.drain() == 5
    r.close()
    assert sorted(e["id"] for e in tap()) == sorted(e["id"] for e in events)


def test_a_relay_killed_after_publishing_publishes_again_and_the_inbox_absorbs_it(
        complaints_db, db_urls, rabbit_config, tap):
    """At-least-once: the batch goes out again; consumers drop the copy by source+id."""
    events = commit_events(complaints_db, 1)
    r = relay(db_urls, rabbit_config)
    original_mark = "UPDATE outbox SET published_at = now() WHERE id = ANY(%s::uuid[])"
    import common.outbox.relay as relay_module

    relay_module.MARK_SQL = "SELECT %s::uuid[]"  # the mark never lands, as if killed right after publishing
    try:
        assert r.run_once() == 1
    finally:
        relay_module.MARK_SQL = original_mark
    assert r.run_once() == 1
    r.close()
    got = tap()
    assert [e["id"] for e in got] == [events[0]["id"]] * 2  # same id twice: deduplicated downstream


def test_concurrent_relays_publish_each_event_once(complaints_db, db_urls, rabbit_config, tap):
    """Three relay processes on one outbox, as three replicas would run: SKIP LOCKED splits it."""
    events = commit_events(complaints_db, 600)
    script = ("import sys\n"
              "from common.outbox.relay import OutboxRelay\n"
              "print(OutboxRelay('complaints', sys.argv[1], sys.argv[2], batch_size=20).drain())\n")
    procs = [subprocess.Popen([sys.executable, "-c", script, db_urls["complaints"], rabbit_config["AMQP_URI"]],
                              stdout=subprocess.PIPE, text=True) for _ in range(3)]
    counts = [int(p.communicate(timeout=60)[0]) for p in procs]
    got = [e["id"] for e in tap()]
    assert sum(counts) == 600
    assert sorted(got) == sorted(e["id"] for e in events)  # every event, none twice
    assert unpublished(complaints_db) == 0


def test_a_batch_the_broker_refuses_is_not_marked_published(complaints_db, db_urls, rabbit_config):
    """A queue that is full rejects new messages: the broker nacks, the relay marks nothing."""
    from common.outbox.publisher import PublishNotConfirmed

    with Connection(rabbit_config["AMQP_URI"]) as conn:
        Queue("full", exchange=event_exchange(CASE_REGISTERED.exchange), routing_key="#", durable=True,
              queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})(conn.default_channel).declare()
    commit_events(complaints_db, 3)
    r = relay(db_urls, rabbit_config)
    with pytest.raises(PublishNotConfirmed):
        r.run_once()
    assert unpublished(complaints_db) == 3


def test_every_event_also_reaches_the_event_archive(complaints_db, db_urls, rabbit_config):
    """No event is unroutable for want of a consumer: each events exchange is bound to the archive stream."""
    from common.outbox.publisher import EVENT_ARCHIVE

    commit_events(complaints_db, 2)
    r = relay(db_urls, rabbit_config)
    assert r.drain() == 2
    r.close()
    assert unpublished(complaints_db) == 0
    assert len(read_archive(rabbit_config["AMQP_URI"], EVENT_ARCHIVE, 2)) == 2


def read_archive(amqp_uri, stream, expected, timeout=10):
    """The first `expected` events of the archive stream, read from its start as an integrator would."""
    import socket
    import time

    got = []
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        channel.basic_qos(0, 100, False)  # a stream is consumed with a prefetch and manual acks
        channel.basic_consume(stream, callback=lambda m: (got.append(m), channel.basic_ack(m.delivery_tag)),
                              arguments={"x-stream-offset": "first"})
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            try:
                conn.drain_events(timeout=deadline - time.monotonic())
            except socket.timeout:
                break
    return got


def test_an_event_the_broker_returns_as_unroutable_stays_unpublished_and_is_counted(
        complaints_db, db_urls, rabbit_config):
    from common.metrics import OUTBOX_UNROUTABLE
    from common.outbox.publisher import EVENT_ARCHIVE

    r = relay(db_urls, rabbit_config)
    commit_events(complaints_db, 1)
    assert r.drain() == 1  # declares the exchange and binds the archive
    with Connection(rabbit_config["AMQP_URI"]) as conn:  # the archive's binding lost: nothing is bound
        conn.default_channel.queue_unbind(EVENT_ARCHIVE, CASE_REGISTERED.exchange, "#")
    before = OUTBOX_UNROUTABLE.labels("complaints")._value.get()
    events = commit_events(complaints_db, 3)
    r.drain()
    assert unpublished(complaints_db) == 3  # returned, kept
    assert OUTBOX_UNROUTABLE.labels("complaints")._value.get() - before == 3
    assert r.drain() == 0  # set aside: the rest of the outbox is not held up behind them
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        queue = Queue("late-consumer", exchange=event_exchange(CASE_REGISTERED.exchange), routing_key="#",
                      durable=True)(conn.default_channel)
        queue.declare()
        r._held.clear()  # the hold has passed
        assert r.drain() == 3
        got = []
        while (message := queue.get(no_ack=True, accept=["cloudevents"])) is not None:
            got.append(message.decode()["id"])
    r.close()
    assert sorted(got) == sorted(e["id"] for e in events)
    assert unpublished(complaints_db) == 0


def test_an_event_that_cannot_be_published_is_set_aside_and_the_rest_go_on(
        complaints_db, db_urls, rabbit_config, tap):
    from common.metrics import OUTBOX_SET_ASIDE

    before = commit_events(complaints_db, 2)
    with complaints_db.begin() as conn:  # a row no client can send: a routing key longer than AMQP allows
        poisoned = conn.execute(sa.text(
            "INSERT INTO outbox (id, exchange, routing_key, envelope) "
            "SELECT gen_random_uuid(), exchange, repeat('x', 300), envelope || jsonb_build_object('id', "
            "gen_random_uuid()::text) FROM outbox WHERE id = :id RETURNING id::text"),
            {"id": before[0]["id"]}).scalar()
    after = commit_events(complaints_db, 3)
    r = relay(db_urls, rabbit_config, batch_size=500)
    assert r.drain() == 5  # the batch failed once, then went out one at a time around the poisoned row
    got = [e["id"] for e in tap()]
    # every good row went out, in order; rows of the failed batch that had gone before the failure may go
    # again (at-least-once; inboxes absorb it): how many of them reached the broker first is the client's
    first_seen = list(dict.fromkeys(got))
    assert first_seen == [e["id"] for e in before + after]
    assert set(got[len(before):]) - {e["id"] for e in after} <= {e["id"] for e in before}
    assert got[-len(after):] == [e["id"] for e in after]
    assert unpublished(complaints_db) == 1
    assert OUTBOX_SET_ASIDE.labels("complaints")._value.get() == 1 and poisoned in r._held
    more = commit_events(complaints_db, 2)
    assert r.drain() == 2  # in batches again, the set-aside row not in the way
    assert [e["id"] for e in tap()] == [e["id"] for e in more]
    r.close()
