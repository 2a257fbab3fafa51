"""A consumer whose ack fails on a dead connection connects again at once (common/consumers.py), on the real
broker: after a node's stop_app, a service's RPC consumer kept its dead connection for 48 s (its reader never
saw the loss) while every ack failed, and the service took no request."""
from __future__ import annotations

import threading

from nameko.messaging import QueueConsumer

from common.consumers import RpcQueueConsumer
from common.rpc import rpc
from common.config import get_settings
from gateway.rpc import RpcClient


class Echo:
    name = "echo"

    @rpc
    def echo(self, value):
        return value


def test_an_ack_that_fails_on_a_dead_connection_makes_the_consumer_connect_again(container_factory, rabbit_config,
                                                                                 monkeypatch):
    ready = threading.Semaphore(0)
    real_ready = RpcQueueConsumer.on_consume_ready

    def counted(self, *args, **kwargs):
        real_ready(self, *args, **kwargs)
        ready.release()

    monkeypatch.setattr(RpcQueueConsumer, "on_consume_ready", counted)
    failures = []
    real_ack = QueueConsumer.ack_message

    def reset_once(self, message):
        if not failures:
            failures.append(message)
            raise ConnectionResetError(104, "Connection reset by peer")  # as a node's stop_app gave it
        return real_ack(self, message)

    monkeypatch.setattr(QueueConsumer, "ack_message", reset_once)
    container = container_factory(Echo, rabbit_config)
    container.start()
    assert ready.acquire(timeout=10)  # consuming
    gateway = RpcClient({**get_settings().nameko_config(), **rabbit_config}, timeout=5)
    try:
        assert gateway.call("echo", "echo", "first") == "first"  # answered; its ack fails
        assert failures and ready.acquire(timeout=5), "the consumer did not connect again"
        assert gateway.call("echo", "echo", "second") == "second"  # served on the new connection
        assert not container._died.ready()
    finally:
        gateway.close()
