"""The outbox relay: publishes committed events with publisher confirms, then marks them published.

Safe with any number of replicas: each batch is claimed with FOR UPDATE SKIP LOCKED, so two relays
never publish the same row at once. A relay that dies after publishing but before marking publishes
the batch again (at-least-once); consumers' inboxes drop the duplicates. A relay that dies before
publishing loses nothing: the rows stay unpublished until a relay runs again.

    python -m common.outbox.relay complaints notifications
"""
from __future__ import annotations

import argparse
import logging
import select
import signal
import threading
import time
from typing import Callable

import psycopg2
import psycopg2.extras
from kombu import Exchange

from common.config import get_settings
from common.logs import configure_logging
from common.metrics import OUTBOX_BACKLOG, OUTBOX_ERRORS, OUTBOX_LAG, OUTBOX_PUBLISHED
from common.outbox.publisher import ConfirmingPublisher
from common.outbox.store import NOTIFY_CHANNEL

_log = logging.getLogger(__name__)

CLAIM_SQL = """
SELECT id, exchange, routing_key, envelope, extract(epoch from created_at)
FROM outbox WHERE published_at IS NULL
ORDER BY seq LIMIT %s FOR UPDATE SKIP LOCKED
"""
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

    # connections ----------------------------------------------------------------------------
    def _db(self):
        if self._pg is None or self._pg.closed:
            self._pg = psycopg2.connect(self.db_url)
        return self._pg

    def _broker(self) -> ConfirmingPublisher:
        if self._publisher is None:
            self._publisher = ConfirmingPublisher(self.amqp_uri)
        return self._publisher

    def close(self) -> None:
        if self._publisher is not None:
            self._publisher.close()
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
        try:
            with conn.cursor() as cur:
                cur.execute(CLAIM_SQL, (self.batch_size,))
                rows = cur.fetchall()
                if not rows:
                    conn.rollback()
                    return 0
                if self.before_publish:
                    self.before_publish(rows)
                self._broker().publish_batch([
                    (event_exchange(exchange), routing_key, envelope, str(event_id))
                    for event_id, exchange, routing_key, envelope, _ in rows
                ])
                cur.execute(MARK_SQL, ([str(r[0]) for r in rows],))
            conn.commit()
        except Exception:
            OUTBOX_ERRORS.labels(self.service).inc()
            try:
                conn.rollback()
            finally:
                self.close()  # a broken channel or connection is rebuilt on the next batch
            raise
        now = time.time()
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        for row in rows:
            OUTBOX_LAG.labels(self.service).observe(max(0.0, now - float(row[4])))
        return len(rows)

    def drain(self) -> int:
        total = 0
        while not self.stopping.is_set():
            n = self.run_once()
            total += n
            if n < self.batch_size:
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
        while not self.stopping.is_set():
            try:
                if listener is None or listener.closed:
                    listener = psycopg2.connect(self.db_url)
                    listener.autocommit = True
                    listener.cursor().execute(f"LISTEN {NOTIFY_CHANNEL}")
                self.drain()
                if time.monotonic() - last_backlog > 5:
                    OUTBOX_BACKLOG.labels(self.service).set(self.backlog())
                    last_backlog = time.monotonic()
                backoff = 0.5
                # sleep until a commit notifies us, or the poll interval passes
                if select.select([listener], [], [], self.poll_interval) != ([], [], []):
                    listener.poll()
                    listener.notifies.clear()
            except Exception:
                _log.exception("outbox relay for %s failed; retrying in %.1fs", self.service, backoff)
                if listener is not None:
                    listener.close()
                listener = None
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 30)
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
