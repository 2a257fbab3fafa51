"""Queues declared by an older version (event queues with a delivery limit of 10, `.dlq` queues with
none) cannot be declared again with this version's arguments (PRECONDITION_FAILED). The migration of
scripts/rabbitmq_policies.py recreates them with every message kept: dead letters stay dead letters (their
x-death too), pending events are handled once the service runs, bindings survive. Real broker, a fresh
vhost; waits are bounded loops on the broker's state or the handler's calls."""
from __future__ import annotations


import pytest
from kombu import Connection, Consumer, Queue

from common.events import dlq
from common.events.catalog import CASE_REGISTERED
from common.outbox.relay import event_exchange
from common.events.handler import (
    dead_letter_exchange, dead_letter_queue_arguments, event_queue_arguments, reliable_event_handler,
)
from scripts.rabbitmq_policies import MIGRATING_PREFIX, migrate_queues, queues_to_migrate
from tests.helpers import wait_for, case_registered, publish

QUEUE = "evt-complaints-ir.behzisti.complaints.case.registered.v1--migrated.on_case"
DLQ = QUEUE + ".dlq"
OLD_EVENT_QUEUE = {"x-queue-type": "quorum", "x-delivery-limit": 10, "x-dead-letter-exchange": "dead-letters",
                   "x-dead-letter-routing-key": QUEUE}
OLD_DEAD_LETTER_QUEUE = {"x-queue-type": "quorum"}


class MigratedService:
    name = "migrated"
    handled: list = []

    @reliable_event_handler("complaints", CASE_REGISTERED)
    def on_case(self, event):
        MigratedService.handled.append(event["id"])



def declare_as_the_old_version(amqp_uri: str) -> None:
    with Connection(amqp_uri) as conn:
        Queue(QUEUE, exchange=event_exchange(CASE_REGISTERED.exchange), routing_key=str(CASE_REGISTERED), durable=True,
              queue_arguments=OLD_EVENT_QUEUE)(conn.channel()).declare()
        Queue(DLQ, exchange=dead_letter_exchange(), routing_key=QUEUE, durable=True,
              queue_arguments=OLD_DEAD_LETTER_QUEUE)(conn.channel()).declare()


def reject_to_dead_letters(amqp_uri: str, count: int) -> None:
    """Take `count` messages off QUEUE and reject them: the broker dead-letters them to DLQ (x-death)."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        for _ in range(count):
            message = wait_for(lambda: channel.basic_get(QUEUE, no_ack=False), "a message to reject")
            channel.basic_reject(message.delivery_tag, requeue=False)


def messages(amqp_uri: str, queue: str) -> int:
    with Connection(amqp_uri) as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=True)[1]


def test_queues_of_an_older_version_are_migrated_with_every_message(
        rabbit_config, rabbit_manager, container_factory, service_config):
    amqp_uri, vhost = rabbit_config["AMQP_URI"], rabbit_config["vhost"]
    declare_as_the_old_version(amqp_uri)
    dead = [case_registered(code=f"42039177551028{i:02d}") for i in range(2)]
    for event in dead:
        publish(amqp_uri, event)
    reject_to_dead_letters(amqp_uri, len(dead))
    pending = [case_registered(code=f"42039177551029{i:02d}") for i in range(3)]
    for event in pending:
        publish(amqp_uri, event)
    assert (messages(amqp_uri, QUEUE), messages(amqp_uri, DLQ)) == (3, 2)

    # this version cannot declare them: it says what to run
    with pytest.raises(RuntimeError, match="--migrate-queues"):
        container_factory(MigratedService, service_config).start()
    assert queues_to_migrate(amqp_uri) == [QUEUE, DLQ]

    # a queue something consumes is left alone (its service must be stopped first); the others go on
    with Connection(amqp_uri) as conn:
        consumer = Consumer(conn.channel(), queues=[Queue(QUEUE, no_declare=True)], callbacks=[lambda *_: None],
                            prefetch_count=1)
        consumer.consume()
        done, skipped = migrate_queues(amqp_uri, strict=False)
        assert list(done) == [DLQ] and "consumer" in skipped[QUEUE]
        consumer.cancel()
    done, skipped = migrate_queues(amqp_uri)
    assert (done, skipped) == ({QUEUE: 3}, {})
    assert queues_to_migrate(amqp_uri) == []

    assert rabbit_manager.get_queue(vhost, QUEUE)["arguments"] == event_queue_arguments(QUEUE)
    assert rabbit_manager.get_queue(vhost, DLQ)["arguments"] == dead_letter_queue_arguments()
    assert not [q for q in rabbit_manager.get_queues(vhost) if q["name"].startswith(MIGRATING_PREFIX)]
    letters = dlq.show(amqp_uri, QUEUE)  # the dead letters, whole, with why they died
    assert sorted((m["id"], m["reason"]) for m in letters) == sorted((e["id"], "rejected") for e in dead)

    # the service starts now, handles what was pending and what is published after (the bindings held)
    MigratedService.handled = []
    container_factory(MigratedService, service_config).start()
    later = case_registered(code="4203917755103000")
    publish(amqp_uri, later)
    expected = sorted(e["id"] for e in [*pending, later])
    wait_for(lambda: sorted(MigratedService.handled) == expected, "every pending and later event")
    assert messages(amqp_uri, DLQ) == 2


def test_an_interrupted_migration_is_finished_by_the_next_run(rabbit_config, rabbit_manager):
    """Stopped after the old `.dlq` was deleted: its messages wait in the temporary queue, which holds its
    bindings; the next run declares it anew, binds it and moves them back."""
    amqp_uri, vhost = rabbit_config["AMQP_URI"], rabbit_config["vhost"]
    temp = MIGRATING_PREFIX + DLQ
    with Connection(amqp_uri) as conn:
        Queue(temp, exchange=dead_letter_exchange(), routing_key=QUEUE, durable=True,
              queue_arguments=dead_letter_queue_arguments())(conn.channel()).declare()
    events = [case_registered(code=f"42039177551030{i:02d}") for i in range(2)]
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        from kombu import Producer

        for event in events:  # dead-lettered meanwhile: routed to the temporary queue
            Producer(conn.channel()).publish(event, exchange=dead_letter_exchange(), routing_key=QUEUE,
                                             serializer="json", message_id=event["id"])
    assert queues_to_migrate(amqp_uri) == [DLQ]

    done, skipped = migrate_queues(amqp_uri)
    assert (done, skipped) == ({DLQ: 2}, {})
    assert rabbit_manager.get_queue(vhost, DLQ)["arguments"] == dead_letter_queue_arguments()
    assert not [q for q in rabbit_manager.get_queues(vhost) if q["name"].startswith(MIGRATING_PREFIX)]
    bindings = rabbit_manager.get_queue_bindings(vhost, DLQ)
    assert {(b["source"], b["routing_key"]) for b in bindings if b["source"]} == {("dead-letters", QUEUE)}
    assert sorted(m["id"] for m in dlq.show(amqp_uri, QUEUE)) == sorted(e["id"] for e in events)
