"""Benchmark 8: the Shafaf portal (issue "Transparency"). Three figures, each beside a baseline run in
the same process run:

1. history: one beneficiary's payment history (first page, newest first) among 50 million payment rows,
   through the gateway (HTTP -> gateway -> RPC -> transparency -> PostgreSQL), p50/p99 over random
   beneficiaries; baseline: the same indexed SELECT run directly with psycopg2. `history-under-ingest`: the
   same while payment cycles are consumed into that history (bench.transparency_cycles), the machine loaded.
2. ingest: disbursement events (batches of 5,000, as payments publishes them, published as the outbox relay
   does) consumed by the transparency service from RabbitMQ into the history, the contacts and the totals;
   baseline: a COPY of the same rows into a table of the same shape and indexes. `ingest-next-month`: the
   same for the month after one already consumed (the people's contacts known), the usual month.
3. dump: the full CSV download of the 22,000 contracts through the gateway, with the peak memory of the
   gateway and the service; baseline: COPY of the same rows' JSON to stdout.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python -m bench.transparency \
        [--rows 50000000] [--lookups 2000] [--events 60] [--only history,ingest,ingest-next-month,dump,history-under-ingest]

The 50-million-row database (`bench_transparency_history`) is built once (about 15 minutes here) and
kept for later runs; `--rebuild` builds it again.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import threading
import time
import uuid

import psutil
import psycopg2
import requests

from bench.harness import citizen, databases, percentile, safeguards, vhost
from bench.results import record
from bench.transparency_cycles import BATCH, IngestLoad, disbursements, forget_cycles, item, national_id
from common.config import PROJECT_ROOT, get_settings, with_database
from common.db import drop_database, ensure_database
from common.events.catalog import DISBURSEMENTS_PUBLISHED
from common.events.envelope import encode
from common.migrations import upgrade
from common.outbox.publisher import ConfirmingPublisher
from common.outbox.relay import event_exchange
from scripts.processes import free_port, platform_processes, start_platform, wait_ready

HISTORY_DB = "bench_transparency_history"
PEOPLE = 1_515_152  # 50,000,016 rows at 33 payments each (1391-1405: a payment every few months)
LINES = ("pension_disability", "pension_elderly", "pension_female_headed", "pension_orphans")
HISTORY_SQL = ("SELECT order_id, paid_on, month, budget_line, amount_rials, account_masked, status "
               "FROM beneficiary_payments WHERE national_id = %s ORDER BY paid_on DESC, order_id DESC LIMIT 21")


def build_history(url: str, rows: int, rebuild: bool) -> None:
    """The history table at full size, loaded set-based then indexed (as a restore would)."""
    if rebuild:
        drop_database(url)
    ensure_database(url)
    upgrade("transparency", url)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'beneficiary_payments'")
        if cur.fetchone()[0] >= rows * 0.99:
            conn.close()
            return
        per_person = -(-rows // PEOPLE)
        started = time.perf_counter()
        cur.execute("TRUNCATE beneficiary_payments")
        cur.execute("ALTER TABLE beneficiary_payments DROP CONSTRAINT beneficiary_payments_pkey")
        cur.execute("DROP INDEX beneficiary_payments_history")
        cur.execute("SET maintenance_work_mem = '1GB'")
        # month k of person p, spread over the 165 months since Farvardin 1391, written month after month as
        # the cycles write them (so a person's payments lie on as many pages as they have payments)
        cur.execute(f"""
            INSERT INTO beneficiary_payments
            SELECT to_char(1391 + mo / 12, 'FM0000') || '-' || to_char(mo % 12 + 1, 'FM00') || '.'
                     || line || '.' || lpad(p::text, 10, '0'),
                   lpad(p::text, 10, '0'), date '2012-03-20' + mo * 30 + (p % 28), to_char(1391 + mo / 12, 'FM0000')
                     || '-' || to_char(mo % 12 + 1, 'FM00'), line, 12500000 + (p % 7) * 500000,
                   'IR** **** **** **** **** **' || lpad((p % 10000)::text, 4, '0'), 'paid'
            FROM generate_series(0, {per_person - 1}) k CROSS JOIN LATERAL generate_series(1, {PEOPLE}) p,
                 LATERAL (SELECT k * 5 + p % 5 AS mo, (ARRAY{list(LINES)})[1 + p % 4] AS line) x
            """)
        print(f"loaded in {time.perf_counter() - started:.0f}s", flush=True)
        cur.execute("ALTER TABLE beneficiary_payments ADD PRIMARY KEY (order_id)")
        cur.execute("CREATE INDEX beneficiary_payments_history ON beneficiary_payments "
                    "(national_id, paid_on DESC, order_id DESC) "
                    "INCLUDE (month, budget_line, amount_rials, account_masked, status)")
        cur.execute("VACUUM ANALYZE beneficiary_payments")
        cur.execute("INSERT INTO budget_line_titles VALUES " + ", ".join(f"('{line}', '{line}')" for line in LINES)
                    + " ON CONFLICT DO NOTHING")
        print(f"built in {time.perf_counter() - started:.0f}s", flush=True)
    conn.close()


def _lookups(base: str, conn, people: list[str], others: list[str]) -> tuple[list[float], list[float]]:
    """Each of `people`'s first page through the gateway (a beneficiary's token, a citizen's address),
    interleaved with the same SELECT run directly for each of `others`, so both see the same machine load.
    Returns the two lists of seconds."""
    from gateway.auth import beneficiary_token

    settings = get_settings()
    session = requests.Session()
    tokens = [beneficiary_token(p, settings)[0] for p in people]

    def page(token: str):
        return session.get(f"{base}/api/v1/transparency/me/payments",
                           headers={"Authorization": f"Bearer {token}", **citizen()})

    for token in tokens[:50]:  # warm: connections, plans, the index's upper levels
        page(token)
    through, direct = [], []
    with conn.cursor() as cur:
        for token, other in zip(tokens, others, strict=True):
            started = time.perf_counter()
            answer = page(token)
            through.append(time.perf_counter() - started)
            assert answer.status_code == 200 and len(answer.json()["items"]) == 20, answer.text[:200]
            started = time.perf_counter()
            cur.execute(HISTORY_SQL, (other,))
            cur.fetchall()
            direct.append(time.perf_counter() - started)
    return through, direct


def _latencies(through: list[float], direct: list[float]) -> dict:
    result = {"gateway_p50_ms": round(percentile(through, 50) * 1000, 2),
              "gateway_p99_ms": round(percentile(through, 99) * 1000, 2),
              "select_p50_ms": round(percentile(direct, 50) * 1000, 3),
              "select_p99_ms": round(percentile(direct, 99) * 1000, 3)}
    result["ratio_p50"] = round(result["gateway_p50_ms"] / result["select_p50_ms"], 1)
    result["ratio_p99"] = round(result["gateway_p99_ms"] / result["select_p99_ms"], 1)
    return result


def _history_platform(amqp: str, url: str):
    """The gateway, with production's safeguards, and the transparency service's two processes (its RPCs, its
    feeds) on the history database."""
    ports = {"gateway": free_port(), "sms-operator": free_port(), "metrics:gateway": free_port(),
             "metrics:transparency": free_port(), "metrics:transparency-feeds": free_port()}
    group = start_platform(amqp, {"transparency": url}, ports, str(PROJECT_ROOT),
                           only={"transparency", "transparency-feeds", "gateway"},
                           threads=4, extra_env={"TRANSPARENCY_DEMO_DATA": "false", **safeguards(),
                                                 "TRANSPARENCY_PUBLISH_SECONDS": "3600"})
    try:
        wait_ready(f"http://127.0.0.1:{ports['gateway']}/healthz", group, timeout=60)
        wait_ready(f"http://127.0.0.1:{ports['metrics:transparency']}/readyz", group, timeout=60)
        wait_ready(f"http://127.0.0.1:{ports['metrics:transparency-feeds']}/readyz", group, timeout=60)
    except BaseException:
        group.stop()
        raise
    return group, f"http://127.0.0.1:{ports['gateway']}"


def history(server: str, lookups: int, rows: int, rebuild: bool, under_ingest: bool = False) -> dict:
    """`under_ingest`: while the lookups run, payment cycles are consumed into the same history
    (bench.transparency_cycles), as when beneficiaries look while a cycle is being paid."""
    url = with_database(server, HISTORY_DB)
    build_history(url, rows, rebuild)
    rng = random.Random(1405)
    # different people for each path, so neither finds the other's pages in the cache
    people = [national_id(rng.randint(1, PEOPLE)) for _ in range(lookups)]
    others = [national_id(rng.randint(1, PEOPLE)) for _ in range(lookups)]
    conn = psycopg2.connect(url)
    conn.autocommit = True
    if under_ingest:
        forget_cycles(url)  # what a run stopped midway left
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM beneficiary_payments WHERE national_id = %s", (people[0],))
        per_person = cur.fetchone()[0]
        cur.execute("SELECT reltuples::bigint FROM pg_class WHERE relname = 'beneficiary_payments'")
        total_rows = cur.fetchone()[0]
    load = {}
    with vhost() as amqp:
        group, base = _history_platform(amqp, url)
        try:
            if under_ingest:
                with IngestLoad(amqp, url, PEOPLE) as ingest:
                    events, load_before, started = ingest.events(), os.getloadavg()[0], time.perf_counter()
                    through, direct = _lookups(base, conn, people, others)
                    seconds, events = time.perf_counter() - started, ingest.events() - events
                load = {"ingest_events_during_lookups": events, "lookup_seconds": round(seconds, 1),
                        "ingest_items_per_second": round(events * BATCH / seconds),
                        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
            else:
                through, direct = _lookups(base, conn, people, others)
            with conn.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + HISTORY_SQL, (people[-1],))
                plan = " / ".join(line for (line,) in cur.fetchall()[:3])
        finally:
            group.stop()
    if under_ingest:
        load["rows_added_then_deleted"] = forget_cycles(url)
    conn.close()
    result = {"rows": total_rows, "payments_per_beneficiary": per_person, "lookups": lookups,
              **_latencies(through, direct), **load, "plan": plan}
    if under_ingest:
        result["aim_p99_le_10ms"] = result["gateway_p99_ms"] <= 10
    else:
        result["aim_p99_le_50ms"] = result["gateway_p99_ms"] <= 50
    return result


MONTHS = (("1405-08", "آبان ۱۴۰۵"), ("1405-09", "آذر ۱۴۰۵"))


def _event(batch: int, size: int, run: str, month: int = 1) -> dict:
    items = [item(f"{run}.{month}.{batch}.{i}", batch * size + i) for i in range(size)]
    return disbursements(items, *MONTHS[month], batch + 1, 1000)


def _wait_consumed(conn, events: int, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    with conn.cursor() as cur:
        while True:  # the consumer's own record of what it took, read as an operator would
            cur.execute("SELECT count(*) FROM inbox")
            taken = cur.fetchone()[0]
            if taken == events:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the service took {taken} of {events} events in {timeout:.0f}s (its log: above)")
            time.sleep(0.05)


def ingest(events: int, size: int = 5000, next_month: bool = False, replicas: int = 1) -> dict:
    """A month's disbursements consumed into the history, against a COPY of its rows. With `next_month`, the
    month after one already consumed for the same people (their contacts known): every month but a
    household's first, so the usual case; the first month, untimed, is consumed before the clock starts."""
    run = uuid.uuid4().hex[:6]
    batches = [_event(b, size, run) for b in range(events)]
    before = [_event(b, size, run, month=0) for b in range(events)] if next_month else []
    # published as the outbox relay publishes them: the envelope's JSON text (the outbox keeps it as such), on
    # one connection, confirmed by the broker; encoded before the clock starts, which is the publisher's work
    exchange = event_exchange(DISBURSEMENTS_PUBLISHED.exchange)
    messages, earlier = ([(exchange, envelope["type"], encode(envelope), envelope["id"]) for envelope in group]
                         for group in (batches, before))
    with databases() as urls, vhost() as amqp:
        url = urls["transparency"]
        ports = {"gateway": free_port(), "sms-operator": free_port(), "metrics:transparency-feeds": free_port()}
        group = start_platform(amqp, {"transparency": url}, ports, str(PROJECT_ROOT), only={"transparency-feeds"},
                               extra_env={"TRANSPARENCY_DEMO_DATA": "false", "TRANSPARENCY_PUBLISH_SECONDS": "3600"})
        try:
            wait_ready(f"http://127.0.0.1:{ports['metrics:transparency-feeds']}/readyz", group, timeout=60)
            for n in range(2, replicas + 1):  # production's minReplicaCount is 2 (k8s/base/transparency-feeds.yaml)
                port = free_port()
                group.start(f"transparency-feeds-{n}", platform_processes()["transparency-feeds"],
                            {"METRICS_PORT": str(port)})
                wait_ready(f"http://127.0.0.1:{port}/readyz", group, timeout=60)
            conn = psycopg2.connect(url)
            conn.autocommit = True
            publisher = ConfirmingPublisher(amqp)
            try:
                if earlier:
                    publisher.publish_batch(earlier)
                    _wait_consumed(conn, len(earlier))
                started = time.perf_counter()
                publisher.publish_batch(messages)
            finally:
                publisher.close()
            _wait_consumed(conn, len(earlier) + events)
            consumed = time.perf_counter() - started
            with conn.cursor() as cur:
                cur.execute("SELECT (SELECT count(*) FROM beneficiary_payments), "
                            "(SELECT sum(households) FROM payment_totals), (SELECT count(*) FROM beneficiary_contacts)")
                stored, households, contacts = cur.fetchone()
                assert stored == households == (len(earlier) + events) * size, (stored, households)
                assert contacts == events * size, contacts
                cur.execute("CREATE TABLE copy_baseline (LIKE beneficiary_payments INCLUDING ALL)")
                buffer = io.StringIO()
                for envelope in batches:
                    for item in envelope["data"]["items"]:
                        buffer.write(f"{item['order_id']}\t{item['national_id']}\t2026-11-26\t1405-09\t"
                                     f"pension_disability\t{item['amount_rials']}\t{item['account_masked']}\tpaid\n")
                buffer.seek(0)
                started = time.perf_counter()
                cur.copy_expert("COPY copy_baseline FROM STDIN", buffer)
                copied = time.perf_counter() - started
            conn.close()
        finally:
            group.stop()
    items = events * size
    return {"events": events, "items": items, "contacts_known": next_month, "feeds_processes": replicas, "consume_seconds": round(consumed, 2),
            "items_per_second": round(items / consumed), "copy_seconds": round(copied, 2),
            "copy_rows_per_second": round(items / copied), "ratio": round(copied / consumed, 3)}


def tree_rss(process: psutil.Process) -> int:
    """A process and its children (gunicorn's master and its worker)."""
    return process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))


class PeakRss:
    def __init__(self, pids: list[int]):
        self.processes = [psutil.Process(pid) for pid in pids]
        self.peak = {p.pid: 0 for p in self.processes}
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self.done.is_set():
            for p in self.processes:
                try:
                    self.peak[p.pid] = max(self.peak[p.pid], tree_rss(p))
                except psutil.Error:
                    continue
            self.done.wait(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()


def dump() -> dict:
    with databases() as urls, vhost() as amqp:
        url = urls["transparency"]
        ports = {"gateway": free_port(), "sms-operator": free_port(), "metrics:gateway": free_port(),
                 "metrics:transparency": free_port()}
        group = start_platform(amqp, {"transparency": url}, ports, str(PROJECT_ROOT),
                               only={"transparency", "transparency-feeds", "gateway"}, threads=2,
                               extra_env={"TRANSPARENCY_PUBLISH_SECONDS": "1", **safeguards()})
        try:
            base = f"http://127.0.0.1:{ports['gateway']}/api/v1/transparency"
            wait_ready(f"http://127.0.0.1:{ports['gateway']}/healthz", group, timeout=60)
            wait_ready(f"http://127.0.0.1:{ports['metrics:transparency']}/readyz", group, timeout=60)
            deadline = time.monotonic() + 300
            while requests.get(f"{base}/datasets/contracts", headers=citizen(), timeout=30).json().get("version") is None:
                if time.monotonic() > deadline:
                    raise TimeoutError("the demo contracts were not published")
                time.sleep(0.5)
            # one download first: the first request's imports and connection pools are not the dump's cost
            requests.get(f"{base}/datasets/properties/download.csv", headers=citizen(), timeout=60).raise_for_status()
            pids = [group.procs["gateway"].pid, group.procs["transparency"].pid]
            before = {pid: tree_rss(psutil.Process(pid)) for pid in pids}
            with PeakRss(pids) as peak:
                started = time.perf_counter()
                size = 0
                with requests.get(f"{base}/datasets/contracts/download.csv", headers=citizen(), stream=True,
                                  timeout=300) as answer:
                    for chunk in answer.iter_content(65536):
                        size += len(chunk)
                seconds = time.perf_counter() - started
            conn = psycopg2.connect(url)
            with conn.cursor() as cur:
                out = io.StringIO()
                started = time.perf_counter()
                cur.copy_expert("COPY (SELECT data FROM dataset_rows WHERE slug = 'contracts' ORDER BY n) "
                                "TO STDOUT", out)
                copied = time.perf_counter() - started
            conn.close()
        finally:
            group.stop()
    mib = 1024 * 1024
    return {"rows": 22_000, "bytes": size, "seconds": round(seconds, 2), "copy_seconds": round(copied, 3),
            "ratio": round(seconds / copied, 1),
            "gateway_rss_mib": {"before": round(before[pids[0]] / mib), "peak": round(peak.peak[pids[0]] / mib)},
            "service_rss_mib": {"before": round(before[pids[1]] / mib), "peak": round(peak.peak[pids[1]] / mib)}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--events", type=int, default=60)
    parser.add_argument("--only", default="history,ingest,dump")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--feeds", type=int, default=1, help="transparency-feeds processes consuming the ingest")
    parser.add_argument("--prepare", action="store_true", help="only build the 50-million-row database")
    args = parser.parse_args(argv)
    server = os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    if args.prepare:
        build_history(with_database(server, HISTORY_DB), args.rows, args.rebuild)
        return 0
    results = {}
    for part in args.only.split(","):
        results[part] = {"history": lambda: history(server, args.lookups, args.rows, args.rebuild),
                         "history-under-ingest": lambda: history(server, args.lookups, args.rows, args.rebuild, True),
                         "ingest": lambda: ingest(args.events, replicas=args.feeds),
                         "ingest-next-month": lambda: ingest(args.events, next_month=True, replicas=args.feeds),
                         "dump": dump}[part]()
        print(json.dumps({part: results[part]}, ensure_ascii=False), flush=True)
        record(part, results[part])
    print(json.dumps({"benchmark": "transparency", **results}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
