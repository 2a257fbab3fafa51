"""/healthz: the process is alive. /readyz: the broker answers and every service answers its
`health` RPC, which reaches its own database."""
from __future__ import annotations

from flask import current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag
from kombu import Connection
from nameko.standalone.rpc import ClusterRpcProxy

from common.config import SERVICES, get_settings
from gateway.schemas import Health

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health", description="probes")])
READY_TIMEOUT = 3.0


@bp.get("/healthz", responses={200: Health})
def healthz():
    """The process is alive."""
    return jsonify({"status": "ok"})


@bp.get("/readyz", responses={200: Health, 503: Health})
def readyz():
    """The broker answers and every service answers its health RPC (so reaches its database)."""
    results = {}
    try:
        Connection(get_settings().amqp_uri, connect_timeout=READY_TIMEOUT).ensure_connection(max_retries=1)
        results["broker"] = "ok"
        with ClusterRpcProxy(current_app.extensions["rpc"].config, timeout=READY_TIMEOUT) as proxy:
            pending = {s: proxy[s].health.call_async() for s in SERVICES}  # asked together
            for service, reply in pending.items():
                try:
                    reply.result()
                    results[f"service:{service}"] = "ok"
                except Exception as exc:
                    results[f"service:{service}"] = f"unreachable: {type(exc).__name__}"
    except Exception as exc:
        results.setdefault("broker", f"unreachable: {type(exc).__name__}: {exc}"[:200])
    ok = all(v == "ok" for v in results.values()) and len(results) == len(SERVICES) + 1
    return jsonify({"status": "ok" if ok else "unavailable", "checks": results}), 200 if ok else 503
