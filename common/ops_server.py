"""A tiny HTTP server per process: /metrics for Prometheus, /healthz (alive) and /readyz (every
dependency reachable) for Kubernetes probes."""
from __future__ import annotations

import json
import logging
import threading
from typing import Callable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

_log = logging.getLogger(__name__)

Check = Callable[[], None]  # raises when the dependency is unreachable


def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    results, ok = {}, True
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # any failure makes the process not ready
            ok = False
            results[name] = f"unreachable: {type(exc).__name__}: {exc}"[:300]
    return ok, results


def make_app(checks: dict[str, Check]):
    def app(environ, start_response):
        path = environ.get("PATH_INFO", "/")
        if path == "/metrics":
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [generate_latest()]
        if path == "/healthz":
            return _json(start_response, 200, {"status": "ok"})
        if path == "/readyz":
            ok, results = run_checks(checks)
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


def start_ops_server(port: int, checks: dict[str, Check], host: str = "0.0.0.0") -> WSGIServer | None:
    if not port:
        return None
    server = make_server(host, port, make_app(checks), server_class=WSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name=f"ops-server-{port}", daemon=True)
    thread.start()
    _log.info("metrics and health on port %s", port)
    return server
