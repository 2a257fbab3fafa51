"""Benchmark 3 (issue 5): a trivial RPC route through the gateway against the same RPC called
directly from nameko standalone proxies, same run, as a ratio; and the auth check's cost per request.

    .venv/bin/python -m bench.gateway_rpc [--clients 20] [--seconds 10] [--rounds 3]

The route: GET /api/v1/cases/{code} for a code that does not exist (complaints.get_case, one indexed
lookup, 404). The auth check: GET /api/v1/auth/me with a staff token (verified, then the principal: the
gateway's cache, gateway/principal_cache.py, or the complaints.principal RPC) against the same route without
a token (its 401), one client taking turns between them, so the difference is the check's latency: both pay
the rate limits' count in the shared store, which GET /healthz (exempt from the limits, measured too, the
baseline until 2026-12-07) does not. Also the staff view of a case against its public view (the staff view
does more than the check: scope, the case's history)."""
from __future__ import annotations

import argparse
import json
import time

import jwt
import requests

from bench.harness import (
    citizen, databases, gateway_and_complaints, load, median_run, report, run_clients, spread, summary, vhost,
)
from bench.results import record
from common.config import get_settings
from services.complaints.demo_staff import DEMO_PASSWORD, load_demo_staff

# A well-formed code (16 digits, its Luhn check digit right) that no case has: complaints looks it up (one indexed
# SELECT) and answers 404. Until 2026-12-07 the code's check digit was wrong, so the service refused it before any
# lookup and the benchmark measured the hop without the database.
UNKNOWN = "4203917755102847"


def _direct_process(threads: int, seconds: float, config: dict, out) -> None:
    from nameko.standalone.rpc import ClusterRpcProxy

    from common.errors import NotFound

    def attempt(proxy) -> bool:
        try:
            proxy.complaints.get_case(UNKNOWN)
        except NotFound:
            return True  # the answer expected for an unknown code
        return False

    run_clients(lambda: ClusterRpcProxy(config, timeout=30), attempt, threads, seconds, out)


def in_turns(gets: dict[str, tuple[str, list[str], int]], n: int) -> dict[str, dict]:
    """`n` GETs of each {name: (url, staff tokens, expected status)}, one client, taking turns (a, b, c, a,
    b, c, …) so that the machine's drift meets each alike. Each request is from a citizen of its own, with
    the tokens in turn (production's limit is 300 a minute per credential: one inspector does not read 500
    pages a minute)."""
    session = requests.Session()
    latencies: dict[str, list[float]] = {name: [] for name in gets}
    started = time.perf_counter()
    for i in range(n):
        for name, (url, tokens, expect) in gets.items():
            headers = citizen() | ({"Authorization": f"Bearer {tokens[i % len(tokens)]}"} if tokens else {})
            t = time.perf_counter()
            assert session.get(url, headers=headers, timeout=30).status_code == expect, name
            latencies[name].append(time.perf_counter() - t)
    seconds = time.perf_counter() - started
    return {name: summary(values, seconds) for name, values in latencies.items()}


def check_in_process(amqp_uri: str, token: str, principal: dict, n: int = 20000) -> float:
    """The gateway's auth check itself, in this process: `gateway.auth.identify` for a staff token whose principal
    the cache holds (a PrincipalCache consuming the invalidation events on the benchmark's broker, as in the
    gateway). Microseconds a call: no HTTP, no limiter, no answer to write."""
    from flask import Flask, g

    from gateway.auth import identify
    from gateway.principal_cache import PrincipalCache

    settings = get_settings()
    claims = jwt.decode(token, settings.token_secret, algorithms=["HS256"])
    cache = PrincipalCache(amqp_uri, ttl=settings.principal_cache_seconds)
    cache.start()
    if not cache.live.wait(10):
        raise TimeoutError("the principal cache did not start consuming")
    cache.lookup(claims["sub"], claims["ver"], lambda: principal)
    app = Flask("auth-check")
    app.extensions["principals"] = cache
    try:
        with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
            identify(settings)
            assert g.principal == principal, g.principal
            started = time.perf_counter()
            for _ in range(n):
                identify(settings)
            return (time.perf_counter() - started) / n * 1e6
    finally:
        cache.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=500)
    parser.add_argument("--gateway-threads", type=int, help="gunicorn threads per worker (default: --clients)")
    parser.add_argument("--gateway-workers", type=int, default=1, help="gunicorn worker processes (production: 1)")
    parser.add_argument("--worker-class", default="gthread",
                        help="gunicorn worker class (GATEWAY_WORKER_CLASS; production: gthread, gateway/gunicorn.conf.py)")
    args = parser.parse_args()
    with databases() as dbs, vhost() as amqp_uri:
        load_demo_staff(dbs["complaints"])
        config = {**get_settings().nameko_config(), "AMQP_URI": amqp_uri}
        with gateway_and_complaints(dbs, amqp_uri, args.gateway_threads or args.clients,
                                    {"GATEWAY_WORKERS": str(args.gateway_workers),
                                     "GATEWAY_WORKER_CLASS": args.worker_class}) as (_, base, _):
            url = f"{base}/api/v1/cases/{UNKNOWN}"
            load(url, args.clients, 2, expect=404)  # warm-up
            spread(_direct_process, args.clients, 2, (config,))
            via_gateway, direct = [], []
            for _ in range(args.rounds):
                direct.append(spread(_direct_process, args.clients, args.seconds, (config,)))
                via_gateway.append(load(url, args.clients, args.seconds, expect=404))

            case = requests.post(f"{base}/api/v1/cases", json={
                "kind": "complaint", "text": "مستمری این ماه واریز نشده است.", "mobile": "09121234567"},
                headers=citizen(), timeout=10).json()["tracking_code"]
            tokens = [requests.post(f"{base}/api/v1/auth/login", json={"username": "inspector", "password": DEMO_PASSWORD},
                                    headers=citizen(), timeout=10).json()["access_token"]
                      for _ in range(-(-2 * args.sequential // 250))]  # each token under 300 requests a minute
            one_by_one = in_turns({
                "public": (f"{base}/api/v1/cases/{case}", [], 200),
                "staff": (f"{base}/api/v1/staff/cases/{case}", tokens, 200),
                "health": (f"{base}/healthz", [], 200),
                "me": (f"{base}/api/v1/auth/me", tokens[::-1], 200),
                "anonymous": (f"{base}/api/v1/auth/me", [], 401)}, args.sequential)
            public, staff, health, me, anonymous = (one_by_one[name] for name in (
                "public", "staff", "health", "me", "anonymous"))
            principal = requests.get(f"{base}/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens[0]}",
                                                                       **citizen()}, timeout=10).json()
            check_us = check_in_process(amqp_uri, tokens[0], principal)

    subject, baseline = median_run(via_gateway), median_run(direct)
    subject["what"] = (f"GET /api/v1/cases/{{unknown}} through the gateway, {args.clients} clients; gunicorn {args.worker_class}, "
                       f"{args.gateway_workers} worker(s) × {args.gateway_threads or args.clients} threads")
    baseline["what"] = f"complaints.get_case from standalone proxies, {args.clients} clients"
    report("trivial RPC route", subject, baseline)
    print(f"rounds req/s gateway {[r['per_second'] for r in via_gateway]} direct {[r['per_second'] for r in direct]}")

    settings = get_settings()
    sample = jwt.encode({"sub": "x", "ver": 1, "exp": int(time.time()) + 300}, settings.token_secret, algorithm="HS256")
    n, started = 20000, time.perf_counter()
    for _ in range(n):
        jwt.decode(sample, settings.token_secret, algorithms=["HS256"])
    jwt_us = (time.perf_counter() - started) / n * 1e6
    auth = {
        "benchmark": "auth check cost per request (one client, the routes in turns)",
        "healthz_mean_ms": health["mean_ms"], "auth_me_mean_ms": me["mean_ms"],
        "auth_me_without_token_mean_ms": anonymous["mean_ms"],
        "auth_check_ms": round(me["mean_ms"] - anonymous["mean_ms"], 2),  # the same route, the same limits
        "auth_me_minus_healthz_ms": round(me["mean_ms"] - health["mean_ms"], 2),  # the measure until 2026-12-07
        "auth_check_p50_ms": round(me["p50_ms"] - anonymous["p50_ms"], 2),
        "public_case_mean_ms": public["mean_ms"], "staff_case_mean_ms": staff["mean_ms"],
        "staff_case_minus_public_case_ms": round(staff["mean_ms"] - public["mean_ms"], 2),
        "public_p50_ms": public["p50_ms"], "staff_p50_ms": staff["p50_ms"],
        "jwt_verify_us": round(jwt_us, 1),
        "auth_check_in_process_us": round(check_us, 1),  # identify(): the JWT verified, the principal from the cache
        "ratio_check_in_process_to_jwt_verify": round(check_us / jwt_us, 2),
        "ratio_auth_me_to_healthz_latency": round(me["mean_ms"] / health["mean_ms"], 3),
        "ratio_auth_me_to_without_token_latency": round(me["mean_ms"] / anonymous["mean_ms"], 3),
        "ratio_staff_to_public_latency": round(staff["mean_ms"] / public["mean_ms"], 3),
    }
    print(json.dumps(auth, indent=2))
    record("auth check", auth)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
