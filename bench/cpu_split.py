"""Where a case registration's CPU goes: the CPU time of the gateway, complaints, PostgreSQL and
RabbitMQ around a run of 50 clients, per registered case (a diagnosis, no baseline).

    .venv/bin/python -m bench.cpu_split [--clients 50] [--seconds 10]
"""
from __future__ import annotations

import argparse

import psutil

from bench.gateway_registration import body
from bench.harness import databases, gateway_and_complaints, load, vhost


def cpu_seconds(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                t = p.cpu_times()
                total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with databases() as dbs, vhost() as amqp_uri, \
            gateway_and_complaints(dbs, amqp_uri, args.clients) as (group, base, _):
        url = f"{base}/api/v1/cases"
        load(url, args.clients, 2, body=body, expect=201)
        names = {p.pid: p.info["name"] or "" for p in psutil.process_iter(["name"])}
        parts = {"gateway": [group.procs["gateway"].pid], "complaints": [group.procs["complaints"].pid],
                 "postgres": [pid for pid, n in names.items() if n.startswith("postgres")],
                 "rabbitmq": [pid for pid, n in names.items() if n == "beam.smp"]}
        before = {k: cpu_seconds(v) for k, v in parts.items()}
        result = load(url, args.clients, args.seconds, body=body, expect=201)
        after = {k: cpu_seconds(v) for k, v in parts.items()}
    print(result)
    for name in parts:
        print(f"{name:12s} {(after[name] - before[name]) * 1000 / result['requests']:6.2f} ms CPU per case")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
