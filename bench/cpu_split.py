"""Where a request's CPU goes: the CPU time of the gateway, complaints, PostgreSQL, RabbitMQ, Redis and the load
generator around runs of concurrent clients, per request (a diagnosis, no baseline).

    .venv/bin/python -m bench.cpu_split [--route registration|trivial] [--clients 50] [--seconds 10] [--loads 1]

`registration`: POST /api/v1/cases (50 clients by default, docs/benchmarks.md §1). `trivial`: GET of an unknown
case (complaints.get_case, then 404; 20 clients, §3). `--loads N` runs N loads one after another and prints each (with the whole machine's busy CPU per request, in which
PostgreSQL's backends that come and go are counted whole):
on a shared VM the CPU a request costs every process moves together from one minute to the next (§3), so the
shares between the processes are the figures to compare, not their absolute values.
"""
from __future__ import annotations

import argparse

import psutil

from bench.gateway_registration import body
from bench.gateway_rpc import UNKNOWN
from bench.harness import databases, gateway_and_complaints, load, vhost


def cpu_seconds(pids: list[int]) -> float:
    """The CPU of these processes and their descendants, each process once (PostgreSQL's backends are both the
    postmaster's children and in the list by their name)."""
    seen: dict[int, psutil.Process] = {}
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for p in [proc, *proc.children(recursive=True)]:
                seen.setdefault(p.pid, p)
        except psutil.NoSuchProcess:
            pass
    total = 0.0
    for p in seen.values():
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def machine_busy() -> float:
    """The whole machine's busy CPU seconds: PostgreSQL's backends that exit during a load take their CPU with
    them from `cpu_seconds`, not from this."""
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--route", choices=("registration", "trivial"), default="registration")
    parser.add_argument("--clients", type=int, default=None, help="default: 50 (registration), 20 (trivial)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--loads", type=int, default=1)
    args = parser.parse_args()
    clients = args.clients or (50 if args.route == "registration" else 20)
    with databases() as dbs, vhost() as amqp_uri, \
            gateway_and_complaints(dbs, amqp_uri, clients) as (group, base, _):
        if args.route == "registration":
            url, request = f"{base}/api/v1/cases", {"body": body, "expect": 201}
        else:
            url, request = f"{base}/api/v1/cases/{UNKNOWN}", {"expect": 404}
        load(url, clients, 2, **request)  # warm-up: connections and pools
        for _ in range(args.loads):
            names = {p.pid: p.info["name"] or "" for p in psutil.process_iter(["name"])}  # backends come and go
            parts = {"gateway": [group.procs["gateway"].pid], "complaints": [group.procs["complaints"].pid],
                     "postgres": [pid for pid, n in names.items() if n.startswith("postgres")],
                     "rabbitmq": [pid for pid, n in names.items() if n == "beam.smp"],
                     "redis": [pid for pid, n in names.items() if n.startswith("redis")]}
            before = {k: cpu_seconds(v) for k, v in parts.items()} | {"machine": machine_busy()}
            result = load(url, clients, args.seconds, **request)
            after = {k: cpu_seconds(v) for k, v in parts.items()} | {"machine": machine_busy()}
            shares = {name: (after[name] - before[name]) * 1000 / max(1, result["requests"]) for name in after}
            print(f"{result['per_second']:7.1f} req/s  " + "  ".join(f"{name} {ms:.3f}" for name, ms in shares.items())
                  + f"  clients {result['client_cpu_ms_per_request']:.3f} ms CPU per request", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
