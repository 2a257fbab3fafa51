"""Where a request's CPU goes: the CPU time of the gateway, complaints, PostgreSQL, RabbitMQ, Redis and the load
generator around runs of concurrent clients, per request (a diagnosis, no baseline).

    .venv/bin/python -m bench.cpu_split [--route registration|trivial] [--clients 50] [--seconds 10] [--loads 1] [--bare]

`registration`: POST /api/v1/cases (50 clients by default, docs/benchmarks.md §1). `trivial`: GET of an unknown
case (complaints.get_case, then 404; 20 clients, §3). `--loads N` runs N loads one after another and prints each (with the whole machine's busy CPU per request, in which
PostgreSQL's backends that come and go are counted whole):
on a shared VM the CPU a request costs every process moves together from one minute to the next (§3), so the
shares between the processes are the figures to compare, not their absolute values. `--bare` (registration): each
load is followed by one of the same clients on benchmark 1's baseline (bench/bare_app.py, the same insert with no
gateway and no RPC), split the same way: the two paths side by side (docs/benchmarks.md §1).
"""
from __future__ import annotations

import argparse
import contextlib

import psutil

from bench.gateway_registration import body
from bench.gateway_rpc import UNKNOWN
from bench.harness import bare_app, databases, gateway_and_complaints, load, vhost


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


def split(label: str, processes: dict[str, int], url: str, clients: int, seconds: float, request: dict) -> None:
    """One load, and the CPU per request of each of `processes` (name: pid), PostgreSQL, RabbitMQ, Redis and the
    machine, printed on one line."""
    names = {p.pid: p.info["name"] or "" for p in psutil.process_iter(["name"])}  # backends come and go
    parts = {**{name: [pid] for name, pid in processes.items()},
             "postgres": [pid for pid, n in names.items() if n.startswith("postgres")],
             "rabbitmq": [pid for pid, n in names.items() if n == "beam.smp"],
             "redis": [pid for pid, n in names.items() if n.startswith("redis")]}
    before = {k: cpu_seconds(v) for k, v in parts.items()} | {"machine": machine_busy()}
    result = load(url, clients, seconds, **request)
    after = {k: cpu_seconds(v) for k, v in parts.items()} | {"machine": machine_busy()}
    shares = {name: (after[name] - before[name]) * 1000 / max(1, result["requests"]) for name in after}
    print(f"{label:8} {result['per_second']:7.1f} req/s  " + "  ".join(f"{name} {ms:.3f}" for name, ms in shares.items())
          + f"  clients {result['client_cpu_ms_per_request']:.3f} ms CPU per request", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--route", choices=("registration", "trivial"), default="registration")
    parser.add_argument("--clients", type=int, default=None, help="default: 50 (registration), 20 (trivial)")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--loads", type=int, default=1)
    parser.add_argument("--bare", action="store_true", help="registration: the bare path's split after each load")
    args = parser.parse_args()
    if args.bare and args.route != "registration":
        parser.error("--bare compares the registration only")
    clients = args.clients or (50 if args.route == "registration" else 20)
    with databases() as dbs, vhost() as amqp_uri, \
            gateway_and_complaints(dbs, amqp_uri, clients) as (group, base, _), \
            (bare_app(dbs, clients) if args.bare else contextlib.nullcontext((None, None))) as (bare, bare_url):
        if args.route == "registration":
            url, request = f"{base}/api/v1/cases", {"body": body, "expect": 201}
        else:
            url, request = f"{base}/api/v1/cases/{UNKNOWN}", {"expect": 404}
        load(url, clients, 2, **request)  # warm-up: connections and pools
        if bare:
            load(bare_url, clients, 2, **request)
        for _ in range(args.loads):
            split("gateway", {"gateway": group.procs["gateway"].pid, "complaints": group.procs["complaints"].pid},
                  url, clients, args.seconds, request)
            if bare:
                split("bare", {"bare": bare.procs["bare"].pid}, bare_url, clients, args.seconds, request)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
