"""The platform's RabbitMQ policies, applied the same way in every environment: by `./dev up`, by the
tests that run real processes, and in Kubernetes by the messaging topology operator's `Policy`
resources (k8s/components/engines/rabbitmq-policies.yaml; tests/unit/test_k8s_manifests.py keeps that
file equal to POLICIES).

    python -m scripts.rabbitmq_policies [--amqp-uri URI] [--management-url URL]

What is where, and why:
- The queue TYPE cannot come from a policy (x-queue-type is a declaration argument, fixed for the
  queue's life), so the code declares every event queue as a quorum queue with its delivery limit,
  dead-letter exchange and routing key (common/events/handler.py), and every dead-letter queue as a
  quorum queue too. That is what makes the local run behave as production does.
- The policy adds what arguments should not hard-code and what only a policy can change later
  without redeclaring (a changed argument makes the next declaration fail with PRECONDITION_FAILED):
  at-least-once dead-lettering, so a message moved to its dead-letter queue is never lost on the way
  (it needs overflow=reject-publish; no length limit is set, so nothing is ever refused), and the
  delivery limit and dead-letter exchange again for any event queue declared without them.
  Arguments win over a policy for the dead-letter exchange; for the delivery limit the lower applies.
- RPC queues (`rpc-<service>`) are declared by nameko as classic queues; a policy cannot change that
  (see docs/operations.md, "Queues").
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from urllib.parse import quote, unquote, urlsplit

import requests

from common.config import Settings
from common.events.handler import DEAD_LETTER_EXCHANGE

DELIVERY_LIMIT = Settings.model_fields["event_delivery_limit"].default  # as the queues' own argument

POLICIES = [
    {
        "name": "welfare-event-queues",
        # nameko's event handler queues (evt-<source>-<event>--<service>.<method>), not their .dlq
        "pattern": r"^evt-.*(?<!\.dlq)$",
        "apply-to": "queues",
        "priority": 10,
        "definition": {
            "dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "dead-letter-strategy": "at-least-once",
            "overflow": "reject-publish",
            "delivery-limit": DELIVERY_LIMIT,
        },
    },
]


def management_url_for(amqp_uri: str) -> str:
    """The management API beside an AMQP broker: same host and credentials, port 15672."""
    parts = urlsplit(amqp_uri)
    user, password = parts.username or "guest", parts.password or "guest"
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname or 'localhost'}:15672"


def vhost_of(amqp_uri: str) -> str:
    path = urlsplit(amqp_uri).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def apply(amqp_uri: str, management_url: str | None = None, timeout: float = 10) -> list[str]:
    """Put every policy on the vhost of `amqp_uri` through the management API; the names applied."""
    parts = urlsplit(management_url or management_url_for(amqp_uri))
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path.rstrip('/')}"
    auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
    vhost = quote(vhost_of(amqp_uri), safe="")
    for policy in POLICIES:
        body = {k: policy[k] for k in ("pattern", "apply-to", "priority", "definition")}
        response = requests.put(f"{base}/api/policies/{vhost}/{quote(policy['name'], safe='')}", json=body,
                                auth=auth, timeout=timeout)
        response.raise_for_status()
    return [p["name"] for p in POLICIES]


def apply_with_rabbitmqctl(amqp_uri: str) -> list[str]:
    """The same through `rabbitmqctl set_policy`, for a local broker without its management plugin."""
    ctl = shutil.which("rabbitmqctl")
    if not ctl:
        raise RuntimeError("rabbitmqctl is not installed")
    for policy in POLICIES:
        subprocess.run([ctl, "set_policy", "-p", vhost_of(amqp_uri), "--priority", str(policy["priority"]),
                        "--apply-to", policy["apply-to"], policy["name"], policy["pattern"],
                        json.dumps(policy["definition"])], check=True, capture_output=True, timeout=60)
    return [p["name"] for p in POLICIES]


def ensure_policies(amqp_uri: str, management_url: str | None = None) -> bool:
    """Apply the policies, by the management API or else by rabbitmqctl; say so and go on when neither
    works (the queues' own arguments still make them quorum queues with a dead-letter exchange)."""
    try:
        apply(amqp_uri, management_url)
        return True
    except requests.RequestException as api_error:
        host = urlsplit(amqp_uri).hostname or "localhost"
        if host in ("localhost", "127.0.0.1", "::1"):
            try:
                apply_with_rabbitmqctl(amqp_uri)
                return True
            except (RuntimeError, subprocess.SubprocessError, OSError):
                pass
        print(f"RabbitMQ policies not applied ({type(api_error).__name__}): event queues keep their own quorum, "
              "delivery-limit and dead-letter arguments, without at-least-once dead-lettering. "
              "Enable the management plugin (rabbitmq-plugins enable rabbitmq_management) or run "
              "python -m scripts.rabbitmq_policies", file=sys.stderr)
        return False


def k8s_policies(cluster: str = "welfare-rabbitmq", vhost: str = "/") -> list[dict]:
    """POLICIES as the messaging topology operator's Policy resources."""
    return [{
        "apiVersion": "rabbitmq.com/v1beta1",
        "kind": "Policy",
        "metadata": {"name": policy["name"]},
        "spec": {"name": policy["name"], "vhost": vhost, "pattern": policy["pattern"],
                 "applyTo": policy["apply-to"], "priority": policy["priority"],
                 "definition": policy["definition"], "rabbitmqClusterReference": {"name": cluster}},
    } for policy in POLICIES]


def main(argv=None) -> int:
    from common.config import get_settings

    parser = argparse.ArgumentParser(description="Apply the platform's RabbitMQ policies")
    parser.add_argument("--amqp-uri", default=None, help="the broker and vhost (default: AMQP_URI)")
    parser.add_argument("--management-url", default=None, help="default: http://<broker host>:15672")
    args = parser.parse_args(argv)
    uri = args.amqp_uri or get_settings().amqp_uri
    applied = apply(uri, args.management_url)
    print(f"applied {', '.join(applied)} on vhost {vhost_of(uri)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
