"""nameko's QueueConsumer, made to live through the broker's faults.

- An outage is logged once when it starts and once when it ends (kombu logs every reconnect attempt
  with a traceback; nameko a warning per attempt), and `connected` says which it is, for readiness.
- An ack or requeue on a connection that has just gone away is dropped with a log line instead of
  raising in the worker thread (nameko would then kill the whole container): the broker has already
  taken the message back and delivers it again. And the consumer takes it as the loss of its connection:
  at its next iteration (within a second) it connects again. Its reader did not always see the loss: after
  a node's `stop_app` the complaints RPC consumer waited 48 s, until the node came back, while its acks
  failed with ECONNRESET and no request was taken.
- `BulkQueueConsumer`, likewise its own, with a smaller prefetch, for the handlers of batches.
- `RpcQueueConsumer` is the same class under another name, so nameko (which shares one consumer per
  class in a container) gives RPC its own connection and channel: a queue that cannot be consumed
  (its node lost, a declaration refused) then stops only what reads from that connection, never both
  RPC and events (docs/operations.md, "Queues and connections").
"""
from __future__ import annotations

import logging
import time
from contextlib import contextmanager

from nameko.messaging import QueueConsumer
from nameko.utils import sanitize_url

from common.config import amqp_uris, get_settings

_log = logging.getLogger(__name__)

# seconds between reconnection tries: 0.5, 1.5, 2.5 ... at most 5
RECONNECT_START, RECONNECT_STEP, RECONNECT_MAX = 0.5, 1.0, 5.0


def redacted(amqp_uri: str) -> str:
    """AMQP_URI without its passwords, each node's of a `;` list (nameko's sanitize_url does only the first)."""
    return ";".join(sanitize_url(uri) for uri in amqp_uris(amqp_uri))


def connection_errors(connection) -> tuple:
    return tuple(connection.connection_errors) + tuple(connection.channel_errors) + (OSError,)


class ResilientQueueConsumer(QueueConsumer):
    def __init__(self):
        super().__init__()
        self.connected = False
        self._down_since: float | None = None
        self._settling_failed: Exception | None = None  # an ack or requeue found the connection dead

    # an outage: logged once at each end ---------------------------------------------------------
    def _went_down(self, reason) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            self.connected = False
            _log.warning("%s lost the broker at %s (%s); reconnecting with back-off",
                         self._kind(), redacted(self.amqp_uri), reason)

    def _kind(self) -> str:
        return "RPC consumer" if isinstance(self, RpcQueueConsumer) else "event consumer"

    def on_connection_error(self, exc, interval):
        self._went_down(exc)

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        if self._down_since is not None:
            _log.warning("%s reconnected to the broker after %.1fs", self._kind(),
                         time.monotonic() - self._down_since)
        self._down_since = None
        self.connected = True
        super().on_consume_ready(connection, channel, consumers, **kwargs)

    @contextmanager
    def establish_connection(self):
        # kombu's, with a shorter back-off: its default waits 2, 4, 6 ... up to 30 s between tries, so a
        # consumer could come back half a minute after the broker did
        with self.create_connection() as conn:
            conn.ensure_connection(self.on_connection_error, self.connect_max_retries,
                                   interval_start=RECONNECT_START, interval_step=RECONNECT_STEP,
                                   interval_max=RECONNECT_MAX)
            yield conn

    def on_iteration(self):
        failed, self._settling_failed = self._settling_failed, None
        if failed is not None:  # run() below takes it as any connection error: reconnect with back-off
            raise ConnectionResetError(f"an ack or requeue failed on this connection: {failed}")
        super().on_iteration()

    def run(self, _tokens=1, **kwargs):
        # kombu's ConsumerMixin.run, logging an outage once rather than a traceback per attempt
        errors = connection_errors(self.connection)
        while not self.should_stop:
            try:
                for _ in self.consume(limit=None, **kwargs):
                    pass
            except errors as exc:
                self._went_down(exc)
                # a queue refused on a live connection would otherwise loop at full speed
                if not self.restart_limit.can_consume(_tokens):
                    time.sleep(self.restart_limit.expected_time(_tokens))

    # acks on a connection that went away ---------------------------------------------------------
    def ack_message(self, message):
        self._settle(message, "ack", super().ack_message)

    def requeue_message(self, message):
        self._settle(message, "requeue", super().requeue_message)

    def _settle(self, message, what: str, settle) -> None:
        try:
            settle(message)
        except Exception as exc:  # the connection it came on is gone: the broker redelivers it
            _log.info("could not %s a message (%s: %s); the broker delivers it again", what,
                      type(exc).__name__, exc)
            if isinstance(exc, connection_errors(self.connection)):
                self._settling_failed = exc


class BulkQueueConsumer(ResilientQueueConsumer):
    """The bulk event handlers' own consumer, on its own connection, taking `bulk_event_prefetch` messages at a
    time where nameko's take max_workers: the worker slots their batches hold are then never all of them."""

    @property
    def prefetch_count(self):
        return min(get_settings().bulk_event_prefetch, self.container.max_workers)


class RpcQueueConsumer(ResilientQueueConsumer):
    """RPC's own consumer, on its own connection (see the module's docstring)."""

