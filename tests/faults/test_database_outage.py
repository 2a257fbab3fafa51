"""The services' PostgreSQL goes away under load, twice for 12 s: a fast shutdown (clients are told
and disconnected) and an immediate one (a crash: crash recovery at the next start), while 8 citizens
register cases at the gateway, each retrying with its one Idempotency-Key on no answer or a 5xx.

While it is down: the gateway answers 503 with Retry-After and the outcome unknown (DatabaseUnavailable,
never a 500), events wait for the database instead of going to `.dlq` (common/events/handler.py),
readiness is red. After: everything resumes by itself. Counted at the edges as for the broker
(tests/faults/registrations.py): no process exited, /readyz green within 30 s, every case answered 201
readable, exactly one SMS per case, no dead letters."""
from __future__ import annotations

import functools
import time

import pytest

from tests.faults.registrations import ride_out

pytestmark = [pytest.mark.faults, pytest.mark.timeout(420)]

CLIENTS = 8
DOWN = 12.0  # seconds PostgreSQL stays stopped


def break_database(pg, mode: str) -> dict:
    began = time.monotonic()
    stopping = pg.stop(mode)
    time.sleep(DOWN)  # the length of the outage, not a synchronization
    starting = pg.start()
    return {"database_stopping_s": round(stopping, 2), "database_starting_s": round(starting, 2),
            "database_down_s": round(time.monotonic() - began, 2)}


def test_the_platform_rides_out_database_outages_under_load(fault_platform, load, fault_report):
    pg = fault_platform["pg"]
    fault_report.update({"scenario": "database outage under load", "clients": CLIENTS, "down_s": DOWN})
    faults = [(f"PostgreSQL {mode} shutdown", mode, functools.partial(break_database, pg, mode))
              for mode in ("fast", "immediate")]
    problems = ride_out(fault_platform, load(fault_platform["base"], clients=CLIENTS), faults, fault_report)
    statuses = {kind for f in fault_report["faults"] for kind in f.get("failed_attempts_by_kind", {})}
    if any(k.startswith("500") for k in statuses):
        problems.append(f"the gateway answered 500 during an outage: {sorted(statuses)}")
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
