"""Publishing a batch with publisher confirms, one wait per batch instead of one per message.

Every message of the batch is published `mandatory`, then the broker's acks (which may cover several
messages at once) are drained until each message is confirmed; a nack or a timeout fails the whole
batch, so the relay rolls back and none of it is marked published. A message the broker returns
(basic.return: no queue is bound for it) is confirmed too, but is not delivered: its id is handed
back so the relay keeps that row unpublished.

Every events exchange is also bound to the event archive, a stream that keeps every event for
ARCHIVE_MAX_AGE (integrators replay from it), so an event that no platform service consumes is still
routed; a return means the archive's binding is gone too, which is a fault worth an alert.
"""
from __future__ import annotations

import socket
import time
from typing import Callable

from kombu import Connection, Exchange, Producer, Queue

from common.events.envelope import CONTENT_TYPE, register_kombu_serializer


EVENT_ARCHIVE = "events.archive"
ARCHIVE_MAX_AGE = "7D"


class PublishNotConfirmed(Exception):
    pass


def event_archive() -> Queue:
    return Queue(EVENT_ARCHIVE, durable=True, queue_arguments={"x-queue-type": "stream", "x-max-age": ARCHIVE_MAX_AGE})


class ConfirmingPublisher:
    def __init__(self, amqp_uri: str, confirm_timeout: float = 10.0,
                 on_blocked: Callable[[bool], None] | None = None):
        register_kombu_serializer()
        self.connection = Connection(amqp_uri)
        self.channel = self.connection.channel()
        # a memory or disk alarm: the broker says connection.blocked at the first publish, and
        # connection.unblocked when it is over (the batch's confirms then come)
        self.blocked: str | None = None
        self._told = on_blocked or (lambda blocked: None)
        raw = self.connection.connection
        raw.on_blocked, raw.on_unblocked = self._on_blocked, self._on_unblocked
        self.channel.confirm_select()
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self.producer = Producer(self.channel, serializer="cloudevents")
        self.confirm_timeout = confirm_timeout
        self._sent = 0  # delivery tags are numbered from 1 on a channel in confirm mode
        self._pending: set[int] = set()
        self._nacked: set[int] = set()
        self._declared: set[str] = set()
        self._returned: set[str] = set()
        self._archive = event_archive()(self.channel)
        self._archive.declare()

    def _settle(self, tag: int, multiple: bool) -> set[int]:
        settled = {t for t in self._pending if t <= tag} if multiple else {tag} & self._pending
        self._pending -= settled
        return settled

    def _on_ack(self, tag, multiple):
        self._settle(tag, multiple)

    def _on_nack(self, tag, multiple):
        self._nacked |= self._settle(tag, multiple)

    def _on_return(self, exc, exchange, routing_key, message):
        self._returned.add(message.properties.get("message_id"))

    def _on_blocked(self, reason=None):
        self.blocked = str(reason or "resource alarm")
        self._told(True)

    def _on_unblocked(self):
        self.blocked = None
        self._told(False)

    def publish_batch(self, messages: list[tuple[Exchange, str, dict, str]]) -> set[str]:
        """messages: (exchange, routing_key, body, message_id), the body a dict or its JSON text. Returns, once the broker has confirmed
        every one of them, the ids of those it returned as unroutable; raises PublishNotConfirmed when
        a confirm does not come in time or the broker refuses one."""
        self._nacked.clear()
        self._returned.clear()
        for exchange, routing_key, body, message_id in messages:
            if exchange.name not in self._declared:
                exchange(self.channel).declare()
                self._archive.bind_to(exchange=exchange, routing_key="#")
                self._declared.add(exchange.name)
            # an envelope already in JSON text (the outbox's jsonb as text) goes as it is: decoding it
            # from the database only to encode it again cost a third of the relay's time
            encoded = {"content_type": CONTENT_TYPE, "content_encoding": "utf-8"} if isinstance(body, str) else {}
            self.producer.publish(body, exchange=exchange, routing_key=routing_key, delivery_mode=2,
                                  message_id=message_id, mandatory=True, **encoded)
            self._sent += 1
            self._pending.add(self._sent)
        deadline = time.monotonic() + self.confirm_timeout
        while self._pending:
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise socket.timeout()
                self.connection.drain_events(timeout=remaining)
            except socket.timeout:
                raise PublishNotConfirmed(f"{len(self._pending)} messages unconfirmed after {self.confirm_timeout}s"
                                          + (f" (the broker refuses publishes: {self.blocked})" if self.blocked
                                             else "")) from None
        if self._nacked:
            raise PublishNotConfirmed(f"the broker refused {len(self._nacked)} messages")
        return set(self._returned)

    def close(self) -> None:
        try:
            self.connection.release()
        except Exception:  # closing a broken connection is best effort
            pass

    def abandon(self) -> None:
        """Drop a broken or blocked connection without the closing handshake, which a broker that
        stopped reading (an alarm) would never answer."""
        try:
            self.connection.collect()
        except Exception:
            pass
