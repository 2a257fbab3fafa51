"""Health of a service: the `health` RPC every service answers, and what a pod waits for before it
starts (Kubernetes initContainers):

    python -m common.health wait-for-schema complaints [notifications ...] [--timeout 600]
    python -m common.health wait-for-queues [--timeout 600]

- wait-for-schema: until the migrations Job has brought each database the pod uses to this image's
  head revision (or past it: a newer version's expand-only migration leaves the old code working), so
  new code never runs on an old schema.
- wait-for-queues (the outbox relay): until every event consumer's queue exists. An event published
  to a topic exchange with no queue bound is dropped by the broker; on a first install the relay
  would otherwise publish before the consumers have declared their queues.
"""
from __future__ import annotations

import argparse
import logging
import sys
import time

from nameko.extensions import DependencyProvider
from sqlalchemy import text

from common.rpc import rpc

_log = logging.getLogger(__name__)


class _Container(DependencyProvider):
    """The worker's own service container (what readiness looks at)."""

    def get_dependency(self, worker_ctx):
        return self.container


class HealthRpc:
    """The `health` RPC every service answers: the gateway's /readyz asks it, so a ready gateway means
    each service is consuming from the broker and reaches its own database."""

    container_ref = _Container()

    @rpc
    def health(self) -> dict:
        # RPC has its own connection: that this answers says nothing of the event consumers
        from common.observability import consumers_ready

        consumers_ready(self.container_ref)
        with self.db.begin():
            self.db.execute(text("SELECT 1"))
        return {"service": self.name, "status": "ok"}


def database_revision(url: str) -> str | None:
    """The alembic revision the database is at; None when it has none (never migrated)."""
    import psycopg2

    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"), connect_timeout=5)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass('alembic_version') IS NOT NULL")
            if not cur.fetchone()[0]:
                return None
            cur.execute("SELECT version_num FROM alembic_version")
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def schema_state(service: str, url: str) -> str:
    """"current" (at this image's head), "ahead" (a revision this image does not know: a newer
    version migrated), or "behind" (older, or never migrated)."""
    from alembic.script import ScriptDirectory

    from common.migrations import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(service, url))
    revision = database_revision(url)
    if revision is None:
        return "behind"
    if revision in scripts.get_heads():
        return "current"
    known = {script.revision for script in scripts.walk_revisions()}
    return "behind" if revision in known else "ahead"


def wait_for_schema(services: list[str], timeout: float = 600, interval: float = 2.0) -> bool:
    from common.config import get_settings

    settings = get_settings()
    deadline = time.monotonic() + timeout
    waiting = list(services)
    while waiting:
        for service in list(waiting):
            try:
                state = schema_state(service, settings.database_url_for(service))
            except Exception as exc:  # the database may not be up yet: wait for it like for the schema
                state = f"unreachable ({type(exc).__name__})"
            if state in ("current", "ahead"):
                _log.info("schema of %s is %s", service, state)
                waiting.remove(service)
            else:
                _log.info("schema of %s is %s; waiting for the migrations Job", service, state)
        if waiting:
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)  # another process (the migrations Job) changes the database: poll it
    return True


def event_queues(services=None) -> list[str]:
    """The queue of every event handler of the services, named as nameko names it:
    evt-<source>-<event type>--<service>.<method>."""
    from common.service_classes import classes_of, handler_queues

    return [queue for cls in classes_of(services) for queue in handler_queues(cls)]


def missing_queues(amqp_uri: str, names: list[str]) -> list[str]:
    from kombu import Connection

    missing = []
    with Connection(amqp_uri, connect_timeout=5) as conn:
        conn.ensure_connection(max_retries=max(0, len(conn.alt) - 1))  # each node of a `;` list once
        for name in names:
            channel = conn.channel()
            try:
                channel.queue_declare(name, passive=True)
            except conn.channel_errors:  # 404 NOT_FOUND closes the channel
                missing.append(name)
            finally:
                try:
                    channel.close()
                except Exception:  # already closed by the broker
                    pass
    return missing


def wait_for_queues(amqp_uri: str, names: list[str], timeout: float = 600, interval: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        try:
            missing = missing_queues(amqp_uri, names)
        except Exception as exc:  # the broker may not be up yet
            missing = [f"(broker unreachable: {type(exc).__name__})"]
        if not missing:
            return True
        _log.info("waiting for %d consumer queues, e.g. %s", len(missing), missing[0])
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)  # the consumers (other pods) declare them: poll the broker


def main(argv=None) -> int:
    from common.config import get_settings
    from common.logs import configure_logging

    parser = argparse.ArgumentParser(description="Wait for what a new pod needs before it starts")
    parser.add_argument("action", choices=["wait-for-schema", "wait-for-queues"])
    parser.add_argument("services", nargs="*", help="wait-for-schema: the services whose databases the pod uses")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    configure_logging(args.action)
    if args.action == "wait-for-queues":
        if wait_for_queues(get_settings().amqp_uri, event_queues(), args.timeout):
            return 0
        print(f"consumer queues still missing after {args.timeout:.0f}s", file=sys.stderr)
        return 1
    if not args.services:
        parser.error("wait-for-schema needs the services")
    if wait_for_schema(args.services, args.timeout):
        return 0
    print(f"the schema of {', '.join(args.services)} is not at this version after {args.timeout:.0f}s",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
