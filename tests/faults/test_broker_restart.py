"""The broker goes away under load, three times: two graceful restarts (`rabbitmqctl stop_app` for
about 8 s, then `start_app`: clients get CONNECTION_FORCED) and one crash (`kill -9` of the node's VM,
then a start on the same data: clients get EOF or ECONNRESET), while 8 citizens register cases at the
gateway, each retrying with its one Idempotency-Key on no answer or a 5xx.

docs/design.md, "Delivery under faults": a broker that goes away is weather. So, counted at the edges
(tests/faults/registrations.py): no platform process exits; /readyz is green within 30 s of the broker's
return each time; every case answered 201 can be followed by its tracking code; each of those citizens
gets exactly one SMS at the fake operator (none lost, none doubled); no message is dead-lettered. The
figures per fault go to test-artifacts/faults/ for docs/."""
from __future__ import annotations

import functools
import time

import pytest

from tests.faults.registrations import ride_out

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

CLIENTS = 8
DOWN = 8.0  # seconds the broker's app stays stopped in a graceful restart


def break_broker(node, kind: str) -> dict:
    """One fault; what it took. Returns when the broker has booted again and listens."""
    began = time.monotonic()
    if kind == "graceful":
        node.stop_app()
        stopped = time.monotonic()
        time.sleep(DOWN)  # the length of the outage, not a synchronization
        back_in = node.start_app()
    else:
        node.kill9()
        stopped = time.monotonic()
        back_in = node.start()  # on the same data: quorum queues recover from their logs
    return {"broker_stopping_s": round(stopped - began, 2), "broker_starting_s": round(back_in, 2),
            "broker_down_s": round(time.monotonic() - began, 2)}


def test_the_platform_rides_out_broker_restarts_under_load(fault_platform, load, fault_report):
    node = fault_platform["broker"]
    fault_report.update({"scenario": "broker restart under load", "clients": CLIENTS, "graceful_down_s": DOWN,
                         "broker": node.node})
    faults = [(label, kind, functools.partial(break_broker, node, kind))
              for label, kind in [("graceful restart 1", "graceful"), ("graceful restart 2", "graceful"),
                                  ("kill -9", "kill")]]
    problems = ride_out(fault_platform, load(fault_platform["base"], clients=CLIENTS), faults, fault_report)
    if problems:  # one message saying all that went wrong, without this function's source around it
        pytest.fail("\n\n".join(problems), pytrace=False)
