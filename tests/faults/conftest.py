"""Fixtures of the fault-injection suite. It owns everything it breaks, so the rest of the suite never
notices: its own RabbitMQ node (scripts/rabbit_nodes.py, free ports, a directory under /tmp), its own
embedded PostgreSQL, and the platform's real processes on them.

- `fault_pg` (session): FaultPostgres, the four services' databases migrated; .urls, .stop(mode), .start()
- `fault_broker` (session): a RabbitNode running, stopped and removed at the end
- `fault_platform` (module): the platform on a fresh vhost of that node and on emptied databases; a dict
  with base, sms, group, logs, broker, vhost, amqp_uri, pg, ports (`platform_on`: the same, for a module
  whose platform reaches its databases another way or runs with other settings)
- `load` (function): load(base, clients=8, ...) starts a LoadGenerator, aborted at the test's end
- `fault_report` (function): a dict the test fills, written to test-artifacts/faults/<test>.json even when
  the test fails

At the session's start, nodes left by an aborted earlier run (their test process gone) are killed.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import pytest

from common.config import PROJECT_ROOT, SERVICES
from scripts.processes import free_port, platform_processes, start_platform, wait_ready
from scripts.rabbit_nodes import RabbitNode, RabbitNodeError
from scripts.rabbit_nodes import cleanup as cleanup_stale_nodes
from tests.conftest import empty_databases
from tests.helpers import PLATFORM_READY_SECONDS, TEST_PLATFORM_ENV
from tests.faults.harness import (
    FaultPostgres,
    LoadGenerator,
    cleanup_stale_postgres,
    log_tail,
    new_pg_dir,
    write_report,
)

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "faults"
# the limits protect the gateway from one address; here eight clients share 127.0.0.1 on purpose
# (tests/unit/test_gateway_protection.py tests the limits themselves)
# the load's clients share 127.0.0.1 and retry: every budget lifted (the limits have tests of their own)
LIFTED_LIMITS = {name: "100000/minute" for name in (
    "RATE_LIMIT_REGISTER", "RATE_LIMIT_LOGIN", "RATE_LIMIT_DEFAULT", "RATE_LIMIT_REGISTER_MOBILE",
    "RATE_LIMIT_CODE_NATIONAL_ID", "RATE_LIMIT_CODE_CASE")}


@pytest.fixture(scope="session", autouse=False)
def _leftovers_removed():
    """RabbitMQ nodes and PostgreSQL servers of this suite whose test process is gone (an aborted run):
    killed, their directories removed. Those of a session running now are left alone."""
    removed = cleanup_stale_nodes() + cleanup_stale_postgres()
    if removed:
        print(f"\nremoved what an earlier, aborted run left: {removed}")
    return removed


@pytest.fixture(scope="session")
def fault_pg(_leftovers_removed):
    """The suite's own embedded PostgreSQL with the services' databases migrated."""
    pg = FaultPostgres(new_pg_dir())
    try:
        pg.migrate()
        yield pg
    finally:
        pg.close()  # stopped if it runs, and its directory removed


@pytest.fixture(scope="session")
def fault_broker(_leftovers_removed):
    """A RabbitMQ node of the suite's own (not the machine's broker), stopped and removed at the end even
    when a test fails; the platform's policies are put on each vhost the platform uses."""
    node = RabbitNode(f"welfare-faults-{os.getpid()}")  # its own name: two sessions may run at once
    try:
        node.start()
        yield node
    finally:
        node.stop()


def ensure_running(node: RabbitNode) -> None:
    """Bring back a node a test left down (app stopped, or killed), and clear its alarms."""
    if node.os_pid() is None:
        node.start()
    elif not node.listening():
        node.start_app()
    alarms = node.alarms()
    if "memory" in alarms:
        node.set_memory_alarm(False)
    if "disk" in alarms:
        node.set_disk_alarm(False)


@pytest.fixture(scope="module")
def fault_platform(request, fault_broker, fault_pg, tmp_path_factory):
    """Every process of the platform (scripts.processes.start_platform) on a fresh vhost of the suite's
    node and on the suite's emptied databases, ready (/readyz green, every event queue declared)."""
    with platform_on(request.module.__name__, fault_broker, fault_pg, tmp_path_factory.mktemp("fault-logs")) as platform:
        yield platform


@contextmanager
def platform_on(module: str, broker: RabbitNode, pg: FaultPostgres, logs, db_urls: dict | None = None,
                extra_env: dict | None = None):
    """fault_platform's platform, for a module that needs its own: its processes reach the databases at
    `db_urls` (pg.urls by default; e.g. through a proxy that can cut the link) with `extra_env` besides.
    The test's own reads and counts use pg.urls, never the proxy."""
    from common.health import event_queues, missing_queues
    from tests.faults.harness import wait_until

    ensure_running(broker)
    vhost = f"faults-{module.rsplit('.', 1)[-1]}-{uuid.uuid4().hex[:6]}"
    amqp_uri = broker.add_vhost(vhost)
    broker.set_policies(vhost)
    if not pg.running():
        pg.start()
    empty_databases(pg.urls)
    ports = {name: free_port() for name in ("sms-operator", "gateway")}
    ports.update({f"metrics:{name}": free_port() for name in platform_processes()})
    group = start_platform(amqp_uri, db_urls or pg.urls, ports, str(PROJECT_ROOT), log_dir=str(logs),
                           extra_env={**TEST_PLATFORM_ENV, **LIFTED_LIMITS, "LOG_LEVEL": os.environ.get("FAULTS_LOG_LEVEL", "INFO"),
                                      **(extra_env or {})})
    base = f"http://127.0.0.1:{ports['gateway']}"
    try:
        try:
            wait_ready(f"{base}/readyz", group, timeout=PLATFORM_READY_SECONDS)
        except RuntimeError as exc:
            tails = "\n".join(f"--- {name} ---\n{log_tail(logs, name, 15)}" for name in group.exited())
            raise AssertionError(f"the platform did not start: {exc}; logs in {logs}\n{tails}") from None
        queues = event_queues()
        if not wait_until(lambda: not missing_queues(amqp_uri, queues), 30):
            raise AssertionError(f"event queues not declared within 30s: {missing_queues(amqp_uri, queues)}")
        yield {"base": base, "sms": f"http://127.0.0.1:{ports['sms-operator']}", "group": group, "logs": logs,
               "broker": broker, "vhost": vhost, "amqp_uri": amqp_uri, "pg": pg, "ports": ports,
               "services": SERVICES}
    finally:
        group.stop()
        try:
            ensure_running(broker)
            broker.delete_vhost(vhost)
        except RabbitNodeError as exc:
            print(f"could not remove vhost {vhost}: {exc}")


@pytest.fixture
def load():
    """load(base, clients=8, count=None, duration=None, ...) -> a started LoadGenerator; every generator
    is aborted (no new cases, no more retries) when the test ends."""
    made: list[LoadGenerator] = []

    def start(base: str, **options) -> LoadGenerator:
        generator = LoadGenerator(base, **options).start()
        made.append(generator)
        return generator

    yield start
    for generator in made:
        generator.abort()
    for generator in made:
        generator.join(30)


@pytest.fixture
def fault_report(request):
    """A dict for the test's figures, written to test-artifacts/faults/<module>.<test>.json at its end
    (pass or fail), for docs."""
    report: dict = {"test": request.node.nodeid}
    yield report
    name = f"{request.module.__name__.rsplit('.', 1)[-1]}.{request.node.name}.json"
    path = write_report(ARTIFACTS / name, report)
    print(f"\nfault figures: {path}")
