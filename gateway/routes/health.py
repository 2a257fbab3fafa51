"""/healthz: the process is alive. /readyz: the broker takes this process's requests (no outage, no
resource alarm) and every service answers its `health` RPC, which reaches its own database."""
from __future__ import annotations

from flask import current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag

from common.config import SERVICES
from gateway.schemas import Health

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health", description="probes")])
READY_TIMEOUT = 3.0


@bp.get("/healthz", responses={200: Health})
def healthz():
    """The process is alive."""
    return jsonify({"status": "ok"})


@bp.get("/readyz", responses={200: Health, 503: Health})
def readyz():
    """The broker takes requests and every service answers its health RPC (so reaches its database)."""
    rpc = current_app.extensions["rpc"]
    results = rpc.call_each({f"service:{s}": (s, "health") for s in SERVICES}, READY_TIMEOUT)
    if rpc.state.is_blocked():
        results["broker"] = "blocked: the broker refuses publishes (a memory or disk alarm)"
    elif rpc.state.is_down():
        results["broker"] = "unreachable"
    else:
        results["broker"] = "ok"
    ok = all(v == "ok" for v in results.values())
    return jsonify({"status": "ok" if ok else "unavailable", "checks": results}), 200 if ok else 503
