"""`reliable_event_handler`: nameko's event_handler with the delivery rules of docs/design.md.

What happens to an event:
- A handler that raises is retried in-process with exponential back-off, a bounded number of times
  (`event_max_attempts`), without holding a worker slot while it waits; then the handler itself rejects
  the message (requeue=False) and the broker moves it to `<queue>.dlq`, where an operator can inspect and
  replay it (common.events.dlq). An exception with `permanent = True` (bad input: an event off its
  contract, a message that cannot be made) goes to the dead letters at once.
- A failure of the infrastructure (the database refused, lost, failing over, timing out, a serialization
  failure: common.transient) is not the message's fault: it is tried again with back-off capped at
  `event_transient_max_delay`, for as long as the database takes to answer, and never counts toward
  `event_max_attempts`. The messages that wait hold their prefetch slots, so a consumer whose database is
  down soon stops taking more (a pause, not a drain into `.dlq`); readiness is red meanwhile (the
  database check). The outage is logged once at its start and once at its end.
  Nameko's default, acking and dropping on error, is never used.
- The tries are counted by the message's `message_id` (the outbox relay sets it to the event's id; a
  message without one is counted by its channel and delivery tag), so a message the broker delivers again
  after a disconnect goes on counting where it was, and a new message never inherits another's count (a
  count keyed by `id(message)` could, once that object's memory is reused). A count is forgotten when its
  message is settled, and one whose message went away unsettled (delivered again to another replica) is
  forgotten a minute after its last try.
- An ack or reject that fails because the connection the message came on has just gone away never
  reaches nameko (which would kill the worker, then the container): it is logged once (until a settle
  succeeds again) and the broker, which already took the message back, delivers it again. The queues are
  consumed by common.consumers.ResilientQueueConsumer (an outage logged once, readiness told).

The queues, declared here with every limit explicit, so RabbitMQ 3.10 and 4.x behave alike (4.x gives a
quorum queue without one a default delivery limit of 20; 3.10 none):
- `<queue>`: a durable quorum queue with `x-delivery-limit` = `event_delivery_limit` (100) and the
  dead-letter exchange `dead-letters`, routing key the queue's name. That limit is a crash-loop guard
  only, for a message that kills its consumer process (it can never be rejected: the process dies first).
  It must stay far above what mere disconnects can reach: a quorum queue on 3.10 (and up to 4.2) counts a
  delivery for every message that was unacked, handled or only prefetched, when its consumer's channel
  closed (a broker restart, a network cut, a rolling deploy, a crashing neighbour), so with a limit of 10
  a few restarts dead-lettered events that never failed. A disconnect adds one to each message it takes
  back; the message is delivered again at the head of the queue and settled within seconds, so only a
  consumer that dies again and again before it can ack (a crash loop) takes a count anywhere near 100.
  There, 100 ends the loop within hours under Kubernetes' restart back-off (capped at 5 minutes)
  while any storm of restarts stays far below it. Messages prefetched beside a poison message in a crash
  loop share its count: no limit tells them apart, so the loop is what the alert is for.
- `<queue>.dlq`: a durable quorum queue with `x-delivery-limit` = DLQ_DELIVERY_LIMIT (10**9) and no
  dead-letter exchange. Looking at dead letters takes them and gives them back (AMQP has no peek), which
  counts as a delivery on 3.10-4.2; with 4.x's default of 20, the twenty-first look dropped them. 10**9
  cannot be reached by reading (a read a second for thirty years) and is a plain limit on every version:
  never -1, which 4.x reads as "no limit" but 3.10 as a limit below every count (it drops a message the
  first time it is given back). No dead-letter target: it would be one more quorum queue with the same
  question, and nothing but an operator's replay (which never acks before the broker confirmed the copy)
  is meant to take a dead letter out.
- Prefetch stays nameko's (max_workers per queue). A smaller one would not lower the count any message
  reaches (a disconnect adds one to each message it takes back, however many there are), and the
  handlers that send bulk SMS need the concurrency; in-process retries also hold their prefetch slot.

Changing a queue's declared arguments makes the next declaration of an existing queue fail with
PRECONDITION_FAILED: queues declared by an older version are migrated, their messages kept, by
`python -m scripts.rabbitmq_policies --migrate-queues` (its docstring says how).
"""
from __future__ import annotations

import logging
import time

import eventlet
from amqp.exceptions import AMQPError, PreconditionFailed
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError
from nameko.events import EventHandler

from common.config import get_settings
from common.consumers import BulkQueueConsumer, ResilientQueueConsumer
from common.metrics import EVENTS_HANDLED
from common.transient import is_transient, quiet_transient_worker_errors

_log = logging.getLogger(__name__)

DEAD_LETTER_EXCHANGE = "dead-letters"
DLQ_DELIVERY_LIMIT = 10**9  # a plain, unreachable limit on every version (see the module's docstring)
FORGET_AFTER = 60.0  # seconds after a message's last try, on top of the longest back-off

# what an ack or reject raises when the connection or channel its message came on has just gone away
SETTLE_ERRORS = (AMQPError, OperationalError, OSError)


def dead_letter_exchange() -> Exchange:
    return Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


def event_queue_arguments(queue_name: str, delivery_limit: int | None = None) -> dict:
    """The declaration arguments of an event queue (delivery_limit: default `event_delivery_limit`)."""
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": get_settings().event_delivery_limit if delivery_limit is None else delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": queue_name,
    }


def dead_letter_queue_arguments() -> dict:
    return {"x-queue-type": "quorum", "x-delivery-limit": DLQ_DELIVERY_LIMIT}


def dead_letter_queue(queue_name: str) -> Queue:
    return Queue(f"{queue_name}.dlq", exchange=dead_letter_exchange(), routing_key=queue_name,
                 durable=True, queue_arguments=dead_letter_queue_arguments())


def retry_key(message) -> tuple:
    """What the tries of a message are counted by: its message_id, else its channel and delivery tag (the
    channel object itself, held by the key, so its identity cannot be reused while the count lives)."""
    message_id = (message.properties or {}).get("message_id")
    if message_id:
        return ("message_id", message_id)
    return ("delivery", message.channel, message.delivery_tag)


class ReliableEventHandler(EventHandler):
    queue_consumer = ResilientQueueConsumer()  # outages logged once, seen by readiness; RPC has its own

    def __init__(self, source_service, event_type, **kwargs):
        super().__init__(source_service, str(event_type), **kwargs)
        # retry_key -> (tries failed on the content, tries failed on the infrastructure, when the last failed)
        self._attempts: dict[tuple, tuple[int, int, float]] = {}
        self._settle_failing = False
        self._waiting_for_infrastructure = False

    def setup(self):
        super().setup()  # builds self.queue with nameko's name and binding
        quiet_transient_worker_errors()
        settings = get_settings()
        self.max_attempts = settings.event_max_attempts
        self.base_delay = settings.event_retry_base_delay
        self.transient_max_delay = settings.event_transient_max_delay
        self.forget_after = FORGET_AFTER + max(self.base_delay * 2 ** max(self.max_attempts - 1, 0),
                                               self.transient_max_delay)
        self.queue = Queue(
            self.queue.name, exchange=self.queue.exchange, routing_key=self.queue.routing_key,
            durable=True, auto_delete=False, exclusive=False,
            queue_arguments=event_queue_arguments(self.queue.name, settings.event_delivery_limit),
        )
        with Connection(self.container.config["AMQP_URI"]) as conn:
            for queue in (dead_letter_queue(self.queue.name), self.queue):
                try:
                    queue(conn.channel()).declare()
                except PreconditionFailed as exc:
                    raise RuntimeError(
                        f"queue {queue.name} exists with other arguments than this version declares ({exc}); "
                        "migrate it, keeping its messages: python -m scripts.rabbitmq_policies --migrate-queues"
                    ) from exc

    def stop(self):
        super().stop()
        self._attempts.clear()

    def handle_result(self, message, worker_ctx, result=None, exc_info=None):
        service = self.container.service_name
        key = retry_key(message)
        if exc_info is None:
            self._attempts.pop(key, None)
            self._infrastructure_back()
            EVENTS_HANDLED.labels(service, self.method_name, "ok").inc()
            self._settle(message, "ack")
            return result, exc_info

        now = time.monotonic()
        self._forget_stale(now)
        failed, waited, _ = self._attempts.get(key, (0, 0, now))
        if is_transient(exc_info[1]):
            waited += 1
            self._attempts[key] = (failed, waited, now)
            delay = min(self.transient_max_delay, self.base_delay * 2 ** (waited - 1))
            EVENTS_HANDLED.labels(service, self.method_name, "waiting").inc()
            self._infrastructure_gone(exc_info[1], delay)
            eventlet.spawn_after(delay, self._retry, worker_ctx.args[0], message)
            return result, exc_info

        attempt = failed + 1
        permanent = getattr(exc_info[1], "permanent", False)  # bad input: retrying cannot help
        if permanent:
            attempt = self.max_attempts
        if attempt < self.max_attempts:
            self._attempts[key] = (attempt, waited, now)
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
            self._settle(message, "reject")
        return result, exc_info

    def _infrastructure_gone(self, exc: BaseException, delay: float) -> None:
        if not self._waiting_for_infrastructure:
            self._waiting_for_infrastructure = True
            _log.warning("%s.%s: the database is unreachable (%s: %s); its events wait and are tried again "
                         "(back-off up to %.0fs), none is dead-lettered", self.container.service_name,
                         self.method_name, type(exc).__name__, str(exc).strip().splitlines()[0] if str(exc) else "",
                         self.transient_max_delay)
        else:
            _log.debug("%s.%s still waiting for the database; next try in %.1fs", self.container.service_name,
                       self.method_name, delay)

    def _infrastructure_back(self) -> None:
        if self._waiting_for_infrastructure:
            self._waiting_for_infrastructure = False
            _log.warning("%s.%s: the database answers again; the waiting events are being handled",
                         self.container.service_name, self.method_name)

    def _forget_stale(self, now: float) -> None:
        """Drop the counts of messages that went away unsettled (taken back by the broker, delivered to
        another replica): nothing else would ever remove them."""
        for key in [k for k, (*_, last) in self._attempts.items() if now - last > self.forget_after]:
            del self._attempts[key]

    def _retry(self, body, message):
        if not message.channel.connection:  # the broker already took it back and delivers it again
            return
        try:
            super().handle_message(body, message)
        except SETTLE_ERRORS as exc:  # a requeue on a container being killed, on a connection just gone
            self._settle_failed(message, "retry", exc)

    def _settle(self, message, action: str) -> bool:
        """ack, or reject to the dead letters; False when the message's connection is gone (the broker has
        taken the message back and delivers it again), which is logged, never raised."""
        if not message.channel.connection:
            self._settle_failed(message, action, "its channel is closed")
            return False
        try:
            if action == "ack":
                message.ack()
            else:
                message.reject(requeue=False)
        except SETTLE_ERRORS as exc:
            self._settle_failed(message, action, exc)
            return False
        self._settle_failing = False
        return True

    def _settle_failed(self, message, action: str, reason) -> None:
        what = reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
        level = logging.DEBUG if self._settle_failing else logging.WARNING
        self._settle_failing = True
        _log.log(level, "%s.%s could not %s message %s (%s); the broker delivers it again%s",
                 self.container.service_name, self.method_name, action,
                 (message.properties or {}).get("message_id") or message.delivery_tag, what,
                 "" if level == logging.DEBUG else " (further failures logged at debug until one succeeds)")


class BulkEventHandler(ReliableEventHandler):
    """For events that each carry a batch (thousands of items, a second of database work): consumed on a
    connection of their own, `bulk_event_prefetch` at a time (common.consumers.BulkQueueConsumer). With nameko's
    prefetch (max_workers) a stream of them held every worker slot of the container, and its RPC waited for one
    (docs/benchmarks.md §8: a beneficiary's history, p99 1,029 ms while a cycle was consumed; 97 ms at 4)."""

    queue_consumer = BulkQueueConsumer()


reliable_event_handler = ReliableEventHandler.decorator
bulk_event_handler = BulkEventHandler.decorator
