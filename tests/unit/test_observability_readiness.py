"""What the Kubernetes probes and the alerts rely on: /readyz fails when the broker or a database is
unreachable (or silent), /healthz keeps answering whatever the dependencies do, every check is a
`dependency_up` gauge, the payment cycle gauges, and the schema check new pods wait on."""
from __future__ import annotations

import threading
import time
import uuid
from types import SimpleNamespace

import psycopg2
import pytest
import requests
from prometheus_client import REGISTRY

from common import ops_server
from common.config import with_database
from scripts.processes import free_port

NOWHERE_AMQP = "amqp://guest:guest@127.0.0.1:1/"  # nothing listens on port 1: refused at once
NOWHERE_DB = "postgresql://postgres@127.0.0.1:1/nothing"


def gauge(name: str, **labels) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


@pytest.fixture
def serve():
    servers = []

    def start(checks, **kwargs):
        port = free_port()
        servers.append(ops_server.start_ops_server(port, checks, host="127.0.0.1", **kwargs))
        return f"http://127.0.0.1:{port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_readyz_fails_when_the_broker_is_unreachable(serve):
    url = serve({"broker": ops_server.broker_check(NOWHERE_AMQP)}, refresh_seconds=0)
    answer = requests.get(f"{url}/readyz", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["checks"]["broker"].startswith("unreachable")
    assert gauge("dependency_up", dependency="broker") == 0


def test_readyz_fails_when_the_database_is_unreachable(serve):
    checks = {"broker": lambda: None, "db:complaints": ops_server.database_check(NOWHERE_DB)}
    answer = requests.get(f"{serve(checks, refresh_seconds=0)}/readyz", timeout=10)
    assert answer.status_code == 503
    assert answer.json()["checks"] == {"broker": "ok", "db:complaints": answer.json()["checks"]["db:complaints"]}
    assert answer.json()["checks"]["db:complaints"].startswith("unreachable: OperationalError")
    assert gauge("dependency_up", dependency="db:complaints") == 0 and gauge("dependency_up", dependency="broker") == 1


def test_readyz_answers_ok_when_every_dependency_answers(serve, pg_url):
    checks = {"broker": lambda: None, "db:complaints": ops_server.database_check(pg_url)}
    answer = requests.get(f"{serve(checks, refresh_seconds=0)}/readyz", timeout=10)
    assert answer.status_code == 200 and answer.json()["status"] == "ok"
    assert gauge("dependency_up", dependency="db:complaints") == 1


def test_a_silent_dependency_fails_readiness_in_bounded_time_and_never_holds_healthz(serve):
    """A firewalled database answers nothing at all: the check gives up at its timeout, and liveness
    (/healthz) and /metrics answer meanwhile (a liveness probe must not restart the process for it)."""
    release = threading.Event()
    checks = {"broker": lambda: None, "db:payments": lambda: release.wait(30)}
    url = serve(checks, refresh_seconds=0)
    answers = {}

    def probe():
        started = time.monotonic()
        answers["readyz"] = requests.get(f"{url}/readyz", timeout=20)
        answers["took"] = time.monotonic() - started

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        for _ in range(3):  # while /readyz waits on the silent database
            assert requests.get(f"{url}/healthz", timeout=2).status_code == 200
            assert requests.get(f"{url}/metrics", timeout=2).status_code == 200
        prober.join(ops_server.CHECK_TIMEOUT + 5)
    finally:
        release.set()
    assert answers["readyz"].status_code == 503
    assert "no answer within" in answers["readyz"].json()["checks"]["db:payments"]
    assert answers["took"] < ops_server.CHECK_TIMEOUT + 2


def test_every_process_checks_the_broker_even_when_it_names_no_check(serve, monkeypatch):
    """The gateway starts its ops server with no checks (gateway/gunicorn.conf.py): it still reports
    an unreachable broker, from its settings."""
    assert set(ops_server.with_broker({}, NOWHERE_AMQP)) == {"broker"}
    mine = {"broker": lambda: None}
    assert ops_server.with_broker(mine, NOWHERE_AMQP)["broker"] is mine["broker"]
    monkeypatch.setattr("common.config.get_settings", lambda: SimpleNamespace(amqp_uri=NOWHERE_AMQP))
    answer = requests.get(f"{serve({}, refresh_seconds=0)}/readyz", timeout=10)
    assert answer.status_code == 503 and list(answer.json()["checks"]) == ["broker"]


def test_dependency_gauges_are_refreshed_without_any_probe(serve):
    state = {"up": False}

    def flapping():
        if not state["up"]:
            raise ConnectionError("down")

    serve({"broker": lambda: None, "db:flapping": flapping}, refresh_seconds=0.05)
    deadline = time.monotonic() + 5
    while gauge("dependency_up", dependency="db:flapping") != 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the refresher runs on its own thread; nothing to wait on but its effect
    assert gauge("dependency_up", dependency="db:flapping") == 0
    state["up"] = True
    while gauge("dependency_up", dependency="db:flapping") != 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert gauge("dependency_up", dependency="db:flapping") == 1


def test_a_service_is_not_ready_when_its_broker_or_database_is_unreachable():
    """The checks every nameko service's Observability gives its ops server."""
    from common.db import Database, make_engine
    from common.observability import Observability

    database = Database("complaints")
    database.engine = make_engine(NOWHERE_DB, pool_size=1, max_overflow=0)
    observability = Observability()
    observability.container = SimpleNamespace(config={"AMQP_URI": NOWHERE_AMQP}, dependencies=[database],
                                              extensions=[])
    checks = observability.readiness_checks()
    assert set(checks) == {"broker", "db:complaints", "consumers"}
    ok, results = ops_server.run_checks(checks)
    assert not ok and results["broker"].startswith("unreachable") and results["db:complaints"].startswith("unreachable")
    database.engine.dispose()


def test_payment_cycle_gauges_give_every_stage_a_value():
    from common.metrics import PAYMENT_CYCLE_STAGES, record_payment_cycles

    record_payment_cycles([("bank_file_sent", 120.0), ("bank_file_sent", 4000.5), ("open", 3)])
    assert gauge("payment_cycles", stage="bank_file_sent") == 2
    assert gauge("payment_cycle_stage_age_seconds", stage="bank_file_sent") == 4000.5
    assert gauge("payment_cycle_stage_age_seconds", stage="open") == 3
    record_payment_cycles([])  # the cycles moved on: nothing waits anywhere any more
    for stage in PAYMENT_CYCLE_STAGES:
        assert gauge("payment_cycles", stage=stage) == 0
        assert gauge("payment_cycle_stage_age_seconds", stage=stage) == 0


# the schema a new version's pods wait for (k8s initContainer wait-for-schema) ------------------------------
@pytest.fixture
def scratch_db(pg_url):
    from common.db import drop_database, ensure_database

    url = with_database(pg_url, f"test_schema_{uuid.uuid4().hex[:8]}")
    ensure_database(url)
    yield url
    drop_database(url)


def _stamp(url: str, revision: str | None) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE IF NOT EXISTS alembic_version (version_num varchar(32) PRIMARY KEY)")
        cur.execute("DELETE FROM alembic_version")
        if revision:
            cur.execute("INSERT INTO alembic_version VALUES (%s)", (revision,))
    conn.close()


def test_the_schema_check_knows_behind_current_and_ahead(scratch_db):
    from alembic.script import ScriptDirectory

    from common.health import schema_state
    from common.migrations import alembic_config, upgrade

    scripts = ScriptDirectory.from_config(alembic_config("transparency", scratch_db))
    revisions = [s.revision for s in scripts.walk_revisions()]  # newest first
    assert schema_state("transparency", scratch_db) == "behind"  # never migrated
    upgrade("transparency", scratch_db)
    assert schema_state("transparency", scratch_db) == "current"
    if len(revisions) > 1:
        _stamp(scratch_db, revisions[-1])
        assert schema_state("transparency", scratch_db) == "behind"  # an older revision
    _stamp(scratch_db, "fffffffffff0")
    assert schema_state("transparency", scratch_db) == "ahead"  # a newer version migrated: old pods go on


def test_wait_for_schema_waits_until_the_migration_then_lets_the_pod_start(scratch_db, monkeypatch):
    from common import health
    from common.migrations import upgrade

    monkeypatch.setattr("common.config.get_settings",
                        lambda: SimpleNamespace(database_url_for=lambda service: scratch_db))
    assert health.wait_for_schema(["transparency"], timeout=0.3, interval=0.1) is False
    migrating = threading.Thread(target=upgrade, args=("transparency", scratch_db))
    migrating.start()  # the migrations Job, meanwhile
    assert health.wait_for_schema(["transparency"], timeout=60, interval=0.1) is True
    migrating.join()
