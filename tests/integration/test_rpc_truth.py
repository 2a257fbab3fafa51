"""RPC that tells the truth (docs/operations.md): a request given up on never runs later, a reply the
broker cannot take never takes the service down, and the gateway says what it knows of the outcome."""
import time

import pytest
from kombu import Connection, Exchange, Queue
from nameko.testing.services import entrypoint_waiter

from common.config import get_settings
from common.rpc import rpc, rpc_queue_arguments
from gateway.app import create_app
from gateway.rpc import RpcClient, ServiceTimeout, ServiceUnavailable


class Recorder:
    name = "recorder"
    seen: list = []

    @rpc
    def note(self, value):
        Recorder.seen.append(value)
        return value


@pytest.fixture
def recorder():
    Recorder.seen = []
    return Recorder


def declare_rpc_queue(amqp_uri, service):
    """The service's queue as it declares it, with nobody consuming (the service is stopped)."""
    with Connection(amqp_uri) as conn:
        Queue(f"rpc-{service}", exchange=Exchange("nameko-rpc", type="topic", durable=True),
              routing_key=f"{service}.*", durable=True, queue_arguments=rpc_queue_arguments())(
            conn.default_channel).declare()


def client(config, timeout):
    return RpcClient({**get_settings().nameko_config(), **config}, timeout=timeout, fail_max=100)


def test_a_request_given_up_on_never_runs_when_the_service_comes_back(container_factory, rabbit_config, recorder):
    declare_rpc_queue(rabbit_config["AMQP_URI"], "recorder")
    gateway = client(rabbit_config, timeout=0.3)
    with pytest.raises(ServiceTimeout):
        gateway.call("recorder", "note", "given up on")
    time.sleep(0.4)  # the request's deadline passes while it waits in the queue: the condition under test
    container = container_factory(Recorder, rabbit_config)
    container.start()
    patient = client(rabbit_config, timeout=5)
    assert patient.call("recorder", "note", "asked later") == "asked later"
    assert Recorder.seen == ["asked later"]
    gateway.close()
    patient.close()


def test_a_reply_the_broker_cannot_take_is_dropped_and_the_service_lives_on(container_factory, rabbit_config,
                                                                            recorder, monkeypatch):
    from kombu.exceptions import OperationalError

    from common.rpc import _ReplyPublisher

    container = container_factory(Recorder, rabbit_config)
    container.start()
    real_publish = _ReplyPublisher.publish
    failures = []

    def broker_gone(self, payload, **kwargs):
        if not failures:
            failures.append(True)
            raise OperationalError("[Errno 111] ECONNREFUSED")
        return real_publish(self, payload, **kwargs)

    monkeypatch.setattr(_ReplyPublisher, "publish", broker_gone)
    gateway = client(rabbit_config, timeout=1)
    with entrypoint_waiter(container, "note"):
        with pytest.raises(ServiceTimeout):  # its reply was lost: the caller times out
            gateway.call("recorder", "note", "first")
    assert failures and not container._died.ready()  # nameko kills a container whose worker raised
    assert gateway.call("recorder", "note", "second") == "second"
    assert Recorder.seen == ["first", "second"]
    gateway.close()


def test_a_creating_post_that_times_out_says_the_outcome_is_unknown_and_the_key_to_retry_with(rabbit_config):
    declare_rpc_queue(rabbit_config["AMQP_URI"], "complaints")  # nobody consumes: the request times out
    app = create_app(client(rabbit_config, timeout=0.5)).test_client()
    response = app.post("/api/v1/cases", json={"kind": "complaint", "text": "مستمری این ماه واریز نشده است."})
    assert response.status_code == 504
    key = response.headers["Idempotency-Key"]  # none was sent: the gateway made one
    body = response.get_json()
    assert body["outcome"] == "unknown" and body["idempotency_key"] == key
    assert key in body["detail"] and "Idempotency-Key" in body["message"]
    again = app.post("/api/v1/cases", json={"kind": "complaint", "text": "مستمری این ماه واریز نشده است."},
                     headers={"Idempotency-Key": key})
    assert again.headers["Idempotency-Key"] == key


def test_a_request_no_service_can_take_is_a_503_that_says_nothing_was_done(rabbit_config):
    app = create_app(client(rabbit_config, timeout=2)).test_client()
    started = time.perf_counter()
    response = app.post("/api/v1/cases", json={"kind": "complaint", "text": "مستمری این ماه واریز نشده است."},
                        headers={"Idempotency-Key": "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"})
    assert time.perf_counter() - started < 1
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert response.get_json()["outcome"] == "not_done"


def test_a_request_the_broker_nacks_is_a_short_503_and_does_not_open_the_service_s_circuit(rabbit_config):
    """A quorum queue between two leaders nacks publishes; a full queue that rejects publishes does the same,
    which is how the broker is made to nack here. Nothing ran, the service did nothing wrong: the client is
    asked to retry in two seconds, and however many nacks come the circuit stays closed (once it opened, a
    node loss left registration refused for ten seconds after the new leader was elected)."""
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        Queue("rpc-recorder", exchange=Exchange("nameko-rpc", type="topic", durable=True), routing_key="recorder.*",
              queue_arguments={"x-max-length": 0, "x-overflow": "reject-publish"})(conn.default_channel).declare()
    gateway = RpcClient({**get_settings().nameko_config(), **rabbit_config}, timeout=2, fail_max=2)
    try:
        for _ in range(4):
            with pytest.raises(ServiceUnavailable) as refused:
                gateway.call("recorder", "note", "nacked")
            assert "nack" in refused.value.reason and refused.value.retry_after == 2
        assert gateway.breaker("recorder").current_state == "closed"
    finally:
        gateway.close()


def test_a_broker_that_is_gone_is_a_prompt_503_not_a_500(rabbit_config):
    gone = {**rabbit_config, "AMQP_URI": "amqp://guest:guest@127.0.0.1:1/"}
    app = create_app(client(gone, timeout=2)).test_client()
    for _ in range(2):  # and the thread's client is usable again afterwards: no broken proxy is kept
        response = app.get("/api/v1/cases/4203917755102846")
        assert response.status_code == 503 and response.headers["Retry-After"]


def test_an_older_classic_rpc_queue_is_replaced_by_a_quorum_queue(rabbit_config, rabbit_manager):
    from scripts.broker import migrate_rpc_queues

    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:  # as nameko declared it before
        Queue("rpc-recorder", exchange=Exchange("nameko-rpc", type="topic", durable=True),
              routing_key="recorder.*", durable=True)(conn.default_channel).declare()
    assert migrate_rpc_queues(uri, ["recorder"]) == ["rpc-recorder"]
    assert migrate_rpc_queues(uri, ["recorder"]) == []  # once
    vhost = uri.rsplit("/", 1)[1]
    assert rabbit_manager.get_queue(vhost, "rpc-recorder")["type"] == "quorum"


def test_a_connection_the_broker_closed_while_idle_costs_no_request(container_factory, rabbit_config, recorder,
                                                                      rabbit_manager):
    """After a broker restart every thread's connection is dead; the next call finds out before it
    publishes, and goes out on a new connection instead of failing."""
    container_factory(Recorder, rabbit_config).start()
    gateway = client(rabbit_config, timeout=5)
    assert gateway.call("recorder", "note", "before") == "before"
    line = gateway._local.line
    port = line.conn.connection.sock.getsockname()[1]
    deadline = time.monotonic() + 10
    while not (mine := [c["name"] for c in rabbit_manager.get_connections() or [] if c.get("peer_port") == port]):
        assert time.monotonic() < deadline, "the management API never listed the gateway's connection"
    rabbit_manager.delete_connection(mine[0])  # CONNECTION_FORCED, as stop_app sends it
    deadline = time.monotonic() + 10
    while line.conn.connection.sock is not None and not select_readable(line.conn.connection.sock):
        assert time.monotonic() < deadline, "the broker's close never reached the client"
    assert gateway.call("recorder", "note", "after") == "after"
    assert Recorder.seen == ["before", "after"]
    gateway.close()


def select_readable(sock) -> bool:
    import select

    return bool(select.select([sock], [], [], 0.1)[0])
