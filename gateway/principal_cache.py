"""The staff principals the gateway already confirmed, so that a staff request costs no `complaints.principal`
RPC while nothing about the account changed (issue 21). What makes that safe:

- Every change that ends an account's tokens (a revocation by an administrator or by the inactivity sweep, a
  password changed or reset) publishes an event through complaints' outbox: `staff.access_revoked` or
  `staff.credentials_changed`. Each gateway process consumes both on a queue of its own (exclusive: it goes
  with the process) and forgets the account at once, milliseconds after the commit, on every replica.
- The replica that served the change itself forgets the account before answering (`forget`), so its next
  request never depends on the event's trip.
- An answer fetched before a change and stored after its event would bring the old principal back: every
  `forget` moves a generation on, and an answer fetched under an older generation is not stored.
- Nothing is cached while the consumer is not consuming (broker down, queue not bound yet): an event
  could be missed then. Each entry also lives at most `ttl` seconds, which bounds what a link that fails
  silently (until the heartbeat notices) can keep alive.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import OrderedDict

from kombu import Connection, Consumer, Exchange, Queue, binding

from common.events.catalog import STAFF_ACCESS_REVOKED, STAFF_CREDENTIALS_CHANGED
from common.events.envelope import register_kombu_serializer
from common.metrics import PRINCIPAL_CACHE

_log = logging.getLogger(__name__)

QUEUE_PREFIX = "gateway.principals-"  # + a uuid: one queue per gateway process (scripts/broker_users.py)
INVALIDATING = (STAFF_ACCESS_REVOKED, STAFF_CREDENTIALS_CHANGED)
MAX_ENTRIES = 50_000  # far more than the organization's staff; the oldest goes first beyond it
HEARTBEAT = 10  # seconds: a connection that died silently is noticed within two of them


class PrincipalCache:
    def __init__(self, amqp_uri: str, ttl: float, connect_timeout: float = 3.0, clock=time.monotonic):
        self.amqp_uri, self.ttl, self.connect_timeout, self._clock = amqp_uri, ttl, connect_timeout, clock
        self._entries: OrderedDict[str, tuple[int, dict, float]] = OrderedDict()  # staff id: (version, principal, until)
        self._lock = threading.Lock()
        self._generation = 0
        self.live = threading.Event()  # set while the invalidation consumer consumes
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start consuming (lazily, on the first lookup: after gunicorn forked the worker)."""
        with self._lock:
            if self._thread is None and self.ttl > 0:
                self._thread = threading.Thread(target=self._run, name="principal-cache", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def lookup(self, staff_id: str, version: int, fetch) -> dict:
        """The principal of a token (staff id, credentials version): cached, or `fetch()` (which raises for a
        revoked account or an older version)."""
        if self._thread is None:
            self.start()
        now = self._clock()
        with self._lock:
            entry = self._entries.get(staff_id)
            if entry is not None and self.live.is_set() and entry[0] == version and entry[2] > now:
                PRINCIPAL_CACHE.labels("hit").inc()
                return dict(entry[1])
            generation = self._generation
        PRINCIPAL_CACHE.labels("miss").inc()
        principal = fetch()
        with self._lock:
            if self.live.is_set() and generation == self._generation:
                self._entries[staff_id] = (version, dict(principal), now + self.ttl)
                self._entries.move_to_end(staff_id)
                while len(self._entries) > MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return principal

    def forget(self, staff_id: str | None = None) -> None:
        """Drop one account (or every account) and refuse to store anything fetched before now."""
        with self._lock:
            self._generation += 1
            if staff_id is None:
                self._entries.clear()
            else:
                self._entries.pop(staff_id, None)

    def _on_event(self, body, message) -> None:
        data = body.get("data") if isinstance(body, dict) else None
        staff_id = data.get("staff_id") if isinstance(data, dict) else None
        self.forget(staff_id if isinstance(staff_id, str) else None)  # one we cannot read forgets everyone
        message.ack()

    def _on_undecodable(self, message, exc) -> None:
        _log.warning("principal cache: an event it cannot decode (%s): every principal dropped", exc)
        self.forget()
        message.ack()

    def _run(self) -> None:
        register_kombu_serializer()
        exchange = Exchange(STAFF_ACCESS_REVOKED.exchange, type="topic", durable=True, no_declare=True)
        queue = Queue(f"{QUEUE_PREFIX}{uuid.uuid4()}", exclusive=True, auto_delete=True, durable=False,
                      bindings=[binding(exchange, routing_key=e.type) for e in INVALIDATING])
        backoff = 1.0
        while not self._stopped.is_set():
            try:
                with Connection(self.amqp_uri, connect_timeout=self.connect_timeout, heartbeat=HEARTBEAT) as conn:
                    conn.ensure_connection(max_retries=max(1, len(conn.alt)))
                    with Consumer(conn.channel(), [queue], callbacks=[self._on_event],
                                  on_decode_error=self._on_undecodable, accept=["cloudevents", "json"]):
                        self.forget()  # whatever happened while not consuming is unknown
                        self.live.set()
                        backoff = 1.0
                        _log.info("principal cache: consuming %s", queue.name)
                        while not self._stopped.is_set():
                            try:
                                conn.drain_events(timeout=1.0)
                            except socket.timeout:
                                conn.heartbeat_check()
            except Exception as exc:  # the broker went away, or complaints' exchange is not there yet
                _log.warning("principal cache off until the broker is back: %s: %s", type(exc).__name__, exc)
            finally:
                self.live.clear()
                self.forget()
            self._stopped.wait(backoff)
            backoff = min(backoff * 2, 10.0)
