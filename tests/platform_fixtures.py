"""The running platform and what the tests put in it, defined once for the e2e and the browser tests (their
conftest.py files import these fixtures). `platform` is module-scoped: each test module starts its own platform
(real processes: services, relay, fake SMS operator, gunicorn gateway; real RabbitMQ and PostgreSQL), and the
fixtures on it are the module's as well. A module's `PLATFORM_ENV` (a dict) adds to its platform's environment:
the deadline sweep, say, runs every second only where a test waits on it (test_case_journey.py), not in every
platform beside the other test parts' work."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from kombu import Connection, Queue
from sqlalchemy.orm import Session

from common.config import PROJECT_ROOT
from common.events.catalog import exchange_of
from common.events.envelope import register_kombu_serializer
from common.outbox.relay import event_exchange
from fakes.bank.app import open_iban
from scripts.processes import free_port, platform_processes, start_platform, wait_ready
from services.complaints.demo_staff import load_demo_staff
from services.payments import budget, donations
from tests.conftest import empty_databases
from tests.e2e.casework import Api
from tests.helpers import PLATFORM_READY_SECONDS, TEST_PLATFORM_ENV
from tests.e2e.payments import cycle_reaches
from tests.e2e.transparency import LINE, PEOPLE


@pytest.fixture(scope="module")
def platform(databases, module_vhost, tmp_path_factory, request):
    empty_databases(databases)
    ports = {name: free_port() for name in ("sms-operator", "gateway")}
    ports.update({f"metrics:{name}": free_port() for name in platform_processes()})
    tap = _tap(module_vhost)  # bound before anything is published, as an integrator's queue would be
    logs = tmp_path_factory.mktemp("logs")
    # schemathesis registers hundreds of cases from one address: lift the registration limit here
    # (tests/unit/test_gateway_protection.py covers the limits themselves)
    group = start_platform(module_vhost, databases, ports, str(PROJECT_ROOT), log_dir=str(logs),
                           extra_env={"RATE_LIMIT_REGISTER": "100000/minute", "RATE_LIMIT_LOGIN": "100000/minute",
                                      "RATE_LIMIT_REGISTER_MOBILE": "100000/minute",
                                      "RATE_LIMIT_CODE_NATIONAL_ID": "100000/minute", "RATE_LIMIT_CODE_CASE": "100000/minute",
                                      **TEST_PLATFORM_ENV, **getattr(request.module, "PLATFORM_ENV", {})})
    base = f"http://127.0.0.1:{ports['gateway']}"
    try:
        try:
            wait_ready(f"{base}/readyz", group, timeout=PLATFORM_READY_SECONDS)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}; logs in {logs}") from None
        yield {"base": base, "sms": f"http://127.0.0.1:{ports['sms-operator']}", "tap": tap,
               "metrics": {name: ports[f"metrics:{name}"] for name in platform_processes()},
               "db": databases, "group": group, "logs": logs}
    finally:
        group.stop(timeout=3)  # the graceful stop has tests of its own (tests/integration/test_sigterm.py)
        tap["queue"].close()
        tap["conn"].release()


def _tap(amqp_uri):
    register_kombu_serializer()
    conn = Connection(amqp_uri)
    channel = conn.channel()
    queue = Queue("e2e-tap", durable=True)
    queue(channel).declare()
    for service in ("complaints", "notifications"):
        exchange = event_exchange(exchange_of(service))
        exchange(channel).declare()
        queue(channel).bind_to(exchange=exchange, routing_key="#")
    return {"conn": conn, "queue": conn.SimpleQueue(queue), "seen": [], "raw": []}


@pytest.fixture(scope="module")
def api(platform):
    load_demo_staff(platform["db"]["complaints"])
    return Api(platform["base"])


@pytest.fixture(scope="module")
def campaigns(platform):
    engine = sa.create_engine(platform["db"]["payments"])
    with Session(engine) as session, session.begin():
        donations.load_campaigns(session)
    engine.dispose()


@pytest.fixture(scope="module")
def funded(platform):
    engine = sa.create_engine(platform["db"]["payments"])
    with Session(engine) as session, session.begin():
        budget.load(session)
    engine.dispose()


@pytest.fixture(scope="module")
def paid(platform, api):
    """A month of the disability pension paid to three people through the gateway."""
    engine = sa.create_engine(platform["db"]["payments"])
    with Session(engine) as session, session.begin():
        budget.load(session)
    engine.dispose()
    for national_id, mobile in PEOPLE.items():
        enrolled = api.call("POST", "/api/v1/staff/payments/beneficiaries", "finance.expert", json={
            "national_id": national_id, "full_name": "مددجوی نمونه", "household_size": 2, "province": "tehran",
            "iban": open_iban(national_id), "lines": [LINE], "mobile": mobile})
        assert enrolled.status_code == 200, enrolled.text
    opened = api.call("POST", "/api/v1/staff/payments/cycles", "finance.expert",
                      headers={"Idempotency-Key": "shafaf-e2e-1405-09"}, json={"month": "1405-09", "line": LINE})
    assert opened.status_code == 201, opened.text
    cycle_id = opened.json()["id"]
    assert api.call("POST", f"/api/v1/staff/payments/cycles/{cycle_id}/approve", "finance.approver").status_code == 200
    assert cycle_reaches(api, cycle_id, "settled")["stage"] == "settled"
    return cycle_id
