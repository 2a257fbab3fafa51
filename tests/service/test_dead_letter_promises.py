"""Dead letters that keep their promise, on the real broker (common/events/handler.py, common/events/dlq.py):
only a message its handler failed on reaches `.dlq`, never one that was merely delivered again after
disconnects; reading `.dlq` never drops a message; a replay that cannot deliver keeps the message; the
handler's tries are counted by message id. Synchronised on the broker's state and the handlers' calls,
with bounded waits, never on sleeps."""
from __future__ import annotations

import logging
import socket
import sys
import time
from types import SimpleNamespace

import eventlet
import pytest
import sqlalchemy as sa
from kombu import Connection, Producer
from nameko.extensions import DependencyProvider
from nameko.testing.utils import get_extension

from common.config import get_settings
from common.events import dlq
from common.events.catalog import CASE_REGISTERED
from common.events.envelope import register_kombu_serializer
from common.events.handler import DLQ_DELIVERY_LIMIT, ReliableEventHandler, reliable_event_handler
from common.outbox.relay import event_exchange
from tests.helpers import wait_for, case_registered, publish

QUEUE = "evt-complaints-ir.behzisti.complaints.case.registered.v1--promises.on_case"
DLQ = QUEUE + ".dlq"
UNREACHABLE_DB = "postgresql://postgres@127.0.0.1:1/nothing?connect_timeout=2"  # refused at once
DISCONNECTS = 22  # above the old limit (10) and RabbitMQ 4.x's default (20)


class Headers(DependencyProvider):
    """The delivery's headers (nameko passes them as the worker's context data)."""

    def get_dependency(self, worker_ctx):
        return worker_ctx.context_data


class PromisesService:
    """mode "hold": every call waits for its round's gate (the message stays unacked), then succeeds;
    mode "fail": every call fails."""

    name = "promises"
    headers = Headers()
    mode = "hold"
    round = 0
    gates: dict = {}
    calls: list = []  # (round, event id, broker's count of earlier deliveries)

    @reliable_event_handler("complaints", CASE_REGISTERED)
    def on_case(self, event):
        cls = PromisesService
        count = max(int(self.headers.get("x-delivery-count") or 0), int(self.headers.get("x-acquired-count") or 0))
        here = cls.round
        cls.calls.append((here, event["id"], count))
        if cls.mode == "fail":
            raise RuntimeError("the database blinked")
        if cls.mode == "db-down":
            if not cls.gates[here].ready():  # the database is down until the gate opens: a real refusal
                with sa.create_engine(UNREACHABLE_DB).connect():
                    pass
            return "done"
        cls.gates[here].wait()
        return "done"


@pytest.fixture
def promises(container_factory, service_config):
    PromisesService.mode, PromisesService.round = "hold", 0
    PromisesService.gates, PromisesService.calls = {0: eventlet.Event()}, []

    def start(mode="hold"):
        PromisesService.mode = mode
        container = container_factory(PromisesService, service_config)
        container.start()
        return container

    yield start
    for gate in PromisesService.gates.values():  # nothing left waiting
        if not gate.ready():
            gate.send()



def queue_state(amqp_uri: str, name: str) -> tuple[int, int]:
    """(ready messages, consumers), exact (a passive declare, not the management API's statistics)."""
    with Connection(amqp_uri) as conn:
        _, messages, consumers = conn.default_channel.queue_declare(queue=name, passive=True)
        return messages, consumers


def consumer_socket(container):
    """The socket of the connection the container's event handler consumes on."""
    handler = get_extension(container, ReliableEventHandler)
    return handler.queue_consumer._consumers[handler].channel.connection.sock


def close_consumer_connection(container, rabbit_manager) -> None:
    """Force-close the connection the container's event handler consumes on through the management API,
    as the broker does when it restarts. Found by its address (the API lists a connection only seconds
    after it opened, and knows it by name about as late: a fresh connection costs seconds here)."""
    from requests import HTTPError

    sock = consumer_socket(container)
    (host, port), (peer_host, peer_port) = sock.getsockname()[:2], sock.getpeername()[:2]
    name = f"{host}:{port} -> {peer_host}:{peer_port}"

    def close() -> bool:
        try:
            rabbit_manager.delete_connection(name)
            return True
        except HTTPError as exc:  # not known to the management plugin yet
            if exc.response is None or exc.response.status_code != 404:
                raise
            return False

    wait_for(close, f"connection {name} to be closed")


def cut_consumer_connection(container) -> None:
    """End that connection as a network cut or a killed process does: its socket shut down under it."""
    consumer_socket(container).shutdown(socket.SHUT_RDWR)


def calls_in(round_: int) -> set:
    return {event_id for r, event_id, _ in PromisesService.calls if r == round_}


def dead_letter(amqp_uri, promises, events) -> None:
    """Put `events` into the .dlq the way a failing handler does."""
    container = promises("fail")
    for event in events:
        publish(amqp_uri, event)
    wait_for(lambda: queue_state(amqp_uri, DLQ)[0] == len(events), "the dead letters")
    container.stop()


def test_messages_delivered_again_after_many_disconnects_never_reach_the_dead_letters(
        promises, service_config, rabbit_manager):
    amqp_uri = service_config["AMQP_URI"]
    container = promises("hold")
    events = [case_registered(code=f"42039177551028{i:02d}") for i in range(5)]
    ids = {e["id"] for e in events}
    for event in events:
        publish(amqp_uri, event)

    for round_ in range(DISCONNECTS):
        wait_for(lambda r=round_: calls_in(r) == ids, f"round {round_}'s deliveries")  # all held, unacked
        PromisesService.gates[round_ + 1] = eventlet.Event()
        PromisesService.round = round_ + 1
        if round_ in (0, DISCONNECTS - 1):  # the broker closes it
            close_consumer_connection(container, rabbit_manager)
        else:  # the network does (faster to repeat: see close_consumer_connection)
            cut_consumer_connection(container)
        wait_for(lambda r=round_ + 1: calls_in(r) == ids, f"round {round_ + 1}'s deliveries")
        # the workers of the closed connection finish now: their acks find it gone (logged, never raised)
        PromisesService.gates[round_].send()

    PromisesService.gates[DISCONNECTS].send()  # the last deliveries succeed and are acked
    container.stop()  # waits for the workers; anything unacked would go back to the queue
    assert queue_state(amqp_uri, QUEUE)[0] == 0  # every message handled and acked
    assert queue_state(amqp_uri, DLQ)[0] == 0  # and not one dead-lettered
    # the broker did count every disconnect against them: the limit, not luck, kept them
    assert min(c for r, _, c in PromisesService.calls if r == DISCONNECTS) >= DISCONNECTS


def test_a_handler_that_fails_on_content_dead_letters_after_its_retries(promises, service_config):
    amqp_uri = service_config["AMQP_URI"]
    event = case_registered()
    dead_letter(amqp_uri, promises, [event])
    assert [i for _, i, _ in PromisesService.calls] == [event["id"]] * get_settings().event_max_attempts
    assert [(m["id"], m["reason"]) for m in dlq.show(amqp_uri, QUEUE)] == [(event["id"], "rejected")]


def test_an_event_that_meets_a_database_outage_waits_for_it_and_is_never_dead_lettered(
        promises, service_config, caplog):
    amqp_uri = service_config["AMQP_URI"]
    container = promises("db-down")
    handler = get_extension(container, ReliableEventHandler)
    handler.base_delay, handler.transient_max_delay = 0.02, 0.1  # the back-off's shape, faster
    event = case_registered()
    publish(amqp_uri, event)
    outlasted = get_settings().event_max_attempts * 3  # far more tries than a content failure gets
    wait_for(lambda: len(PromisesService.calls) >= outlasted, "tries beyond the content failures' limit")
    assert queue_state(amqp_uri, DLQ)[0] == 0
    content_failures, transient = handler._attempts[("message_id", event["id"])][:2]
    # every try counted as transient, none as a content failure; one may be under way (its call recorded, the
    # database's refusal not yet), as the assertion above waited on the broker meanwhile
    assert content_failures == 0 and len(PromisesService.calls) - 1 <= transient <= len(PromisesService.calls)
    PromisesService.gates[0].send()  # the database is back
    wait_for(lambda: handler._attempts == {}, "the event handled")  # its count goes when it succeeds
    assert queue_state(amqp_uri, QUEUE)[0] == 0 and queue_state(amqp_uri, DLQ)[0] == 0
    assert {i for _, i, _ in PromisesService.calls} == {event["id"]}
    outage_logs = [r.getMessage() for r in caplog.records if "database" in r.getMessage()]
    assert len([m for m in outage_logs if "is unreachable" in m]) == 1, outage_logs  # once per outage
    assert len([m for m in outage_logs if "answers again" in m]) == 1, outage_logs
    assert not [r for r in caplog.records if r.name == "nameko.containers" and r.levelno >= logging.ERROR]


def test_reading_the_dead_letters_many_times_never_loses_one(promises, service_config, rabbit_manager):
    amqp_uri = service_config["AMQP_URI"]
    events = [case_registered(code=f"42039177551028{i:02d}") for i in range(3)]
    dead_letter(amqp_uri, promises, events)
    reads = 25  # RabbitMQ 4.x would drop them on the 21st with its default limit
    first = [m["id"] for m in dlq.show(amqp_uri, QUEUE)]
    assert sorted(first) == sorted(e["id"] for e in events)
    for _ in range(reads - 1):
        assert [m["id"] for m in dlq.show(amqp_uri, QUEUE)] == first  # all there, in the same order
    assert rabbit_manager.get_queue(service_config["vhost"], DLQ)["arguments"]["x-delivery-limit"] == DLQ_DELIVERY_LIMIT
    register_kombu_serializer()
    with Connection(amqp_uri) as conn:  # every reading was counted as a delivery: the limit is what keeps them
        message = conn.default_channel.basic_get(DLQ, no_ack=False)
        headers = message.headers or {}
        assert max(int(headers.get("x-delivery-count") or 0), int(headers.get("x-acquired-count") or 0)) >= reads


def test_replay_to_a_queue_that_no_longer_exists_keeps_the_dead_letter_and_says_so(
        promises, service_config, monkeypatch, capsys):
    amqp_uri = service_config["AMQP_URI"]
    event = case_registered()
    dead_letter(amqp_uri, promises, [event])
    with Connection(amqp_uri) as conn:
        conn.default_channel.queue_delete(QUEUE)  # the consumer was renamed or removed

    with pytest.raises(dlq.ReplayError, match="does not exist"):
        dlq.replay(amqp_uri, QUEUE)
    monkeypatch.setattr(dlq, "get_settings", lambda: SimpleNamespace(amqp_uri=amqp_uri))
    assert dlq.main(["replay", QUEUE]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and "stay" in err
    assert [m["id"] for m in dlq.show(amqp_uri, QUEUE)] == [event["id"]]  # still there, whole


def test_a_copy_the_broker_returns_or_refuses_is_not_acked_from_the_dead_letters(promises, service_config):
    amqp_uri = service_config["AMQP_URI"]
    event = case_registered()
    dead_letter(amqp_uri, promises, [event])
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        # deleted between the check and the copy: the default exchange returns the mandatory copy
        with pytest.raises(dlq.ReplayError, match="returned"):
            dlq.move(conn, DLQ, "no-such-queue")
        # a queue that refuses it (full, reject-publish): the broker nacks the copy
        conn.default_channel.queue_declare(queue="full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
        with pytest.raises(dlq.ReplayError, match="refused"):
            dlq.move(conn, DLQ, "full")
    assert [m["id"] for m in dlq.show(amqp_uri, QUEUE)] == [event["id"]]
    assert queue_state(amqp_uri, "full")[0] == 0


def test_tries_are_counted_by_message_id_across_deliveries(promises, service_config, monkeypatch):
    """A message delivered again after a disconnect goes on counting (by id(message) it started over
    each time, and a message failing between disconnects was never dead-lettered)."""
    amqp_uri = service_config["AMQP_URI"]
    monkeypatch.setattr(get_settings(), "event_retry_base_delay", 30.0)  # the in-process retry never comes
    container = promises("fail")
    handler = get_extension(container, ReliableEventHandler)
    event = case_registered()
    publish(amqp_uri, event)
    attempts = get_settings().event_max_attempts
    key = ("message_id", event["id"])
    for tried in range(1, attempts):
        wait_for(lambda n=tried: handler._attempts.get(key, (0, 0))[0] == n, f"try {tried} counted")
        assert len(PromisesService.calls) == tried
        cut_consumer_connection(container)
    wait_for(lambda: queue_state(amqp_uri, DLQ)[0] == 1, "the dead letter")
    assert [i for _, i, _ in PromisesService.calls] == [event["id"]] * attempts
    assert handler._attempts == {}  # forgotten once settled


def test_each_message_has_its_own_count_and_stale_counts_are_forgotten(promises, service_config):
    amqp_uri = service_config["AMQP_URI"]
    container = promises("fail")
    handler = get_extension(container, ReliableEventHandler)
    handler._attempts[("message_id", "went-elsewhere")] = (2, 0, time.monotonic() - handler.forget_after - 1)
    first, second, anonymous = case_registered(), case_registered(), case_registered()
    publish(amqp_uri, first)
    publish(amqp_uri, second)
    register_kombu_serializer()
    exchange = event_exchange(CASE_REGISTERED.exchange)
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:  # no message_id at all
        Producer(conn.default_channel, serializer="cloudevents").publish(
            anonymous, exchange=exchange, routing_key=anonymous["type"], declare=[exchange], delivery_mode=2)
    wait_for(lambda: queue_state(amqp_uri, DLQ)[0] == 3, "three dead letters")
    attempts = get_settings().event_max_attempts
    tried = [i for _, i, _ in PromisesService.calls]
    assert {e["id"]: tried.count(e["id"]) for e in (first, second, anonymous)} == {
        first["id"]: attempts, second["id"]: attempts, anonymous["id"]: attempts}
    assert handler._attempts == {}  # settled ones and the stale one


class _GoneMessage:
    """A message whose connection has just gone away: the socket is dead, the channel not told yet."""

    def __init__(self, message_id):
        self.properties = {"message_id": message_id}
        self.channel = SimpleNamespace(connection=object())
        self.delivery_tag = 7

    def ack(self):
        raise ConnectionResetError(104, "Connection reset by peer")

    def reject(self, requeue):
        from amqp.exceptions import RecoverableConnectionError
        raise RecoverableConnectionError("connection already closed")


def test_an_ack_or_reject_on_a_connection_gone_away_never_stops_the_service(promises, caplog):
    container = promises("hold")
    handler = get_extension(container, ReliableEventHandler)

    class Refused(Exception):
        permanent = True

    try:
        raise Refused("off its contract")
    except Refused:
        refused = sys.exc_info()
    with caplog.at_level(logging.DEBUG, logger="common.events.handler"):
        handler.handle_result(_GoneMessage("a"), SimpleNamespace(args=({},)), result="done")
        handler.handle_result(_GoneMessage("b"), SimpleNamespace(args=({},)), exc_info=refused)
    failures = [r for r in caplog.records if "could not" in r.getMessage()]
    assert [r.levelno for r in failures] == [logging.WARNING, logging.DEBUG]  # said once
    assert "the broker delivers it again" in failures[0].getMessage()
    assert not container._died.ready()  # the service goes on
