"""SIGTERM to a consumer in the middle of a burst of events (what Kubernetes does on every rollout,
scale-in and node drain): the process stops within its grace period, and once a replica runs again
every event has had its effect exactly once: none lost, none doubled.

The consumer is the real process (`python -m common.run notifications`, as in docker-compose and k8s)
on a real RabbitMQ and PostgreSQL; the fake SMS operator, in this process, counts what citizens get."""
from __future__ import annotations

import time
from collections import Counter

import pytest
import requests
import sqlalchemy as sa
from kombu import Connection, Producer

from common.events.envelope import register_kombu_serializer
from common.outbox.relay import event_exchange
from tests.helpers import case_registered
from tests.integration.processes import (SHUTDOWN_TIMEOUT, Process, consuming, platform_env, queue_state, rows,
                                         wait_for)

N = 240
QUEUE = "evt-complaints-ir.behzisti.complaints.case.registered.v1--notifications.on_case_registered"


def publish_all(amqp_uri: str, events: list[dict]) -> None:
    """Publish events as the relay does (persistent, confirmed), on one connection."""
    register_kombu_serializer()
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        producer = Producer(conn.default_channel, serializer="cloudevents")
        for event in events:
            exchange = event_exchange("complaints.events")
            producer.publish(event, exchange=exchange, routing_key=event["type"], declare=[exchange],
                             delivery_mode=2, message_id=event["id"])


def burst(n: int) -> list[dict]:
    return [case_registered(mobile=f"0912{i:07d}", code=f"42{i:014d}") for i in range(n)]


@pytest.fixture
def notifications_db(db_urls):
    engine = sa.create_engine(db_urls["notifications"])
    yield engine
    engine.dispose()


def test_sigterm_during_a_burst_loses_no_event_and_doubles_no_effect(
        db_urls, rabbit_config, sms_operator, notifications_db, tmp_path):
    amqp_uri = rabbit_config["AMQP_URI"]
    operator = sms_operator.operator
    operator.control["latency_ms"] = 60  # each SMS takes a while: the burst lasts a few seconds
    env = platform_env(amqp_uri, db_urls, sms_operator.url)

    first = Process(["common.run", "notifications"], env, tmp_path / "first.log")
    second = None
    try:
        wait_for(consuming(amqp_uri, QUEUE), 30, "the first notifications process to consume")
        events = burst(N)
        publish_all(amqp_uri, events)
        wait_for(lambda: len(operator.messages) >= N // 4, 30, "a quarter of the burst to be sent")

        started = time.monotonic()
        assert first.terminate(timeout=SHUTDOWN_TIMEOUT + 10) == 0  # a graceful, clean exit
        stopped_in = time.monotonic() - started
        sent_by_first = len(operator.messages)
        assert sent_by_first < N, "the burst ended before SIGTERM: nothing was in flight"
        # what the first took and committed (its inbox rows); some of their SMS may still wait for the sweep
        handled_by_first = rows(notifications_db, "SELECT count(*) FROM inbox")[0][0]

        second = Process(["common.run", "notifications"], env, tmp_path / "second.log")
        wait_for(consuming(amqp_uri, QUEUE), 30, "the second notifications process to consume")
        wait_for(lambda: len(operator.messages) >= N, 40, "every event's SMS")
        wait_for(lambda: queue_state(amqp_uri, QUEUE)[0] == 0, 20, "the queue to be empty")
        # its last handler counts itself after its SMS went out and its message was acked
        wait_for(lambda: sum(handled(second).values()) >= N - handled_by_first, 20,
                 "the second process to count what it handled")
        handled_by_second = handled(second)
    finally:
        first.kill()
        if second:
            second.kill()

    per_mobile = Counter(m["receptor"] for m in operator.messages)
    assert len(per_mobile) == N and set(per_mobile.values()) == {1}  # every citizen, exactly once
    assert rows(notifications_db, "SELECT count(*), count(DISTINCT cause_id) FROM sms_messages")[0] == (N, N)
    assert rows(notifications_db, "SELECT count(*) FROM inbox")[0][0] == N
    assert rows(notifications_db, "SELECT count(*) FROM sms_messages WHERE status NOT IN ('sent', 'delivered')") \
        == [(0,)]
    assert queue_state(amqp_uri, QUEUE + ".dlq")[0] == 0
    # the first process finished and acked what it had taken: the second handled only the rest
    assert sent_by_first <= handled_by_first < N
    assert handled_by_second == {"ok": N - handled_by_first}
    assert stopped_in < SHUTDOWN_TIMEOUT


def handled(process: Process) -> dict[str, int]:
    """events_handled_total of one process, by outcome, from its /metrics (a duplicate the inbox
    dropped counts as ok; inbox_duplicates_total counts it as well)."""
    text = requests.get(f"http://127.0.0.1:{process.port}/metrics", timeout=5).text
    counts: Counter = Counter()
    for line in text.splitlines():
        if line.startswith(("events_handled_total{", "inbox_duplicates_total{")):
            labels, value = line.rsplit(" ", 1)
            key = "duplicate" if line.startswith("inbox") else labels.split('outcome="')[1].split('"')[0]
            counts[key] += int(float(value))
    return dict(counts)


def test_workers_stuck_past_the_shutdown_timeout_are_killed_and_their_events_handled_once_by_another(
        db_urls, rabbit_config, sms_operator, notifications_db, tmp_path):
    """An operator that hangs: SIGTERM cannot wait for it. At SHUTDOWN_TIMEOUT the process kills its
    workers (before Kubernetes' SIGKILL would): their transactions roll back or stay committed with
    their inbox row, their messages go back to the queue, and the next replica handles each event once."""
    amqp_uri = rabbit_config["AMQP_URI"]
    operator = sms_operator.operator
    operator.control["latency_ms"] = 4000  # under SMS_TIMEOUT (5 s): sends hang, then succeed
    n, timeout = 40, 2
    env = platform_env(amqp_uri, db_urls, sms_operator.url, SHUTDOWN_TIMEOUT=str(timeout))

    first = Process(["common.run", "notifications"], env, tmp_path / "first.log")
    second = None
    try:
        wait_for(consuming(amqp_uri, QUEUE), 30, "the first notifications process to consume")
        publish_all(amqp_uri, burst(n))
        wait_for(lambda: rows(notifications_db, "SELECT count(*) FROM inbox")[0][0] >= 10, 20,
                 "workers to be in flight")
        started = time.monotonic()
        assert first.terminate(timeout=timeout + 10) == 0
        stopped_in = time.monotonic() - started
        assert timeout <= stopped_in < timeout + 5  # waited for the workers, then killed them at the bound

        operator.control["latency_ms"] = 0
        second = Process(["common.run", "notifications"], env, tmp_path / "second.log")
        wait_for(consuming(amqp_uri, QUEUE), 30, "the second notifications process to consume")
        wait_for(lambda: rows(notifications_db, "SELECT count(*) FROM inbox")[0][0] >= n
                 and queue_state(amqp_uri, QUEUE)[0] == 0, 30, "every event to be recorded")
        wait_for(lambda: handled(second).get("ok", 0) + handled(second).get("dead_lettered", 0)
                 >= n - 10, 30, "the second process to take the rest")
    finally:
        first.kill()
        if second:
            second.kill()

    # every event recorded once, with its one message; the killed ones were redelivered and dropped
    # by the inbox, or rolled back and done again
    assert rows(notifications_db, "SELECT count(*), count(DISTINCT cause_id) FROM sms_messages")[0] == (n, n)
    assert rows(notifications_db, "SELECT count(*) FROM inbox")[0][0] == n
    assert max(Counter(m["receptor"] for m in operator.messages).values()) == 1
    assert queue_state(amqp_uri, QUEUE + ".dlq")[0] == 0
