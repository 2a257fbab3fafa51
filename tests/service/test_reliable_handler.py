"""Bounded retries with back-off, then the dead-letter queue; never nameko's ack-and-drop."""
import pytest
from kombu import Connection
from nameko.testing.services import entrypoint_waiter

from common.config import get_settings
from common.events.catalog import CASE_REGISTERED
from common.events.handler import dead_letter_queue, reliable_event_handler
from tests.helpers import case_registered, publish

QUEUE = "evt-complaints-ir.behzisti.complaints.case.registered.v1--flaky.on_case"


class FlakyService:
    name = "flaky"
    failures_before_success = 0
    seen: list = []

    @reliable_event_handler("complaints", CASE_REGISTERED)
    def on_case(self, event):
        FlakyService.seen.append(event["id"])
        if len(FlakyService.seen) <= FlakyService.failures_before_success:
            raise RuntimeError("the database blinked")
        return "done"


def dead_letters(amqp_uri):
    with Connection(amqp_uri) as conn:
        queue = dead_letter_queue(QUEUE)(conn.default_channel)
        messages = []
        while (message := queue.get(no_ack=True, accept=["cloudevents", "json"])) is not None:
            messages.append(message.decode())
        return messages


def test_a_handler_that_fails_twice_succeeds_on_its_third_try(container_factory, service_config):
    FlakyService.seen, FlakyService.failures_before_success = [], 2
    container = container_factory(FlakyService, service_config)
    container.start()
    event = case_registered()
    with entrypoint_waiter(container, "on_case", callback=lambda wc, result, exc_info: result == "done",
                           timeout=10):
        publish(service_config["AMQP_URI"], event)
    assert FlakyService.seen == [event["id"]] * 3
    assert dead_letters(service_config["AMQP_URI"]) == []


def test_a_handler_that_always_fails_ends_in_the_dead_letter_queue(container_factory, service_config):
    FlakyService.seen, FlakyService.failures_before_success = [], 1000
    container = container_factory(FlakyService, service_config)
    container.start()
    event = case_registered()
    attempts = get_settings().event_max_attempts
    def all_tried(worker_ctx, result, exc_info):
        return len(FlakyService.seen) == attempts

    with entrypoint_waiter(container, "on_case", callback=all_tried, timeout=10):
        publish(service_config["AMQP_URI"], event)
    container.stop()  # nothing more will touch the queue
    assert len(FlakyService.seen) == attempts  # bounded: the first try and three retries
    letters = dead_letters(service_config["AMQP_URI"])
    assert [m["id"] for m in letters] == [event["id"]]  # kept whole, for an operator to replay


def test_the_queue_is_a_quorum_queue_with_a_delivery_limit(container_factory, service_config, rabbit_manager):
    container = container_factory(FlakyService, service_config)
    container.start()
    queue = rabbit_manager.get_queue(service_config["vhost"], QUEUE)
    assert queue["arguments"]["x-queue-type"] == "quorum"
    assert queue["arguments"]["x-delivery-limit"] > 0
    assert queue["arguments"]["x-dead-letter-exchange"] == "dead-letters"


def test_dead_letters_can_be_seen_and_replayed_once_the_cause_is_fixed(container_factory, service_config):
    from common.events.dlq import replay, show

    FlakyService.seen, FlakyService.failures_before_success = [], get_settings().event_max_attempts
    container = container_factory(FlakyService, service_config)
    container.start()
    event = case_registered()

    def all_tried(worker_ctx, result, exc_info):
        return len(FlakyService.seen) == get_settings().event_max_attempts

    with entrypoint_waiter(container, "on_case", callback=all_tried, timeout=10):
        publish(service_config["AMQP_URI"], event)

    letters = show(service_config["AMQP_URI"], QUEUE)
    assert [(m["id"], m["reason"]) for m in letters] == [(event["id"], "rejected")]
    assert show(service_config["AMQP_URI"], QUEUE) == letters  # looking leaves them in place

    # the cause is fixed (the next try succeeds); the operator replays
    with entrypoint_waiter(container, "on_case", callback=lambda wc, result, exc: result == "done", timeout=10):
        assert replay(service_config["AMQP_URI"], QUEUE) == 1
    assert FlakyService.seen[-1] == event["id"]
    assert show(service_config["AMQP_URI"], QUEUE) == []


def test_a_service_is_ready_only_once_its_queues_are_consumed(container_factory, service_config):
    """Else an event published on its readiness could find no queue and be dropped by the broker."""
    from common.observability import consumers_ready

    container = container_factory(FlakyService, service_config)
    with pytest.raises(RuntimeError, match="not consumed yet"):
        consumers_ready(container)
    container.start()
    consumers_ready(container)  # raises nothing now
