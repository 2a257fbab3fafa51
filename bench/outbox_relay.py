"""Benchmark 2: the outbox relay, from committed rows to a consumer, beside raw kombu publishing with
confirms and consuming the same number of messages, in the same run.

    .venv/bin/python -m bench.outbox_relay [--events 20000]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import time

from kombu import Connection, Consumer, Producer, Queue
from sqlalchemy import create_engine, insert

from bench.harness import databases, report, vhost
from common.events.catalog import CASE_REGISTERED
from common.events.envelope import new_event, register_kombu_serializer
from common.outbox.relay import OutboxRelay, event_exchange
from services.complaints.models import outbox as outbox_table

QUEUE = "bench-consumer"


def event(i: int) -> dict:
    code = f"{4203917755102846 + i}"
    return new_event(CASE_REGISTERED, {
        "tracking_code": code, "kind": "complaint", "channel": "web", "urgency": "normal",
        "status": "registered", "registered_at": "2026-11-26T09:00:00Z", "reporter_mobile": "09121234567"},
        subject=code)


def declare(amqp_uri: str) -> None:
    with Connection(amqp_uri) as conn:
        exchange = event_exchange(CASE_REGISTERED.exchange)
        queue = Queue(QUEUE, exchange=exchange, routing_key="#", durable=True)
        queue(conn.default_channel).declare()
        queue(conn.default_channel).purge()


def consume(amqp_uri: str, expected: int, ready, done) -> None:
    """Consume until `expected` messages arrived; report the moment the last one did."""
    register_kombu_serializer()
    count = 0

    def on_message(body, message):
        nonlocal count
        count += 1
        message.ack()

    with Connection(amqp_uri) as conn:
        with Consumer(conn, queues=[Queue(QUEUE, durable=True)], callbacks=[on_message],
                      accept=["cloudevents"], prefetch_count=500):
            ready.set()
            while count < expected:
                conn.drain_events(timeout=60)
    done.put(time.perf_counter())


def timed(amqp_uri: str, n: int, produce) -> float:
    declare(amqp_uri)
    ctx = mp.get_context("fork")
    ready, done = ctx.Event(), ctx.Queue()
    consumer = ctx.Process(target=consume, args=(amqp_uri, n, ready, done))
    consumer.start()
    ready.wait(30)
    started = time.perf_counter()
    produce()
    finished = done.get(timeout=300)
    consumer.join()
    return finished - started


def raw_kombu(amqp_uri: str, events: list[dict]):
    def produce():
        register_kombu_serializer()
        with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
            producer = Producer(conn.default_channel, serializer="cloudevents")
            exchange = event_exchange(CASE_REGISTERED.exchange)
            for e in events:
                producer.publish(e, exchange=exchange, routing_key=e["type"], delivery_mode=2, message_id=e["id"])
    return produce


def relay(amqp_uri: str, db_url: str, events: list[dict]):
    engine = create_engine(db_url)
    with engine.begin() as conn:  # committed before the clock starts
        conn.execute(insert(outbox_table), [
            {"id": e["id"], "exchange": CASE_REGISTERED.exchange, "routing_key": e["type"], "envelope": e}
            for e in events])
    engine.dispose()

    def produce():
        r = OutboxRelay("complaints", db_url, amqp_uri, batch_size=500)
        assert r.drain() == len(events)
        r.close()
    return produce


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=20_000)
    args = parser.parse_args()
    n = args.events
    with databases() as dbs, vhost() as amqp_uri:
        base_events = [event(i) for i in range(n)]
        baseline_s = timed(amqp_uri, n, raw_kombu(amqp_uri, base_events))
        relay_events = [event(i) for i in range(n)]
        relay_s = timed(amqp_uri, n, relay(amqp_uri, dbs["complaints"], relay_events))
    report("outbox relay: committed rows to a consumer",
           {"what": "OutboxRelay.drain, batch 500, publisher confirms", "events": n,
            "seconds": round(relay_s, 2), "per_second": round(n / relay_s, 1)},
           {"what": "raw kombu publish with confirms, one connection", "events": n,
            "seconds": round(baseline_s, 2), "per_second": round(n / baseline_s, 1)})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
