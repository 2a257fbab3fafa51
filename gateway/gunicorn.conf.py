"""gunicorn for the gateway: threads, not eventlet (gunicorn 27 has none); one nameko RPC proxy per
thread. One worker process per container, so the metrics port is the process's own; scale by
replicas."""
import os

from common.config import get_settings

_settings = get_settings()
bind = f"{_settings.gateway_host}:{_settings.gateway_port}"
# one process per container (its metrics are its own); more only to compare worker models
# (bench.gateway_rpc --gateway-workers, docs/benchmarks.md §3)
workers = int(os.environ.get("GATEWAY_WORKERS", "1"))
# gthread, chosen by measurement (docs/benchmarks.md §3); GATEWAY_WORKER_CLASS only to compare others
worker_class = os.environ.get("GATEWAY_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GATEWAY_THREADS", "32"))
timeout = 30
graceful_timeout = 20
keepalive = 5
limit_request_line = 8190  # the longest query the API documents fits with room to spare
accesslog = None
control_socket_disable = True  # no runtime control socket: the root filesystem is read-only


def post_worker_init(worker):
    from common.ops_server import start_ops_server

    try:
        start_ops_server(_settings.metrics_port_for("gateway"), {})
    except OSError:
        if workers == 1:
            raise
        # a measuring run with several workers: the first one serves the probes and its own metrics
    principals = worker.wsgi.extensions.get("principals")
    if principals is not None:
        principals.start()  # consuming the revocation events before the first staff request
