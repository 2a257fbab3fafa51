"""Find RabbitMQ, or start the local one if it is installed, or say exactly what to do."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request

from kombu import Connection

INSTALL_HINT = """RabbitMQ is not reachable at {uri}.
Install and start it, then run this again:
    sudo apt-get install rabbitmq-server && sudo rabbitmq-server -detached
or point AMQP_URI at a running broker, e.g. AMQP_URI=amqp://user:pass@host:5672/"""


def reachable(uri: str) -> bool:
    try:
        with Connection(uri, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=max(1, len(conn.alt)))  # each node of a `;` list
        return True
    except Exception:
        return False


def ensure_broker(uri: str, timeout: float = 60) -> None:
    if reachable(uri):
        return
    server = shutil.which("rabbitmq-server")
    if server and ("localhost" in uri or "127.0.0.1" in uri):
        print("starting the local RabbitMQ (rabbitmq-server -detached)…", flush=True)
        subprocess.run([server, "-detached"], check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if reachable(uri):
                return
            time.sleep(1)  # waiting for an outside process to come up; nothing to wait on instead
    sys.exit(INSTALL_HINT.format(uri=uri))


def ensure_management_api(api: str = "http://localhost:15672/api/overview", timeout: float = 60) -> None:
    """nameko's test fixtures make a vhost per test through the management API."""
    def up() -> bool:
        request = urllib.request.Request(api, headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="})
        try:
            urllib.request.urlopen(request, timeout=2)
            return True
        except Exception:
            return False

    if up():
        return
    plugins = shutil.which("rabbitmq-plugins")
    if not plugins:
        sys.exit("RabbitMQ's management plugin is needed by the tests: rabbitmq-plugins enable rabbitmq_management")
    subprocess.run([plugins, "enable", "rabbitmq_management"], check=True, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up():
            return
        time.sleep(1)
    sys.exit(f"RabbitMQ's management API did not come up at {api}")


def migrate_rpc_queues(uri: str, services) -> list[str]:
    """Make each `rpc-<service>` a quorum queue (common/rpc.py). A broker that ran an older version has
    them as classic queues, and redeclaring a queue with another type is refused (PRECONDITION_FAILED):
    such a queue holds only requests whose callers have long timed out, so it is deleted, unless a
    process still consumes it, and declared anew. Returns the queues it replaced."""
    from kombu import Exchange, Queue

    from common.rpc import rpc_queue_arguments

    replaced = []
    with Connection(uri, connect_timeout=5) as conn:
        for service in services:
            queue = Queue(f"rpc-{service}", exchange=Exchange("nameko-rpc", type="topic", durable=True),
                          routing_key=f"{service}.*", durable=True, queue_arguments=rpc_queue_arguments())
            try:
                queue(conn.channel()).declare()
            except conn.channel_errors:  # another type: the channel is closed by the broker
                conn.channel().queue_delete(queue.name, if_unused=True)
                queue(conn.channel()).declare()
                replaced.append(queue.name)
    return replaced


def main(argv=None) -> int:
    import argparse

    from common.config import SERVICES, get_settings

    parser = argparse.ArgumentParser(description="One-time broker changes of an upgrade")
    parser.add_argument("action", choices=["migrate-rpc-queues"])
    parser.add_argument("--amqp-uri", default=None, help="default: AMQP_URI")
    args = parser.parse_args(argv)
    replaced = migrate_rpc_queues(args.amqp_uri or get_settings().amqp_uri, SERVICES)
    print(f"replaced by quorum queues: {', '.join(replaced) or 'none (already quorum)'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
