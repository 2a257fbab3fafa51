"""A handler of batches takes a few at a time, on a connection of its own: a stream of them never holds every
worker of its container, and the service's RPC still answers (common.events.handler.BulkEventHandler)."""
from eventlet.event import Event
from nameko.testing.services import entrypoint_waiter

from common.config import get_settings
from common.events.catalog import CASE_REGISTERED
from common.events.handler import bulk_event_handler
from common.rpc import rpc
from tests.helpers import case_registered, gateway_proxy, publish, wait_for

MAX_WORKERS = 6
EVENTS = 10


class BatchService:
    name = "batches"
    entered: list = []
    release = Event()

    @bulk_event_handler("complaints", CASE_REGISTERED)
    def on_batch(self, event):
        BatchService.entered.append(event["id"])
        BatchService.release.wait()
        return "kept"

    @rpc
    def ping(self):
        return "pong"


def test_batches_waiting_leave_workers_for_rpc_then_are_all_taken(container_factory, service_config):
    prefetch = get_settings().bulk_event_prefetch
    assert prefetch < MAX_WORKERS  # what this test shows needs fewer batches at a time than workers
    BatchService.entered, BatchService.release = [], Event()
    container = container_factory(BatchService, {**service_config, "max_workers": MAX_WORKERS})
    container.start()
    events = [case_registered(code=f"42039177551028{i:02d}") for i in range(EVENTS)]
    for event in events:
        publish(service_config["AMQP_URI"], event)

    wait_for(lambda: len(BatchService.entered) == prefetch, f"{prefetch} batches taken")
    with gateway_proxy("batches", service_config, timeout=10) as batches:
        assert batches.ping() == "pong"  # a worker was free though ten batches were waiting
    assert len(BatchService.entered) == prefetch  # the broker gave no more than the prefetch

    done = []
    with entrypoint_waiter(container, "on_batch", timeout=20,
                           callback=lambda wc, result, exc_info: done.append(result) or len(done) == EVENTS):
        BatchService.release.send()
    assert sorted(BatchService.entered) == sorted(e["id"] for e in events)
