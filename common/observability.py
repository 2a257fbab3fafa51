"""`Observability`, a nameko dependency every service declares: it times and counts every RPC call,
event and timer, carries the gateway's request id into the logs, and serves /metrics, /healthz and
/readyz on the service's own port."""
from __future__ import annotations

import time

from nameko.events import EventHandler
from nameko.extensions import DependencyProvider
from nameko.rpc import Rpc
from nameko.timer import Timer

from common.config import get_settings
from common.db import Database, ping
from common.logs import request_id_var
from common.metrics import EVENT_LATENCY, RPC_CALLS, RPC_LATENCY, TIMER_RUNS
from common.ops_server import broker_check, start_ops_server

METRICS_PORT_KEY = "METRICS_PORT"


class Observability(DependencyProvider):
    def setup(self):
        self.started: dict = {}
        self.server = None

    def start(self):
        config = self.container.config
        port = config.get(METRICS_PORT_KEY)
        if port is None:
            port = get_settings().metrics_port_for(self.container.service_name)
        self.server = start_ops_server(port, self.readiness_checks())

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def kill(self):
        self.stop()

    def readiness_checks(self) -> dict:
        checks = {"broker": broker_check(self.container.config["AMQP_URI"]),  # a confirmed publish: alarms too
                  "consumers": lambda: consumers_ready(self.container)}
        for dep in self.container.dependencies:
            if isinstance(dep, Database):
                checks[f"db:{dep.service}"] = lambda dep=dep: ping(dep.engine)
        return checks

    def get_dependency(self, worker_ctx):
        return None

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()
        request_id_var.set(worker_ctx.data.get("request_id"))

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, None)
        if started is None:
            return
        elapsed = time.perf_counter() - started
        service = self.container.service_name
        method = worker_ctx.entrypoint.method_name
        outcome = "ok" if exc_info is None else "error"
        entrypoint = worker_ctx.entrypoint
        if isinstance(entrypoint, Rpc):
            expected = exc_info is not None and getattr(exc_info[1], "expected", False)
            RPC_CALLS.labels(service, method, "rejected" if expected else outcome).inc()
            RPC_LATENCY.labels(service, method).observe(elapsed)
        elif isinstance(entrypoint, EventHandler):
            EVENT_LATENCY.labels(service, method).observe(elapsed)
        elif isinstance(entrypoint, Timer):
            TIMER_RUNS.labels(service, method, outcome).inc()


def consumers_ready(container) -> None:
    """Raises until the container's queues are declared and consumed: a service that says it is ready
    before then would let an event published to it meanwhile find no queue (the broker drops it)."""
    from nameko.messaging import QueueConsumer

    for extension in container.extensions:
        if not isinstance(extension, QueueConsumer):
            continue
        if not extension._consumers_ready.ready():
            raise RuntimeError("the queues are not consumed yet")
        if getattr(extension, "connected", True) is False:  # common.consumers: lost the broker, reconnecting
            raise RuntimeError(f"{type(extension).__name__} is reconnecting to the broker")
