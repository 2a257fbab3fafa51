"""Benchmark 1: registering cases through the gateway (HTTP → gunicorn → nameko RPC → complaints →
PostgreSQL) with 50 concurrent clients, beside a bare Flask endpoint that performs the same insert
directly, in the same run; requests/s, p50/p99 latency and their ratio.

    .venv/bin/python -m bench.gateway_registration [--clients 50] [--seconds 10] [--rounds 3]
"""
from __future__ import annotations

import argparse
import json
import random
import statistics

from bench.harness import bare_app, databases, gateway_and_complaints, load, median_run, report, vhost


def body() -> bytes:
    """A citizen's case: each from a mobile of its own (production counts ten an hour per mobile)."""
    return json.dumps({"kind": "complaint", "text": "مستمری این ماه به حساب مادرم واریز نشده است.",
                       "mobile": f"0912{random.randrange(10_000_000):07d}", "national_id": "0499370899"}).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--gateway-threads", type=int, help="gunicorn threads (default: --clients)")
    args = parser.parse_args()

    with databases() as dbs, vhost() as amqp_uri, \
            gateway_and_complaints(dbs, amqp_uri, args.gateway_threads or args.clients) as (_, base, _), \
            bare_app(dbs, args.clients) as (_, bare_url):
        subject_url = f"{base}/api/v1/cases"
        load(subject_url, args.clients, 2, body=body, expect=201)  # warm-up: connections and pools
        load(bare_url, args.clients, 2, body=body, expect=201)
        gateway_runs, bare_runs = [], []
        for _ in range(args.rounds):  # alternate, so drift on a noisy machine hits both
            bare_runs.append(load(bare_url, args.clients, args.seconds, body=body, expect=201))
            gateway_runs.append(load(subject_url, args.clients, args.seconds, body=body, expect=201))

    subject, baseline = median_run(gateway_runs), median_run(bare_runs)
    subject["what"] = (f"gateway → RPC → complaints, {args.clients} clients, "
                       f"{args.gateway_threads or args.clients} gateway threads")
    baseline["what"] = f"bare Flask endpoint, same insert, {args.clients} clients"
    result = report("case registration", subject, baseline)
    print(f"p50 ratio (gateway/bare): {subject['p50_ms'] / baseline['p50_ms']:.2f}; "
          f"p99 ratio: {subject['p99_ms'] / baseline['p99_ms']:.2f}; "
          f"all rounds req/s gateway {[r['per_second'] for r in gateway_runs]} "
          f"bare {[r['per_second'] for r in bare_runs]} (median "
          f"{statistics.median(r['per_second'] for r in gateway_runs):.0f} / "
          f"{statistics.median(r['per_second'] for r in bare_runs):.0f})")
    return 0 if result else 1


if __name__ == "__main__":
    raise SystemExit(main())
