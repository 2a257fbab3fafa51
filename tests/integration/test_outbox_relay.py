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
from tests.helpers import case_registered


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
