"""The gateway never hangs and never leaks a traceback: a stopped service is a prompt 503, a silent
one a 504 within the RPC timeout, and after repeated failures the circuit answers 503 at once."""
import time

import pytest
from kombu import Connection, Exchange, Queue

from common.config import get_settings
from gateway.app import create_app
from gateway.rpc import RpcClient

CASE = {"kind": "complaint", "text": "مستمری این ماه واریز نشده است."}
TIMEOUT = 1.0


@pytest.fixture
def gateway(rabbit_config):
    config = {**get_settings().nameko_config(), **rabbit_config}
    rpc = RpcClient(config, timeout=TIMEOUT, fail_max=2, reset_timeout=30)
    app = create_app(rpc)
    yield app.test_client()
    rpc.close()


def silent_complaints(amqp_uri):
    """complaints' RPC queue exists (the service ran once) but nothing consumes it (it stopped)."""
    with Connection(amqp_uri) as conn:
        Queue("rpc-complaints", exchange=Exchange("nameko-rpc", type="topic", durable=True),
              routing_key="complaints.*", durable=True)(conn.default_channel).declare()


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.get_json()
    assert body["code"] == code and body["message"] and "Traceback" not in response.get_data(as_text=True)
    return body


def test_a_stopped_service_is_a_prompt_503(gateway):
    started = time.perf_counter()
    response = gateway.post("/api/v1/cases", json=CASE)
    assert time.perf_counter() - started < TIMEOUT
    assert_problem(response, 503, "service_unavailable")
    assert response.headers["Retry-After"]


def test_a_silent_service_is_a_504_within_the_timeout(gateway, rabbit_config):
    silent_complaints(rabbit_config["AMQP_URI"])
    started = time.perf_counter()
    response = gateway.get("/api/v1/cases/4203917755102846")
    elapsed = time.perf_counter() - started
    assert TIMEOUT <= elapsed < TIMEOUT + 1.5
    assert_problem(response, 504, "service_timeout")


def test_after_repeated_failures_the_circuit_answers_at_once(gateway, rabbit_config):
    silent_complaints(rabbit_config["AMQP_URI"])
    for _ in range(2):  # fail_max
        assert gateway.get("/api/v1/cases/4203917755102846").status_code == 504
    started = time.perf_counter()
    response = gateway.get("/api/v1/cases/4203917755102846")
    # "at once": nothing is sent, so no wait for the RPC timeout (a bound with room for a loaded CI machine)
    assert time.perf_counter() - started < TIMEOUT / 2
    body = assert_problem(response, 503, "service_unavailable")
    assert "circuit" in body["detail"] and response.headers["Retry-After"] == "30"


def test_a_clients_mistake_does_not_open_the_circuit(container_factory, service_config):
    from services.complaints.service import ComplaintsService

    container_factory(ComplaintsService, service_config).start()
    rpc = RpcClient({**get_settings().nameko_config(), **service_config}, timeout=5, fail_max=2)
    client = create_app(rpc).test_client()
    for _ in range(4):
        assert client.get("/api/v1/cases/4203917755102846").status_code == 404
    assert rpc.breaker("complaints").current_state == "closed"
    rpc.close()


def test_a_service_whose_database_is_down_answers_503_with_the_outcome_unknown(
        container_factory, service_config, caplog):
    from services.complaints.service import ComplaintsService

    down = {**service_config, "DB_URIS": {**service_config.get("DB_URIS", {}),
                                          "complaints": "postgresql://postgres@127.0.0.1:1/gone?connect_timeout=2"}}
    container_factory(ComplaintsService, down).start()
    rpc = RpcClient({**get_settings().nameko_config(), **down}, timeout=5, fail_max=50)
    client = create_app(rpc).test_client()
    for _ in range(3):
        response = client.post("/api/v1/cases", json=CASE, headers={"Idempotency-Key": "db-down-1"})
        body = assert_problem(response, 503, "service_unavailable")
        assert response.headers["Retry-After"] and body["outcome"] == "unknown"
        assert body["idempotency_key"] == "db-down-1" and "database" in body["detail"]
    rpc.close()
    said = [r.getMessage() for r in caplog.records if r.name == "common.rpc" and "unreachable" in r.getMessage()]
    assert len(said) == 1, said  # the service says it once per outage, not per request
    assert not [r for r in caplog.records if r.name == "nameko.containers" and r.levelno >= 40]
