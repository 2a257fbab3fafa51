"""Publishing a batch with publisher confirms, one wait per batch instead of one per message.

Every message of the batch is published, then the broker's acks (which may cover several messages
at once) are drained until each message is confirmed; a nack or a timeout fails the whole batch, so
the relay rolls back and none of it is marked published.
"""
from __future__ import annotations

import time

from kombu import Connection, Exchange, Producer

from common.events.envelope import register_kombu_serializer


class PublishNotConfirmed(Exception):
    pass


class ConfirmingPublisher:
    def __init__(self, amqp_uri: str, confirm_timeout: float = 30.0):
        register_kombu_serializer()
        self.connection = Connection(amqp_uri)
        self.channel = self.connection.channel()
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.producer = Producer(self.channel, serializer="cloudevents")
        self.confirm_timeout = confirm_timeout
        self._sent = 0  # delivery tags are numbered from 1 on a channel in confirm mode
        self._pending: set[int] = set()
        self._nacked: set[int] = set()
        self._declared: set[str] = set()

    def _settle(self, tag: int, multiple: bool) -> set[int]:
        settled = {t for t in self._pending if t <= tag} if multiple else {tag} & self._pending
        self._pending -= settled
        return settled

    def _on_ack(self, tag, multiple):
        self._settle(tag, multiple)

    def _on_nack(self, tag, multiple):
        self._nacked |= self._settle(tag, multiple)

    def publish_batch(self, messages: list[tuple[Exchange, str, dict, str]]) -> None:
        """messages: (exchange, routing_key, body, message_id). Returns when the broker has taken
        every one of them; raises PublishNotConfirmed otherwise."""
        self._nacked.clear()
        for exchange, routing_key, body, message_id in messages:
            if exchange.name not in self._declared:
                exchange(self.channel).declare()
                self._declared.add(exchange.name)
            self.producer.publish(body, exchange=exchange, routing_key=routing_key, delivery_mode=2,
                                  message_id=message_id)
            self._sent += 1
            self._pending.add(self._sent)
        deadline = time.monotonic() + self.confirm_timeout
        while self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishNotConfirmed(f"{len(self._pending)} messages unconfirmed after "
                                          f"{self.confirm_timeout}s")
            self.connection.drain_events(timeout=remaining)
        if self._nacked:
            raise PublishNotConfirmed(f"the broker refused {len(self._nacked)} messages")

    def close(self) -> None:
        try:
            self.connection.release()
        except Exception:  # closing a broken connection is best effort
            pass
