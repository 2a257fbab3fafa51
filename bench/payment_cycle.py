"""Benchmark 7: the whole monthly payment cycle of the demo registry (SPEC P1-P4) on PostgreSQL, against the
fake bank over HTTP, to the disbursement events in a consumer's hands.

The budget lines and the demo registry (1,542,000 households by default) are loaded first with COPY (timed
apart, not part of the cycle). Then, on the clock, for each of the four pension lines (together every
household): open the cycle (finance.expert), advance it to entitlements_computed, approve it
(finance.approver), advance it to settled: entitlements, orders, pain.001 files of 5,000 (each validated
against the XSD), the bank's answers, its camt.053 statements (validated), reconciliation, the ledger check
and the disbursement events in the outbox. Meanwhile the outbox relay of the payments service publishes
them to a fresh RabbitMQ vhost, and a plain kombu consumer bound to payments.events counts their items: the
clock stops when the last of the paid households has arrived (the suspended, the deceased and the
unconfirmed accounts are not paid: the expected count comes from the database).

Beside it, in the same run: one PostgreSQL COPY of the same number of order rows (id, cycle_id,
national_id, iban, amount) into an unlogged scratch table; ratio = cycle seconds / COPY seconds.
Peak memory (RSS) of this process, of the fake bank, of the relay and of the consumer is sampled in a
thread. Checked after the run: the ledger check is empty, every order is paid exactly once, the events'
items are the paid orders, each batch reached the bank once.

Files and statements are at the bank a few at a time (cycle_steps.IN_FLIGHT, $BANK_IN_FLIGHT; --in-flight here):
the bank's work and ours overlap.

    .venv/bin/python -m bench.payment_cycle [--people 1542000] [--in-flight 3] [--profile FILE]

--profile profiles only this process's main thread (cProfile); to see the threads that read the statements and
the fake bank too, sample the processes during a run instead, e.g. py-spy record --pid <pid> -f raw.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import functools
import io
import json
import multiprocessing as mp
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict

import psutil
import requests
import sqlalchemy as sa
from kombu import Connection, Consumer, Queue
from sqlalchemy.orm import Session

from bench.harness import databases, vhost
from bench.results import record
from common.config import PROJECT_ROOT
from common.events.catalog import DISBURSEMENTS_PUBLISHED
from common.events.envelope import register_kombu_serializer
from common.outbox.relay import OutboxRelay, event_exchange
from scripts.processes import free_port
from services.payments import cycle_steps, demo_load, ledger_store
from services.payments.bank import BankHttpAdapter
from common.budget_lines import LINES_BY_CODE, PENSION_LINES

MONTH = "1405-09"
QUEUE = "bench-disbursements"
MIB = 1 << 20


# the fake bank, the relay and the consumer --------------------------------------------------------------
@contextlib.contextmanager
def fake_bank(key: str):
    """`python -m fakes.bank --open` on a free port, in its own process; yields (base URL, process)."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "fakes.bank", "--host", "127.0.0.1", "--port", str(port), "--open",
                             "--key", key], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the fake bank did not start")
            time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def declare(amqp_uri: str) -> None:
    with Connection(amqp_uri) as conn:
        queue = Queue(QUEUE, exchange=event_exchange(DISBURSEMENTS_PUBLISHED.exchange), routing_key="#", durable=True)
        queue(conn.default_channel).declare()


def consume(amqp_uri: str, expected: int, ready, out) -> None:
    """Count the disbursement events' items (each event once, by its id) until `expected` have arrived;
    report {items, events, duplicates, other_events (the cycles' own events), finished (perf_counter)}."""
    register_kombu_serializer()
    seen: dict[str, int] = {}
    duplicates = others = 0

    def on_message(body, message):
        nonlocal duplicates, others
        if body.get("type") != DISBURSEMENTS_PUBLISHED.type:
            others += 1
        elif body["id"] in seen:
            duplicates += 1
        else:
            seen[body["id"]] = len(body["data"]["items"])
        message.ack()

    with Connection(amqp_uri) as conn:
        with Consumer(conn, queues=[Queue(QUEUE, durable=True)], callbacks=[on_message], accept=["cloudevents"],
                      prefetch_count=16):
            ready.set()
            while sum(seen.values()) < expected:
                conn.drain_events(timeout=600)
    out.put({"items": sum(seen.values()), "events": len(seen), "duplicates": duplicates, "other_events": others,
             "finished": time.perf_counter()})


def relay(db_url: str, amqp_uri: str, batch_size: int, stop) -> None:
    r = OutboxRelay("payments", db_url, amqp_uri, batch_size=batch_size, poll_interval=0.5)
    threading.Thread(target=lambda: (stop.wait(), r.stopping.set()), daemon=True).start()
    r.run_forever()


class MemorySampler(threading.Thread):
    """The peak RSS of each named process (and of their sum), sampled every `interval` seconds."""

    def __init__(self, pids: dict[str, int], interval: float = 0.1):
        super().__init__(daemon=True)
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.interval = interval
        self.peaks: dict[str, int] = defaultdict(int)
        self.halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for name, process in self.processes.items():
            try:
                rss = process.memory_info().rss
            except psutil.Error:
                continue
            self.peaks[name] = max(self.peaks[name], rss)
            total += rss
        self.peaks["sum"] = max(self.peaks["sum"], total)

    def run(self) -> None:
        while not self.halt.wait(self.interval):
            self.sample()

    def stop(self) -> dict[str, float]:
        self.halt.set()
        self.join()
        self.sample()
        return {f"{name}_mib": round(rss / MIB, 1) for name, rss in self.peaks.items()}

    def cpu(self) -> dict[str, float]:
        """CPU seconds (user + system) each process has used so far."""
        used = {}
        for name, process in self.processes.items():
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                used[name] = times.user + times.system
        return used


def machine_busy() -> float:
    """CPU seconds the whole machine (both cores, every process: PostgreSQL and RabbitMQ too) has been busy."""
    times = psutil.cpu_times()
    return times.user + times.system + getattr(times, "nice", 0) + getattr(times, "irq", 0) + getattr(
        times, "softirq", 0)


# timing the steps ---------------------------------------------------------------------------------------
class StageClock:
    """Seconds per cycle step, summed over the lines: the steps of cycle_steps.advance, wrapped."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def timed(self, name: str, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started
        return wrapper

    @contextlib.contextmanager
    def installed(self):
        saved = dict(cycle_steps.AUTOMATIC), dict(cycle_steps.WITH_BANK)
        for table in (cycle_steps.AUTOMATIC, cycle_steps.WITH_BANK):
            for stage, fn in table.items():
                table[stage] = self.timed(fn.__name__, fn)
        try:
            yield self
        finally:
            cycle_steps.AUTOMATIC.clear()
            cycle_steps.AUTOMATIC.update(saved[0])
            cycle_steps.WITH_BANK.clear()
            cycle_steps.WITH_BANK.update(saved[1])


class TimedBank:
    """The bank adapter, its calls (HTTP, the bank's work and our parsing of its answer) timed."""

    def __init__(self, bank: BankHttpAdapter, clock: StageClock):
        self.bank, self.clock = bank, clock
        self.submit = clock.timed("bank.submit (http + parse)", bank.submit)
        self.statement = clock.timed("bank.statement (http + parse)", bank.statement)

    def __getattr__(self, name):
        return getattr(self.bank, name)


def time_statements(engine, totals: dict[str, list]) -> dict[str, list]:
    """{statement's first words: [calls, seconds]}, kept by engine events."""

    @sa.event.listens_for(engine, "before_cursor_execute")
    def before(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_started"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def after(conn, cursor, statement, parameters, context, executemany):
        entry = totals[" ".join(statement.split())[:110]]
        entry[0] += 1
        entry[1] += time.perf_counter() - conn.info.pop("bench_started")

    return totals


def run_cycle(session: Session, bank, clock: StageClock, line: str) -> str:
    cycle_id = f"{MONTH}.{line}"
    with session.begin():
        clock.timed("open_cycle", cycle_steps.open_cycle)(session, MONTH, line, "finance.expert")
    stage = cycle_steps.advance(session, cycle_id, bank)
    assert stage == "entitlements_computed", (line, stage)
    with session.begin():
        clock.timed("approve", cycle_steps.approve)(session, cycle_id, "finance.approver")
    return cycle_steps.advance(session, cycle_id, bank)


def run_lines(url: str, bank, clock: StageClock, lines: list[str], expected: dict[str, int], sql_times=None,
              profiler=None) -> dict[str, dict]:
    """The cycles of `lines`, one after another, on one connection; {line: {orders, stage, seconds}}."""
    engine = sa.create_engine(url)
    if sql_times is not None:
        time_statements(engine, sql_times)
    done = {}
    try:
        with Session(engine) as session, clock.installed():
            if profiler:
                profiler.enable()
            for line in lines:
                began = time.perf_counter()
                stage = run_cycle(session, bank, clock, line)
                done[line] = {"orders": expected[line], "stage": stage, "seconds": round(time.perf_counter() - began, 2)}
                print(f"{line}: {done[line]}", file=sys.stderr, flush=True)
            if profiler:
                profiler.disable()
    finally:
        engine.dispose()
    return done


def cycle_worker(url: str, bank_url: str, key: str, lines: list[str], expected: dict[str, int], go, out) -> None:
    """A process running the cycles of some lines (as `python -m services.payments.advance_cycle` runs one cycle)."""
    clock = StageClock()
    bank = TimedBank(BankHttpAdapter(bank_url, key, timeout=300), clock)
    go.wait()
    before = psutil.Process().cpu_times()
    try:
        done = run_lines(url, bank, clock, lines, expected)
        after = psutil.Process().cpu_times()
        out.put({"lines": done, "stages": dict(clock.seconds),
                 "cpu": after.user + after.system - before.user - before.system})
    except BaseException as exc:
        out.put({"error": repr(exc)})
        raise


def spread(lines, processes: int) -> list[list[str]]:
    """The lines over `processes`, the largest first, each to the least loaded."""
    groups = [[] for _ in range(processes)]
    loads = [0] * processes
    for line in sorted(lines, key=lambda code: -LINES_BY_CODE[code]["demo_beneficiaries"]):
        least = loads.index(min(loads))
        groups[least].append(line)
        loads[least] += LINES_BY_CODE[line]["demo_beneficiaries"]
    return [g for g in groups if g]


# what is expected, what happened, and the baseline ------------------------------------------------------
def expected_orders(session: Session) -> dict[str, int]:
    """Per pension line, the households the cycle must pay: active, account confirmed, enrolled by MONTH."""
    rows = session.execute(sa.text("""
        SELECT e.line, count(*) FROM enrolments e JOIN beneficiaries b ON b.national_id = e.national_id
        WHERE e.line = ANY(:lines) AND e.since <= :month AND b.status = 'active' AND b.iban_verified_at IS NOT NULL
        GROUP BY e.line"""), {"lines": list(PENSION_LINES), "month": MONTH}).all()
    return {line: 0 for line in PENSION_LINES} | dict(rows)


def checks(session: Session, bank_url: str, expected: dict[str, int], delivered: dict) -> dict:
    def q(sql: str, **params):
        return session.execute(sa.text(sql), params)

    total = sum(expected.values())
    orders, paid, distinct_people = q("SELECT count(*), count(*) FILTER (WHERE status = 'paid'), "
                                      "count(DISTINCT (cycle_id, national_id)) FROM payment_orders").one()
    paid_by_line = dict(q("SELECT c.line, count(*) FROM payment_orders p JOIN cycles c ON c.id = p.cycle_id "
                          "WHERE p.status = 'paid' GROUP BY c.line").all())
    ledger_paid = {line: ledger_store.balance(session, f"paid:{line}") for line in PENSION_LINES}
    items, distinct_items, events = q("""
        SELECT count(*), count(DISTINCT i->>'order_id'), count(DISTINCT o.id)
        FROM outbox o, jsonb_array_elements(o.envelope->'data'->'items') i
        WHERE o.routing_key = :type""", type=DISBURSEMENTS_PUBLISHED.type).one()
    items_not_paid = q("""
        SELECT count(*) FROM outbox o, jsonb_array_elements(o.envelope->'data'->'items') i
        LEFT JOIN payment_orders p ON p.id = i->>'order_id' AND p.status = 'paid'
        WHERE o.routing_key = :type AND p.id IS NULL""", type=DISBURSEMENTS_PUBLISHED.type).scalar()
    unpublished = q("SELECT count(*) FROM outbox WHERE published_at IS NULL").scalar()
    batch_ids = set(q("SELECT id FROM bank_batches").scalars())
    settled = q("SELECT count(*) FROM bank_batches WHERE status = 'settled'").scalar()
    stages = dict(q("SELECT line, stage FROM cycles").all())
    at_bank = requests.get(f"{bank_url}/api/batches", timeout=60).json()
    problems = ledger_store.check(session)
    result = {
        "ledger_check": problems,
        "orders": orders, "expected": total, "paid": paid,
        "every_order_paid_once": orders == paid == distinct_people == total and paid_by_line == {
            k: v for k, v in expected.items() if v},
        "ledger_paid_matches": all(ledger_paid[line] == expected[line] * LINES_BY_CODE[line]["per_capita_rials"]
                                   for line in PENSION_LINES),
        "event_items": items, "event_items_distinct": distinct_items, "event_items_not_paid": items_not_paid,
        "events": events, "events_unpublished": unpublished,
        "events_items_equal_paid": items == distinct_items == paid and items_not_paid == 0,
        "delivered_items": delivered["items"], "delivered_events": delivered["events"],
        "redelivered_events": delivered["duplicates"], "delivered_other_events": delivered["other_events"],
        "delivered_equal_paid": delivered["items"] == paid and delivered["events"] == events,
        "batches": len(batch_ids), "batches_settled": settled,
        "each_batch_once_at_the_bank": ({b["batch_id"] for b in at_bank} == batch_ids and len(at_bank) == len(batch_ids)
                                        and all(b["submissions"] == 1 for b in at_bank) and settled == len(batch_ids)
                                        and sum(b["accepted"] for b in at_bank) == paid),
        "all_settled": set(stages.values()) == {"settled"} and set(stages) == {k for k, v in expected.items() if v},
    }
    result["ok"] = (not problems and result["every_order_paid_once"] and result["ledger_paid_matches"]
                    and result["events_items_equal_paid"] and result["delivered_equal_paid"]
                    and result["each_batch_once_at_the_bank"] and result["all_settled"] and unpublished == 0)
    return result


def copy_baseline(url: str) -> dict:
    """The same order rows (exported beforehand, not timed) COPYed into an unlogged table with no index."""
    import psycopg2

    conn = psycopg2.connect(url)
    try:
        with tempfile.TemporaryFile() as rows, conn.cursor() as cur:
            cur.copy_expert("COPY (SELECT id, cycle_id, national_id, iban, amount_rials FROM payment_orders) "
                            "TO STDOUT", rows)
            size = rows.tell()
            rows.seek(0)
            cur.execute("CREATE UNLOGGED TABLE bench_scratch_orders (id text, cycle_id text, national_id text, "
                        "iban text, amount_rials bigint)")
            conn.commit()
            started = time.perf_counter()
            cur.copy_expert("COPY bench_scratch_orders FROM STDIN", rows, size=1 << 16)
            conn.commit()
            seconds = time.perf_counter() - started
            cur.execute("SELECT count(*) FROM bench_scratch_orders")
            (count,) = cur.fetchone()
            cur.execute("DROP TABLE bench_scratch_orders")
            conn.commit()
    finally:
        conn.close()
    return {"what": "one COPY of the order rows (id, cycle_id, national_id, iban, amount) into an unlogged table",
            "rows": count, "mib": round(size / MIB, 1), "seconds": round(seconds, 2)}


# the run ------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=None, help="the first N of the demo registry (default: all)")
    parser.add_argument("--relay-batch", type=int, default=4, help="events the relay claims at a time (each is "
                                                                   "up to 5,000 items)")
    parser.add_argument("--lines-at-once", type=int, default=1, help="run the four cycles in this many processes "
                        "at once, as one cycle worker per line would (default: one line after another, here)")
    parser.add_argument("--in-flight", type=int, default=cycle_steps.IN_FLIGHT,
                        help="files and statements at the bank at once (default: %(default)s)")
    parser.add_argument("--sql-times", action="store_true", help="print the SQL statements of the cycle by total "
                                                                  "time to stderr")
    parser.add_argument("--profile", default=None, help="profile this process during the cycle (cProfile) to FILE "
                                                        "and print its top functions to stderr")
    args = parser.parse_args(argv)
    cycle_steps.IN_FLIGHT = max(1, args.in_flight)  # read by send_batches and receive_statements (and forked workers)
    ctx = mp.get_context("fork")
    key = uuid.uuid4().hex
    with databases() as dbs, vhost() as amqp_uri:
        url = dbs["payments"]
        started = time.perf_counter()
        loaded = demo_load.load_demo(url, args.people)
        load_seconds = time.perf_counter() - started
        print(f"loaded {loaded} in {load_seconds:.1f}s", file=sys.stderr, flush=True)
        engine = sa.create_engine(url)
        with Session(engine) as session, session.begin():
            expected = expected_orders(session)
            people = session.execute(sa.text("SELECT count(*) FROM beneficiaries")).scalar()
        engine.dispose()
        total = sum(expected.values())

        declare(amqp_uri)
        ready, delivered_q, stop_relay = ctx.Event(), ctx.Queue(), ctx.Event()
        consumer = ctx.Process(target=consume, args=(amqp_uri, total, ready, delivered_q), name="consumer")
        consumer.start()
        relay_proc = ctx.Process(target=relay, args=(url, amqp_uri, args.relay_batch, stop_relay), name="relay")
        relay_proc.start()
        assert ready.wait(30), "the consumer did not start"
        with fake_bank(key) as (bank_url, bank_proc):
            clock = StageClock()
            sql_times = defaultdict(lambda: [0, 0.0]) if args.sql_times else None
            profiler = cProfile.Profile() if args.profile else None
            go, results = ctx.Event(), ctx.Queue()
            workers = [ctx.Process(target=cycle_worker, args=(url, bank_url, key, group, expected, go, results),
                                   name=f"cycle-worker-{n}")
                       for n, group in enumerate(spread(PENSION_LINES, args.lines_at_once), 1)
                       ] if args.lines_at_once > 1 else []
            for w in workers:
                w.start()
            sampler = MemorySampler({"bench": os.getpid(), "fake_bank": bank_proc.pid, "relay": relay_proc.pid,
                                     "consumer": consumer.pid, **{w.name: w.pid for w in workers}})
            sampler.start()
            cpu_before, busy_before = sampler.cpu(), machine_busy()
            began = time.perf_counter()
            if workers:
                go.set()
                lines = {}
                worker_cpu = 0.0
                for _ in workers:
                    done = results.get(timeout=3600)
                    if "error" in done:
                        raise RuntimeError(f"a cycle worker failed: {done['error']}")
                    lines.update(done["lines"])
                    worker_cpu += done["cpu"]
                    for name, seconds in done["stages"].items():
                        clock.seconds[name] += seconds
                for w in workers:
                    w.join(60)
            else:
                bank = TimedBank(BankHttpAdapter(bank_url, key, timeout=300), clock)
                lines = run_lines(url, bank, clock, list(PENSION_LINES), expected, sql_times, profiler)
            settled = time.perf_counter()
            delivered = delivered_q.get(timeout=1800)
            cycle_seconds = max(delivered["finished"], settled) - began
            cpu_after, busy = sampler.cpu(), machine_busy() - busy_before
            memory = sampler.stop()
            cpu = {f"{name}_s": round(cpu_after.get(name, 0) - cpu_before.get(name, 0), 1) for name in cpu_after}
            if workers:
                cpu["cycle_workers_s"] = round(worker_cpu, 1)
            cpu["machine_busy_s"] = round(busy, 1)
            stop_relay.set()
            relay_proc.join(30)
            consumer.join(30)
            engine = sa.create_engine(url)
            with Session(engine) as session, session.begin():
                verdict = checks(session, bank_url, expected, delivered)
            engine.dispose()
        if sql_times is not None:
            for statement, (calls, seconds) in sorted(sql_times.items(), key=lambda kv: -kv[1][1])[:15]:
                print(f"{seconds:8.2f}s {calls:6d}x  {statement}", file=sys.stderr)
        if profiler:
            profiler.dump_stats(args.profile)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(30)
            print(out.getvalue(), file=sys.stderr)
        baseline = copy_baseline(url)

    stages = {name: round(seconds, 2) for name, seconds in clock.seconds.items()}
    stages["delivery after the last settlement"] = round(max(0.0, delivered["finished"] - settled), 2)
    result = {
        "benchmark": "payment_cycle",
        "people": people, "paid_households": total, "lines_at_once": max(1, len(workers)),
        "in_flight": cycle_steps.IN_FLIGHT,
        "load": {"what": "budget.load + demo_load.load_registry (COPY), not on the clock",
                 "beneficiaries": loaded["beneficiaries"], "enrolments": loaded["enrolments"],
                 "seconds": round(load_seconds, 2)},
        "subject": {"what": "four pension cycles open -> settled (entitlements, orders, pain.001 x 5,000 validated, "
                            "bank answers, camt.053 validated, reconciliation, ledger check, outbox) and every "
                            "disbursement event's items delivered to a kombu consumer through the outbox relay",
                    "seconds": round(cycle_seconds, 2), "per_second": round(total / cycle_seconds, 1),
                    "lines": lines, "stages_seconds": stages, "peak_rss": memory, "cpu_seconds": cpu},
        "baseline": {**baseline, "per_second": round(baseline["rows"] / baseline["seconds"], 1)},
        "ratio_seconds": round(cycle_seconds / baseline["seconds"], 2),
        "within_5_minutes": cycle_seconds <= 300,
        "under_1_gib": max(v for k, v in memory.items() if k != "sum_mib") < 1024,
        "checks": verdict,
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))
    record("a month's cycle, open to settled", result)
    return 0 if verdict["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
