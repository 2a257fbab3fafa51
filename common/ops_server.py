"""A tiny HTTP server per process: /metrics for Prometheus, /healthz (alive) and /readyz (every
dependency reachable) for Kubernetes probes.

- /healthz answers as long as the process runs, whatever its dependencies do: a liveness probe must
  not restart a process because the database is down. The server is threaded, so a /readyz waiting on
  an unreachable database never holds /healthz or /metrics up.
- /readyz runs every check at once, each bounded by CHECK_TIMEOUT: 503 as soon as the broker or a
  database is unreachable or silent (a firewalled host answers nothing at all).
- Every process talks to the broker, so the broker is always checked (`broker_check`), and every
  result is also the gauge `dependency_up{dependency}`, refreshed in the background, so Prometheus sees
  an unreachable broker or database even when nothing probes the process.
"""
from __future__ import annotations

import json
import logging
import threading
from socketserver import ThreadingMixIn
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from common.metrics import DEPENDENCY_UP

_log = logging.getLogger(__name__)

Check = Callable[[], None]  # raises when the dependency is unreachable
# Probes publish to amq.topic with a routing key nothing is bound to, never to the default exchange: a
# process that may write to that one may write to every queue by name (scripts/broker_users.py)
PROBE_EXCHANGE = "amq.topic"
PROBE_KEY = "welfare.readiness-probe"
CHECK_TIMEOUT = 3.0  # seconds; under the probes' timeoutSeconds (k8s/base)
REFRESH_SECONDS = 15.0  # how often dependency_up is refreshed without a probe


def broker_check(amqp_uri: str, timeout: float = CHECK_TIMEOUT) -> Check:
    """Open an AMQP connection and publish one confirmed message that no queue takes (PROBE_EXCHANGE
    drops it): fails when the broker is unreachable and also when it refuses publishes (a
    memory or disk alarm: it says connection.blocked at once, and the confirm never comes). The message
    has a body: under an alarm the broker stops reading at a message's header, so an empty one would be
    taken whole and confirmed. No retries, and the connection is dropped without a closing handshake
    that a blocked broker would never answer."""
    def refused(reason=None):  # called while the confirm is awaited: the check fails at once
        raise RuntimeError(f"the broker refuses publishes ({reason or 'a memory or disk alarm'})")

    def check():
        import socket

        import amqp
        from kombu import Connection

        conn = Connection(amqp_uri, connect_timeout=timeout, heartbeat=0)
        try:
            conn.ensure_connection(max_retries=max(1, len(conn.alt)))
            conn.connection.on_blocked = refused
            channel = conn.channel()
            channel.confirm_select()
            try:
                channel.basic_publish_confirm(amqp.Message(b"ready?"), exchange=PROBE_EXCHANGE,
                                              routing_key=PROBE_KEY, confirm_timeout=timeout)
            except socket.timeout:
                raise RuntimeError("the broker refuses publishes (a memory or disk alarm?)") from None
        finally:
            conn.collect()
    return check


def database_check(url: str, timeout: float = CHECK_TIMEOUT) -> Check:
    """Connect to the database of `url` and run SELECT 1."""
    def check():
        import psycopg2

        conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"),
                                connect_timeout=max(1, int(timeout)))
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
        finally:
            conn.close()
    return check


def run_checks(checks: dict[str, Check], timeout: float = CHECK_TIMEOUT) -> tuple[bool, dict[str, str]]:
    """Run the checks side by side; a check still running after `timeout` counts as failed."""
    results: dict[str, str] = {}

    def run(name: str, check: Check):
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure makes the process not ready
            results[name] = f"unreachable: {type(exc).__name__}: {exc}"[:300]

    threads = {name: threading.Thread(target=run, args=(name, check), daemon=True, name=f"check-{name}")
               for name, check in checks.items()}
    for thread in threads.values():
        thread.start()
    for thread in threads.values():
        thread.join(timeout)  # the threads run at once, so the whole wait is about `timeout`
    for name in checks:
        results.setdefault(name, f"unreachable: no answer within {timeout:.0f}s")
        DEPENDENCY_UP.labels(name).set(1 if results[name] == "ok" else 0)
    return all(v == "ok" for v in results.values()), {name: results[name] for name in checks}


def make_app(checks: dict[str, Check], timeout: float = CHECK_TIMEOUT):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest()]
        if path == "/healthz":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            ok, results = run_checks(checks, timeout)
            return _json(start_response, 200 if ok else 503,
                         {"status": "ok" if ok else "unavailable", "checks": results})
        return _json(start_response, 404, {"status": "not found"})

    return app


def _json(start_response, status: int, body: dict):
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    start_response(f"{status} {reason}", [("Content-Type", "application/json")])
    return [json.dumps(body).encode()]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # probes every few seconds would flood the logs
        pass


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def with_broker(checks: dict[str, Check], amqp_uri: str | None = None) -> dict[str, Check]:
    """`checks` and, unless they have one, a check of the broker of this process's settings."""
    if "broker" in checks:
        return dict(checks)
    if amqp_uri is None:
        from common.config import get_settings

        amqp_uri = get_settings().amqp_uri
    return {"broker": broker_check(amqp_uri), **checks}


def start_ops_server(port: int, checks: dict[str, Check], host: str = "0.0.0.0",
                     refresh_seconds: float = REFRESH_SECONDS) -> WSGIServer | None:
    if not port:
        return None
    checks = with_broker(checks)
    server = make_server(host, port, make_app(checks), server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"ops-server-{port}", daemon=True)
    thread.start()
    if refresh_seconds:
        stopped = threading.Event()
        refresher = threading.Thread(target=_refresh, args=(checks, refresh_seconds, stopped), daemon=True,
                                     name=f"ops-checks-{port}")
        refresher.start()
        _shutdown = server.shutdown

        def shutdown():
            stopped.set()
            _shutdown()
        server.shutdown = shutdown
    _log.info("metrics and health on port %s", port)
    return server


def _refresh(checks: dict[str, Check], every: float, stopped: threading.Event) -> None:
    while not stopped.is_set():
        try:
            run_checks(checks)
        except Exception:  # never let the refresher die: the gauges would freeze
            _log.exception("dependency checks failed")
        stopped.wait(every)
