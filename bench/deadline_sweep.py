"""Benchmark 5: the deadline sweeps on PostgreSQL (SPEC C8). 1,000,000 open cases, of which 100,000
have just missed their deadline; three sweeps side by side (as three replicas' timers would) escalate
them all: the case back to the top, the hop closed, the miss on the ledger, a hash-chained history
row and a `case.deadline_missed` event in the outbox for each. Beside it, in the same run, one plain
UPDATE of the same rows (rolled back), the least any escalation could cost.

    .venv/bin/python -m bench.deadline_sweep [--cases 1000000] [--overdue 100000] [--sweeps 3]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import time

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bench.harness import databases
from bench.results import record
from common.events.catalog import CASE_STEP_EVENTS
from services.complaints import history, org

COUNTY = "prov.tehran.county.rey"
PATH = ["hq.inspection", "hq.rehabilitation", "prov.tehran", COUNTY]
MISSED = CASE_STEP_EVENTS["deadline_missed"]

FILL = """
INSERT INTO cases (id, tracking_code, kind, channel, urgency, status, text, registered_at, holder_unit_id, path,
                   visible_to, current_hop_id, deadline_at, warn_at, history_count)
SELECT md5('case' || i)::uuid, (4000000000000000 + i)::text, 'complaint', 'web', 'normal', 'referred',
       'مستمری این ماه واریز نشده است.', now() - interval '1 day', :unit, :path, :visible, i,
       CASE WHEN i <= :overdue THEN now() - interval '1 second' ELSE now() + interval '1 day' END,
       NULL, 0
FROM generate_series(1, :n) AS i;
INSERT INTO case_hops (id, case_id, unit_id, purpose, opened_at, due_at)
OVERRIDING SYSTEM VALUE
SELECT i, md5('case' || i)::uuid, :unit, 'handle', now() - interval '1 day',
       CASE WHEN i <= :overdue THEN now() - interval '1 second' ELSE now() + interval '1 day' END
FROM generate_series(1, :n) AS i;
"""


def fill(url: str, n: int, overdue: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in FILL.strip().split(";\n"):
            conn.execute(sa.text(statement), {"n": n, "overdue": overdue, "unit": COUNTY, "path": PATH,
                                              "visible": org.visible_to(PATH)})
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('case_hops', 'id'), :n)"), {"n": n})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE cases"))
        conn.execute(sa.text("VACUUM ANALYZE case_hops"))
    engine.dispose()


def plain_update(url: str) -> float:
    """The same rows, one statement, no hop, no ledger, no history, no event; rolled back."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        tx = conn.begin()
        started = time.perf_counter()
        changed = conn.execute(sa.text(
            "UPDATE cases SET status = 'escalated', holder_unit_id = 'hq.inspection', path = ARRAY['hq.inspection'], "
            "visible_to = ARRAY['hq.inspection', 'hq'], deadline_at = now() + interval '1 day' "
            "WHERE deadline_at <= now()")).rowcount
        seconds = time.perf_counter() - started
        tx.rollback()
    engine.dispose()
    return seconds, changed


def sweep(url: str, start, out) -> None:
    from common.db import make_engine
    from services.complaints import sweeps

    engine = make_engine(url)  # as the service's timers have it: the background work's timeouts and keepalives
    start.wait()
    with Session(engine) as session:
        out.put(sweeps.run_until_done(sweeps.escalate_overdue, session))
    engine.dispose()


def history_links(conn) -> tuple[int, int]:
    """(history rows written, how many break the chain): each escalated case's one row must be the first
    link after GENESIS, hash what it says, and be the head its case keeps."""
    rows = conn.execute(sa.text(
        "SELECT CAST(h.case_id AS text) AS case_id, h.n, h.at, h.action, h.actor_kind, h.actor_id, h.actor_name, "
        "h.unit_id, h.public_note, h.internal_note, h.data, h.prev_hash, h.hash, c.history_head, c.history_count "
        "FROM case_history h JOIN cases c ON c.id = h.case_id")).mappings().all()
    broken = sum(1 for r in rows if r["n"] != 1 or r["prev_hash"] != history.GENESIS or r["history_count"] != 1
                  or r["hash"] != r["history_head"] or r["hash"] != history.link_hash(history.GENESIS, r))
    return len(rows), broken


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--overdue", type=int, default=100_000)
    parser.add_argument("--sweeps", type=int, default=3)
    args = parser.parse_args()
    with databases() as dbs:
        url = dbs["complaints"]
        began = time.perf_counter()
        fill(url, args.cases, args.overdue)
        print(f"filled {args.cases} cases in {time.perf_counter() - began:.1f}s", flush=True)
        baseline_seconds, changed = plain_update(url)
        assert changed == args.overdue, changed

        ctx = mp.get_context("spawn")
        start, out = ctx.Event(), ctx.Queue()
        workers = [ctx.Process(target=sweep, args=(url, start, out)) for _ in range(args.sweeps)]
        for w in workers:
            w.start()
        time.sleep(2)  # let the spawned interpreters import; the clock starts at the signal
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            db_start = conn.execute(sa.text("SELECT clock_timestamp()")).scalar()
        began = time.perf_counter()
        start.set()
        counts = [out.get() for _ in workers]
        seconds = time.perf_counter() - began
        for w in workers:
            w.join()

        with engine.connect() as conn:  # every deadline had passed when the sweeps started
            misses = conn.execute(sa.text("SELECT count(*), count(DISTINCT hop_id), "
                                          "extract(epoch FROM max(detected_at) - :t) FROM deadline_misses"),
                                  {"t": db_start}).one()
            events = conn.execute(sa.text("SELECT count(*), count(DISTINCT envelope ->> 'subject') FROM outbox "
                                          "WHERE routing_key = :t"), {"t": MISSED.type}).one()
            left = conn.execute(sa.text("SELECT count(*) FROM cases WHERE deadline_at <= now() - interval '1 minute' "
                                        "AND status <> 'escalated'")).scalar()
            links, broken = history_links(conn)
        engine.dispose()
        assert sum(counts) == misses[0] == misses[1] == events[0] == events[1] == links == args.overdue, \
            (counts, misses, events, links)
        assert left == 0 and broken == 0, (left, broken)
        result = {
            "benchmark": "deadline_sweep", "cases": args.cases, "overdue": args.overdue, "sweeps": args.sweeps,
            "subject": {"seconds": round(seconds, 2), "per_second": round(args.overdue / seconds), "by_sweep": counts,
                        "last_batch_started_after_seconds": round(float(misses[2]), 1)},
            "baseline": {"what": "one plain UPDATE of the same rows", "seconds": round(baseline_seconds, 2)},
            "ratio_seconds": round(seconds / baseline_seconds, 2),
            "all_escalated_within_15s": seconds <= 15,
        }
        print(json.dumps(result, indent=2))
        record("sweeps of the overdue cases", result)


if __name__ == "__main__":
    main()
