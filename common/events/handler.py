"""`reliable_event_handler`: nameko's event_handler with the delivery rules of DESIGN.md.

- The queue is a durable quorum queue with a broker-side delivery limit and a dead-letter exchange,
  so a message that keeps crashing its consumer process ends in the dead-letter queue, not in a loop.
- A handler that raises is retried in-process with exponential back-off, a bounded number of times,
  without holding a worker slot while it waits; then the message is rejected and the broker moves it
  to `<queue>.dlq`, where an operator can inspect and replay it (common.events.dlq). An exception
  with `permanent = True` (bad input: an event off its contract, a message that cannot be made)
  goes to the dead letters at once.
  Nameko's default, acking and dropping on error, is never used.
"""
from __future__ import annotations

import logging

import eventlet
from kombu import Connection, Exchange, Queue
from nameko.events import EventHandler

from common.config import get_settings
from common.metrics import EVENTS_HANDLED

_log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "dead-letters"


def dead_letter_exchange() -> Exchange:
    return Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


def dead_letter_queue(queue_name: str) -> Queue:
    return Queue(f"{queue_name}.dlq", exchange=dead_letter_exchange(), routing_key=queue_name,
                 durable=True, queue_arguments={"x-queue-type": "quorum"})


class ReliableEventHandler(EventHandler):
    def __init__(self, source_service, event_type, **kwargs):
        super().__init__(source_service, str(event_type), **kwargs)
        self._attempts: dict[int, int] = {}

    def setup(self):
        super().setup()  # builds self.queue with nameko's name and binding
        settings = get_settings()
        self.max_attempts = settings.event_max_attempts
        self.base_delay = settings.event_retry_base_delay
        self.queue = Queue(
            self.queue.name, exchange=self.queue.exchange, routing_key=self.queue.routing_key,
            durable=True, auto_delete=False, exclusive=False,
            queue_arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": settings.event_delivery_limit,
                "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
                "x-dead-letter-routing-key": self.queue.name,
            },
        )
        with Connection(self.container.config["AMQP_URI"]) as conn:
            dead_letter_queue(self.queue.name)(conn.default_channel).declare()

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        service = self.container.service_name
        key = id(message)
        if exc_info is None:
            self._attempts.pop(key, None)
            EVENTS_HANDLED.labels(service, self.method_name, "ok").inc()
            self.queue_consumer.ack_message(message)
            return result, exc_info

        attempt = self._attempts.get(key, 0) + 1
        permanent = getattr(exc_info[1], "permanent", False)  # bad input: retrying cannot help
        if permanent:
            attempt = self.max_attempts
        if attempt < self.max_attempts:
            self._attempts[key] = attempt
            delay = self.base_delay * 2 ** (attempt - 1)
            EVENTS_HANDLED.labels(service, self.method_name, "retried").inc()
            _log.warning("%s.%s failed (attempt %d of %d), retrying in %.1fs: %s",
                         service, self.method_name, attempt, self.max_attempts, delay, exc_info[1])
            eventlet.spawn_after(delay, self._retry, worker_ctx.args[0], message)
        else:
            self._attempts.pop(key, None)
            EVENTS_HANDLED.labels(service, self.method_name, "dead_lettered").inc()
            _log.error("%s.%s %s; dead-lettering to %s.dlq", service, self.method_name,
                       "refused the event (bad input)" if permanent else f"failed {attempt} times",
                       self.queue.name, exc_info=exc_info)
            if message.channel.connection:
                message.reject(requeue=False)
        return result, exc_info

    def _retry(self, body, message):
        if message.channel.connection:  # else the broker already took it back for redelivery
            super().handle_message(body, message)


reliable_event_handler = ReliableEventHandler.decorator
