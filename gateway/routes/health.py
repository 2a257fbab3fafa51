"""/healthz: the process is alive. /readyz: the broker takes this process's requests (no outage, no
resource alarm) and every service answers its `health` RPC, which reaches its own database.

/readyz is public, so it is cheap: one check at a time per process, its answer reused for
READY_CACHE_SECONDS by every thread, under the default rate limit, and it names what is down, never
why (an exception's text can hold hosts, users or keys). Kubernetes probes the metrics port's
/readyz (common/ops_server.py), not this one."""
from __future__ import annotations

import threading
import time

from flask import current_app, jsonify
from flask_openapi3 import APIBlueprint, Tag

from common.config import SERVICES
from gateway.schemas import Health

bp = APIBlueprint("health", __name__, abp_tags=[Tag(name="health", description="probes")])
READY_TIMEOUT = 3.0
READY_CACHE_SECONDS = 2.0
BROKER_BLOCKED = "blocked: the broker refuses publishes (a memory or disk alarm)"


class Readiness:
    """The last readiness answer, and the lock that lets one thread at a time check again."""

    def __init__(self, rpc, clock=time.monotonic):
        self.rpc, self.clock = rpc, clock
        self._lock = threading.Lock()
        self._answer: tuple[dict, float] | None = None

    def answer(self) -> dict:
        last = self._answer
        if last is not None and self.clock() - last[1] < READY_CACHE_SECONDS:
            return last[0]
        # one thread checks; the others meanwhile take the last answer (or wait for the first one)
        if not self._lock.acquire(blocking=last is None):
            return last[0]
        try:
            last = self._answer
            if last is None or self.clock() - last[1] >= READY_CACHE_SECONDS:
                self._answer = last = (self._check(), self.clock())
            return last[0]
        finally:
            self._lock.release()

    def _check(self) -> dict:
        results = self.rpc.call_each({f"service:{s}": (s, "health") for s in SERVICES}, READY_TIMEOUT)
        checks = {name: "ok" if result == "ok" else "unavailable" for name, result in results.items()}
        if self.rpc.state.is_blocked():
            checks["broker"] = BROKER_BLOCKED
        elif self.rpc.state.is_down():
            checks["broker"] = "unreachable"
        else:
            checks["broker"] = "ok"
        ok = all(v == "ok" for v in checks.values())
        return {"status": "ok" if ok else "unavailable", "checks": checks}


def readiness() -> Readiness:
    extensions = current_app.extensions
    if "readiness" not in extensions:
        extensions.setdefault("readiness", Readiness(extensions["rpc"]))
    return extensions["readiness"]


@bp.get("/healthz", responses={200: Health})
def healthz():
    """The process is alive."""
    return jsonify({"status": "ok"})


@bp.get("/readyz", responses={200: Health, 503: Health})
def readyz():
    """The broker takes requests and every service answers its health RPC (so reaches its database).
    The answer is at most two seconds old; a check that fails names the dependency only."""
    answer = readiness().answer()
    return jsonify(answer), 200 if answer["status"] == "ok" else 503
