"""The load of bench.transparency's `history-under-ingest`: payment cycles' disbursement events published, one
cycle after another, to the transparency service whose history the lookups read, as fast as it consumes them.

Each cycle pays every beneficiary of the 50-million-row history once more (batches of 5,000, as payments
publishes them), under a month past those the history was built with, so the rows it adds are the ones
`forget_cycles` deletes afterwards. The publisher keeps `AHEAD` events in the queue beyond what the consumer
has taken: more than the service takes at a time, without hundreds of megabytes waiting in the broker.
"""
from __future__ import annotations

import multiprocessing as mp
import time

import psycopg2

from common.events.catalog import DISBURSEMENTS_PUBLISHED
from common.events.envelope import encode, new_event, random_id
from common.outbox.publisher import ConfirmingPublisher
from common.outbox.relay import event_exchange

BATCH = 5000
AHEAD = 40
FIRST_CYCLE_YEAR = 1410  # the history is built from 1391 to 1404: cycles from here on are the load's
_MONTH, _ID = "@MONTH@", "@EVENT-ID@"


def cycle_month(cycle: int) -> str:
    return f"{FIRST_CYCLE_YEAR + cycle // 12}-{cycle % 12 + 1:02d}"


def national_id(person: int) -> str:
    return f"{person:010d}"


def item(order_id: str, person: int) -> dict:
    """One paid household of a disbursements event, as payments publishes it."""
    return {"order_id": order_id, "national_id": national_id(person), "mobile": f"0912{person % 10_000_000:07d}",
            "amount_rials": 12_500_000, "province": "tehran", "account_masked": "IR** **** **** **** **** **12 34"}


def disbursements(items: list[dict], month: str, month_fa: str, batch: int, batches: int,
                  event_id: str | None = None) -> dict:
    """A disbursements event of one batch of a month's pension_disability cycle."""
    return new_event(DISBURSEMENTS_PUBLISHED, {
        "cycle_id": f"{month}.pension_disability", "budget_line": "pension_disability",
        "budget_line_fa": "مستمری خانوارهای دارای معلول", "month": month, "month_fa": month_fa,
        "batch": batch, "batches": batches, "paid_at": "2026-11-26T09:00:00Z", "items": items}, event_id=event_id)


def _templates(people: int) -> list[str]:
    """A cycle's events as JSON text, the month and the event id left as placeholders (encoding 300 events of
    870 kB anew for each cycle would load the machine with work that is the publisher's, not the consumer's)."""
    texts = []
    for first in range(1, people + 1, BATCH):
        items = [item(f"{_MONTH}.pension_disability.{national_id(p)}", p)
                 for p in range(first, min(first + BATCH, people + 1))]
        texts.append(encode(disbursements(items, _MONTH, "—", len(texts) + 1, -(-people // BATCH), event_id=_ID)))
    return texts


def _consumed(cur) -> int:
    cur.execute("SELECT count(*) FROM inbox WHERE type = %s", (DISBURSEMENTS_PUBLISHED.type,))
    return cur.fetchone()[0]


def publish_cycles(amqp: str, url: str, people: int, ready, stop) -> None:
    """Runs in its own process until `stop` is set; sets `ready` once the first events are published."""
    templates = _templates(people)
    exchange = event_exchange(DISBURSEMENTS_PUBLISHED.exchange)
    publisher = ConfirmingPublisher(amqp)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    published = 0
    try:
        with conn.cursor() as cur:
            done = _consumed(cur)
            cycle = 0
            while not stop.is_set():
                month = cycle_month(cycle)
                for text in templates:
                    while published - done >= AHEAD and not stop.is_set():
                        time.sleep(0.05)
                        done = _consumed(cur)
                    if stop.is_set():
                        break
                    event_id = random_id()
                    publisher.publish_batch([(exchange, DISBURSEMENTS_PUBLISHED.type,
                                              text.replace(_MONTH, month).replace(_ID, event_id), event_id)])
                    published += 1
                    if published == AHEAD:
                        ready.set()
                cycle += 1
    finally:
        publisher.close()
        conn.close()


class IngestLoad:
    """`with IngestLoad(amqp, url, people) as load:` the cycles run in a background process while the block
    runs; `load.events()` is how many disbursement events the service has taken so far."""

    def __init__(self, amqp: str, url: str, people: int):
        ctx = mp.get_context("spawn")  # not forked: the parent's broker and database connections stay its own
        self.ready, self.stop = ctx.Event(), ctx.Event()
        self.process = ctx.Process(target=publish_cycles, args=(amqp, url, people, self.ready, self.stop),
                                   daemon=True)
        self.url = url

    def events(self) -> int:
        conn = psycopg2.connect(self.url)
        try:
            with conn.cursor() as cur:
                return _consumed(cur)
        finally:
            conn.close()

    def __enter__(self):
        self.process.start()
        if not self.ready.wait(300):
            self.stop.set()
            raise TimeoutError("the ingest load did not start")
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.process.join(60)
        if self.process.is_alive():
            self.process.kill()


def forget_cycles(url: str) -> int:
    """Deletes what the cycles added to the history database, so that the next run, and `history`, find it as
    built (VACUUM: the index-only scans need the pages all-visible again). Returns the rows deleted."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            # by the primary key's range (the cycles' order ids begin with their month): no scan of 50 million rows
            cur.execute("DELETE FROM beneficiary_payments WHERE order_id >= %s", (cycle_month(0),))
            deleted = cur.rowcount
            cur.execute("DELETE FROM payment_totals WHERE month >= %s", (cycle_month(0),))
            cur.execute("TRUNCATE inbox, beneficiary_contacts")
            if deleted:
                cur.execute("VACUUM ANALYZE beneficiary_payments")
            return deleted
    finally:
        conn.close()
