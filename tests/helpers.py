from __future__ import annotations

import contextlib
import os
import threading
import time

from kombu import Connection, Producer

from common.events.catalog import BY_TYPE
from common.events.envelope import register_kombu_serializer
from common.outbox.relay import event_exchange


# a platform's ten processes start at once, beside the other test parts' work on two cores: a slow machine
# has taken over a minute; a process that exits still fails the start at once (wait_ready)
PLATFORM_READY_SECONDS = 180

# the environment of every platform a test starts: a tenth of the demo's big Shafaf datasets (3,700 rows of 37,000)
# are enough to page, search and download, and each start publishes them (services/transparency/demo_data.py)
TEST_PLATFORM_ENV = {"TRANSPARENCY_DEMO_SCALE": "0.1"}

# how long a test's gateway-style RPC waits for its answer where that bound is not what the test is about: a CI run
# on a loaded two-core machine saw a first registration through an in-process gateway take over 10 s
TEST_RPC_SECONDS = 30


def publish(amqp_uri: str, envelope: dict) -> None:
    """Publish an event exactly as the outbox relay does (a redelivery, as the broker would make it)."""
    register_kombu_serializer()
    exchange = event_exchange(BY_TYPE[envelope["type"]].exchange)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.default_channel, serializer="cloudevents")
        producer.publish(envelope, exchange=exchange, routing_key=envelope["type"], declare=[exchange],
                         delivery_mode=2, message_id=envelope["id"])


def case_registered(mobile: str | None = "09121234567", code: str = "4203917755102846") -> dict:
    from common.events.catalog import CASE_REGISTERED
    from common.events.envelope import new_event

    data = {"tracking_code": code, "kind": "complaint", "channel": "web", "urgency": "normal",
            "status": "registered", "registered_at": "2026-11-26T09:00:00Z"}
    if mobile:
        data["reporter_mobile"] = mobile
    return new_event(CASE_REGISTERED, data, subject=code)


def disbursements(n: int, mobiles=True) -> dict:
    """A `disbursements.published` event of one batch paying `n` people (each with a mobile unless not `mobiles`)."""
    from common.events.catalog import DISBURSEMENTS_PUBLISHED
    from common.events.envelope import new_event

    items = [{"order_id": f"1405-09.pension.{i:010d}", "national_id": f"{i:010d}", "amount_rials": 12_500_000,
              "province": "tehran", **({"mobile": f"0935{i:07d}"} if mobiles else {})} for i in range(n)]
    return new_event(DISBURSEMENTS_PUBLISHED, {
        "cycle_id": "1405-09.pension", "budget_line": "pension", "budget_line_fa": "مستمری",
        "month": "1405-09", "month_fa": "آذر ۱۴۰۵", "batch": 1, "batches": 1, "paid_at": "2026-11-26T09:00:00Z",
        "items": items}, subject="1405-09.pension")


def in_ci() -> bool:
    """CI=true (.ci/run sets it): every test must run there, none may skip."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@contextlib.contextmanager
def serving(app):
    """A WSGI app (a fake operator, bank or payment gateway) on a free port in this process; yields the
    server with `.url`."""
    from werkzeug.serving import make_server

    from scripts.processes import free_port

    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield server
    finally:
        server.shutdown()


def wait_for(condition, what: str, timeout: float = 20):
    """Wait, yielding to green threads, until `condition()` is truthy; its value."""
    import eventlet

    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        eventlet.sleep(0.02)
    return value


@contextlib.contextmanager
def gateway_proxy(service: str, config: dict, timeout: float = TEST_RPC_SECONDS):
    """A proxy to one service that calls it as the gateway does (gateway.rpc.RpcClient): deadlines and
    the gateway's signature, which a request naming an actor needs (common/caller_signature.py).
    `proxy.method(*args)` like nameko's ServiceRpcProxy; remote errors come back as the same exceptions."""
    from common.config import get_settings
    from gateway.rpc import RpcClient

    client = RpcClient({**get_settings().nameko_config(), **config}, timeout=timeout, fail_max=1000)

    class Proxy:
        def __getattr__(self, method):
            return lambda *args, **kwargs: client.call(service, method, *args, **kwargs)

    try:
        yield Proxy()
    finally:
        client.close()


def as_integrator(amqp_answer: dict):
    """An AMQP connection with an integrator's credentials, as its registration answered them (`amqp`)."""
    import amqp

    uri = amqp_answer["uri"].split("://", 1)[1]
    host = uri.split("@", 1)[1].split("/", 1)[0]
    connection = amqp.Connection(host=host, userid=amqp_answer["username"], password=amqp_answer["password"],
                                 virtual_host=amqp_answer["vhost"], connect_timeout=5)
    connection.connect()
    return connection


def take(channel, queue: str, count: int, arguments: dict | None = None, timeout: float = 10,
         and_the_rest: bool = False) -> list[dict]:
    """`count` messages from the queue (a stream with `arguments` from where to start), acked; with and_the_rest,
    also those that follow until none comes for half a second."""
    import json

    got = []
    channel.basic_qos(0, 100, False)
    channel.basic_consume(queue, callback=lambda m: (got.append(json.loads(m.body)), channel.basic_ack(m.delivery_tag)),
                          arguments=arguments or {})
    deadline = time.monotonic() + timeout
    while len(got) < count:
        assert time.monotonic() < deadline, f"{len(got)} of {count} messages from {queue}"
        try:
            channel.connection.drain_events(timeout=0.5)
        except TimeoutError:
            pass
    while and_the_rest:
        try:
            channel.connection.drain_events(timeout=0.5)
        except TimeoutError:
            break
    return got


@contextlib.contextmanager
def webhook_receiver():
    """A ministry system's webhook endpoint at `<url>/hook`: answers 503 to the first `app.config["failures"]`
    posts, then 204; keeps each post's (headers, body) in `app.config["posts"]`."""
    from flask import Flask, request

    app = Flask("receiver")
    app.config.update(posts=[], failures=0)

    @app.post("/hook")
    def hook():
        if app.config["failures"] > 0:
            app.config["failures"] -= 1
            return "", 503
        app.config["posts"].append((dict(request.headers), request.get_data()))
        return "", 204

    with serving(app) as server:
        server.app = app
        yield server
