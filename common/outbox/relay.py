"""The outbox relay: publishes committed events with publisher confirms, then marks them published.

Safe with any number of replicas: each batch is claimed with FOR UPDATE SKIP LOCKED, so two relays
never publish the same row at once. A relay that dies after publishing but before marking publishes
the batch again (at-least-once); consumers' inboxes drop the duplicates. A relay that dies before
publishing loses nothing: the rows stay unpublished until a relay runs again.

The broker's faults: a broker that is down, restarting or refusing publishes (a memory or disk alarm
stops its confirms) fails the batch, which is rolled back and tried again with back-off; the outage is
logged once at each end. Under an alarm the gauge broker_blocked{process="relay"} reads 1 from the
broker's connection.blocked (alert BrokerBlocked) until its connection.unblocked or a confirmed batch;
a batch whose alarm clears within the confirm timeout simply completes. An event the broker returns as unroutable (publisher.py) stays unpublished,
is counted on outbox_unroutable_total (alert OutboxEventsUnroutable) and is set aside for
UNROUTABLE_HOLD seconds so the rest of the outbox goes on; it is published once a queue is bound.

An event that cannot be published for what it is (the client cannot encode it, the broker refuses it:
larger than its max message size, a malformed field) never blocks the outbox behind it: the batch it
failed is published again one event at a time, and the event that fails alone is set aside for
SET_ASIDE_HOLD seconds with its error logged, counted on outbox_events_set_aside (alert
OutboxEventSetAside), and tried again after that; everything after it goes on.

    python -m common.outbox.relay complaints notifications
"""
from __future__ import annotations

import argparse
import logging
import select
import signal
import threading
import struct
import time
from typing import Callable

from amqp.exceptions import ContentTooLarge, FrameSyntaxError, PreconditionFailed
from kombu import Exchange
from kombu.exceptions import EncodeError

from common.config import get_settings
from common.db import connect as db_connect
from common.logs import configure_logging
from common.metrics import (
    BROKER_BLOCKED, OUTBOX_BACKLOG, OUTBOX_ERRORS, OUTBOX_LAG, OUTBOX_PUBLISHED, OUTBOX_SET_ASIDE, OUTBOX_UNROUTABLE,
)
from common.outbox.publisher import ConfirmingPublisher, PublishNotConfirmed
from common.outbox.store import NOTIFY_CHANNEL

_log = logging.getLogger(__name__)

CLAIM_SQL = """
SELECT id, exchange, routing_key, envelope::text, extract(epoch from created_at)
FROM outbox WHERE published_at IS NULL AND id <> ALL(%s::uuid[])
ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED
"""
UNROUTABLE_HOLD = 30.0  # seconds an event the broker returned waits before it is tried again
SET_ASIDE_HOLD = 3600.0  # seconds an event that fails alone on its content waits before it is tried again
# what publishing raises for a message's content rather than for the broker's or the link's state
CONTENT_ERRORS = (struct.error, ValueError, TypeError, UnicodeError, EncodeError, PreconditionFailed,
                  ContentTooLarge, FrameSyntaxError)
MARK_SQL = "UPDATE outbox SET published_at = now() WHERE id = ANY(%s::uuid[])"
BACKLOG_SQL = "SELECT count(*) FROM outbox WHERE published_at IS NULL"


def event_exchange(name: str) -> Exchange:
    # Declared exactly as nameko declares a service's events exchange, so both can declare it.
    return Exchange(name, type="topic", durable=True, auto_delete=False, delivery_mode=2)


class OutboxRelay:
    def __init__(self, service: str, db_url: str, amqp_uri: str, batch_size: int = 500,
                 poll_interval: float = 2.0,
                 before_publish: Callable[[list], None] | None = None):
        self.service = service
        self.db_url = db_url
        self.amqp_uri = amqp_uri
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.before_publish = before_publish  # a seam for fault-injection tests
        self.stopping = threading.Event()
        self._pg = None
        self._publisher: ConfirmingPublisher | None = None
        self._held: dict[str, float] = {}  # unroutable or set-aside event id -> when to try it again
        self._set_aside: set[str] = set()  # of those, the ones set aside for their content
        self._suspects: set[str] = set()  # ids of a batch that failed on content: published one at a time
        self._last_limit = batch_size

    # connections ----------------------------------------------------------------------------
    def _db(self):
        if self._pg is None or self._pg.closed:
            self._pg = db_connect(self.db_url, "background")
        return self._pg

    def _broker(self) -> ConfirmingPublisher:
        if self._publisher is None:
            # broker_blocked reads 1 as soon as the broker says it blocks this relay (connection.blocked),
            # 0 when it says the alarm is over or confirms a batch
            self._publisher = ConfirmingPublisher(
                self.amqp_uri, on_blocked=lambda blocked: BROKER_BLOCKED.labels("relay").set(int(blocked)))
        return self._publisher

    def close(self, broken: bool = False) -> None:
        if self._publisher is not None:
            self._publisher.abandon() if broken else self._publisher.close()
        if self._pg is not None:
            try:
                self._pg.close()
            except Exception:  # closing is best effort
                pass
        self._publisher = self._pg = None

    # work -------------------------------------------------------------------------------------
    def run_once(self) -> int:
        """Publish one batch; return how many events went out."""
        conn = self._db()
        now = time.monotonic()
        self._held = {event_id: until for event_id, until in self._held.items() if until > now}
        self._set_aside &= set(self._held)
        OUTBOX_SET_ASIDE.labels(self.service).set(len(self._set_aside))
        self._last_limit = 1 if self._suspects else self.batch_size
        rows = []
        try:
            with conn.cursor() as cur:
                cur.execute(CLAIM_SQL, (list(self._held), self._last_limit))
                rows = cur.fetchall()
                if not rows:
                    conn.rollback()
                    return 0
                if self.before_publish:
                    self.before_publish(rows)
                returned = self._broker().publish_batch([
                    (event_exchange(exchange), routing_key, envelope, str(event_id))
                    for event_id, exchange, routing_key, envelope, _ in rows
                ])
                published = [r for r in rows if str(r[0]) not in returned]
                cur.execute(MARK_SQL, ([str(r[0]) for r in published],))
            conn.commit()
        except Exception as exc:
            OUTBOX_ERRORS.labels(self.service).inc()
            if isinstance(exc, PublishNotConfirmed):
                BROKER_BLOCKED.labels("relay").set(1)
            try:
                conn.rollback()
            finally:
                self.close(broken=True)  # a broken channel or connection is rebuilt on the next batch
            if isinstance(exc, CONTENT_ERRORS) and rows:
                return self._content_failed(rows, exc)
            raise
        BROKER_BLOCKED.labels("relay").set(0)
        self._suspects.difference_update(str(r[0]) for r in rows)
        if returned:
            self._hold(rows, returned)
        now = time.time()
        OUTBOX_PUBLISHED.labels(self.service).inc(len(published))
        for row in published:
            OUTBOX_LAG.labels(self.service).observe(max(0.0, now - float(row[4])))
        return len(rows)

    def _hold(self, rows, returned: set[str]) -> None:
        OUTBOX_UNROUTABLE.labels(self.service).inc(len(returned))
        kinds = sorted({r[2] for r in rows if str(r[0]) in returned})
        _log.error("the broker returned %d events of %s as unroutable (no queue bound, not even the event "
                   "archive); they stay in the outbox and are tried again in %.0fs", len(returned),
                   ", ".join(kinds), UNROUTABLE_HOLD)
        until = time.monotonic() + UNROUTABLE_HOLD
        self._held.update({event_id: until for event_id in returned})

    def _content_failed(self, rows, exc: BaseException) -> int:
        """A batch failed on what one of its events is: publish it again one event at a time; an event
        that fails alone is set aside. Returns 0 (nothing published by this call)."""
        if len(rows) > 1:
            self._suspects.update(str(r[0]) for r in rows)
            _log.warning("a batch of %d events failed on the content of one (%s: %s); publishing them one at "
                         "a time", len(rows), type(exc).__name__, exc)
            return 0
        event_id, _, routing_key, _, _ = rows[0]
        event_id = str(event_id)
        self._suspects.discard(event_id)
        self._held[event_id] = time.monotonic() + SET_ASIDE_HOLD
        self._set_aside.add(event_id)
        OUTBOX_SET_ASIDE.labels(self.service).set(len(self._set_aside))
        _log.error("event %s (%s) of %s cannot be published (%s: %s); it is set aside for %.0fs and the rest "
                   "of the outbox goes on", event_id, routing_key, self.service, type(exc).__name__, exc,
                   SET_ASIDE_HOLD)
        return 0

    def drain(self) -> int:
        total = 0
        while not self.stopping.is_set():
            n = self.run_once()
            total += n
            if n < self._last_limit and not self._suspects:
                break
        return total

    def backlog(self) -> int:
        conn = self._db()
        with conn.cursor() as cur:
            cur.execute(BACKLOG_SQL)
            (count,) = cur.fetchone()
        conn.rollback()
        return count

    def run_forever(self) -> None:
        listener = None
        backoff = 0.5
        last_backlog = 0.0
        failing_since = None
        while not self.stopping.is_set():
            try:
                if listener is None or listener.closed:
                    listener = db_connect(self.db_url, "background")
                    listener.autocommit = True
                    listener.cursor().execute(f"LISTEN {NOTIFY_CHANNEL}")
                self.drain()
                if time.monotonic() - last_backlog > 5:
                    OUTBOX_BACKLOG.labels(self.service).set(self.backlog())
                    last_backlog = time.monotonic()
                if failing_since is not None:
                    _log.warning("outbox relay for %s publishing again after %.1fs", self.service,
                                 time.monotonic() - failing_since)
                failing_since = None
                backoff = 0.5
                # sleep until a commit notifies us, or the poll interval passes
                if select.select([listener], [], [], self.poll_interval) != ([], [], []):
                    listener.poll()
                    listener.notifies.clear()
            except Exception as exc:
                if failing_since is None:  # an outage is logged once, with its cause
                    failing_since = time.monotonic()
                    _log.warning("outbox relay for %s cannot publish (%s: %s); retrying with back-off", self.service,
                                 type(exc).__name__, exc, exc_info=not isinstance(exc, (OSError, PublishNotConfirmed)))
                if listener is not None:
                    listener.close()
                listener = None
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 10)  # back soon after the broker or database returns
        if listener is not None:
            listener.close()
        self.close()


def main(argv: list[str] | None = None) -> int:
    from common.ops_server import broker_check, database_check, start_ops_server

    parser = argparse.ArgumentParser(description="Publish the services' outboxes to RabbitMQ")
    parser.add_argument("services", nargs="+")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging("relay")
    settings.refuse_unsafe_secrets("relay")

    relays = [
        OutboxRelay(s, settings.database_url_for(s), settings.amqp_uri, settings.outbox_batch_size,
                    settings.outbox_poll_interval)
        for s in args.services
    ]

    checks = {f"db:{r.service}": database_check(r.db_url) for r in relays}
    checks["broker"] = broker_check(settings.amqp_uri)
    start_ops_server(settings.metrics_port_for("relay"), checks)

    def stop(*_):
        for relay in relays:
            relay.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    threads = [threading.Thread(target=r.run_forever, name=f"relay-{r.service}") for r in relays]
    for t in threads:
        t.start()
    _log.info("outbox relay running for %s", ", ".join(args.services))
    for t in threads:
        while t.is_alive():
            t.join(0.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
