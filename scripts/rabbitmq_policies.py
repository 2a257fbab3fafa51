"""The platform's RabbitMQ policies, applied the same way in every environment: by `./dev up`, by the
tests that run real processes, and in Kubernetes by the messaging topology operator's `Policy`
resources (k8s/components/engines/rabbitmq-policies.yaml; tests/unit/test_k8s_manifests.py keeps that
file equal to POLICIES). And the migration of event queues declared by an older version.

    python -m scripts.rabbitmq_policies [--amqp-uri URI] [--management-url URL]   # policies, then migration
    python -m scripts.rabbitmq_policies --migrate-queues [...]                     # the migration only

What is where, and why:
- The queue TYPE cannot come from a policy (x-queue-type is a declaration argument, fixed for the
  queue's life), so the code declares every event queue as a quorum queue with its delivery limit,
  dead-letter exchange and routing key, and every dead-letter queue as a quorum queue with its own
  (unreachable) delivery limit (common/events/handler.py says why each). Every limit is explicit there,
  so RabbitMQ 3.10 and 4.x (whose quorum queues default to a delivery limit of 20) behave alike.
- The policies add what arguments should not hard-code and what only a policy can change later
  without redeclaring: at-least-once dead-lettering for event queues, so a message moved to its
  dead-letter queue is never lost on the way (it needs overflow=reject-publish; no length limit is set,
  so nothing is ever refused), and the delivery limits again: for any event queue declared without one,
  and for `.dlq` queues declared before they had their own (on 4.x such a queue would otherwise drop a
  dead letter on its twenty-first reading). Arguments win over a policy for the dead-letter exchange;
  for the delivery limit the lower applies.
- RPC queues (`rpc-<service>`) are common/rpc.py's, not covered here.

Migration. A queue's declaration arguments cannot change: a service declaring an existing queue with
other arguments than it has (event queues before `event_delivery_limit` was raised, `.dlq` queues
before they had a delivery limit) fails with PRECONDITION_FAILED. `migrate_queues` recreates every event
and dead-letter queue of the vhost whose arguments differ from what this version declares, keeping
every message (dead letters are never deleted): it binds a temporary quorum queue `migrating.<queue>`
where the queue is bound, unbinds the queue, moves its messages over (each acked only once the broker
confirmed its copy), deletes the queue once a passive declare finds it empty and unconsumed, declares it
anew with its bindings and moves the messages back. Events published meanwhile reach the temporary
queue; while both are bound one can arrive twice, which the consumers' inbox makes harmless. A run
interrupted midway is finished by the next one. A queue with consumers is left alone (stop the services
that consume it first: in Kubernetes scale the event consumers to zero, migrate, deploy), and nothing may
publish to a queue by name (a dead-letter replay) while it runs. ./dev up and docker-compose run it
before starting the services.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from urllib.parse import quote, unquote, urlsplit

import requests

from common.config import Settings, amqp_uris
from common.events.handler import (
    DEAD_LETTER_EXCHANGE, DLQ_DELIVERY_LIMIT, dead_letter_queue_arguments, event_queue_arguments,
)

DELIVERY_LIMIT = Settings.model_fields["event_delivery_limit"].default  # as the queues' own argument
MIGRATING_PREFIX = "migrating."

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
    {
        "name": "welfare-event-queues-dlq",  # sorted after the first, as kustomize lists them
        # the .dlq of every event queue: read (taken and given back) as often as anyone likes
        "pattern": r"^evt-.*\.dlq$",
        "apply-to": "queues",
        "priority": 10,
        "definition": {
            "delivery-limit": DLQ_DELIVERY_LIMIT,
        },
    },
]


def management_url_for(amqp_uri: str) -> str:
    """The management API beside an AMQP broker: same host and credentials, port 15672 (of the first
    node of a `;` list: policies are the cluster's, any node's API sets them)."""
    parts = urlsplit(amqp_uris(amqp_uri)[0])
    user, password = parts.username or "guest", parts.password or "guest"
    return f"http://{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname or 'localhost'}:15672"


def vhost_of(amqp_uri: str) -> str:
    path = urlsplit(amqp_uris(amqp_uri)[0]).path  # every node of a `;` list names the same vhost
    return unquote(path[1:]) if len(path) > 1 else "/"


def _api(amqp_uri: str, management_url: str | None) -> tuple[str, tuple[str, str]]:
    """The management API's base URL and credentials."""
    parts = urlsplit(management_url or management_url_for(amqp_uri))
    base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path.rstrip('/')}"
    return base, (unquote(parts.username or "guest"), unquote(parts.password or "guest"))


def apply(amqp_uri: str, management_url: str | None = None, timeout: float = 10) -> list[str]:
    """Put every policy on the vhost of `amqp_uri` through the management API; the names applied."""
    base, auth = _api(amqp_uri, management_url)
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
    except requests.RequestException as api_error:
        host = urlsplit(amqp_uris(amqp_uri)[0]).hostname or "localhost"
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
    try:  # queues of an older version: a service declaring them would fail (PRECONDITION_FAILED)
        done, skipped = migrate_queues(amqp_uri, management_url, strict=False)
    except Exception as exc:  # the services will say which queue, and what to run
        done, skipped = {}, {"(listing the queues)": f"{type(exc).__name__}: {exc}"}
    for name, messages in done.items():
        print(f"queue {name} migrated to this version's arguments ({messages} messages kept)")
    for name, why in skipped.items():
        print(f"queue {name} not migrated: {why}; python -m scripts.rabbitmq_policies --migrate-queues",
              file=sys.stderr)
    return True


# migration of queues declared by an older version (see the module's docstring) ----------------------
class MigrationError(RuntimeError):
    pass


def desired_arguments(name: str) -> dict | None:
    """What this version declares for queue `name`; None for a queue that is not an event queue's."""
    if not name.startswith("evt-"):
        return None
    return dead_letter_queue_arguments() if name.endswith(".dlq") else event_queue_arguments(name)


def _get(amqp_uri: str, management_url: str | None, path: str, timeout: float = 10):
    base, auth = _api(amqp_uri, management_url)
    response = requests.get(f"{base}/api/{path}", auth=auth, timeout=timeout)
    response.raise_for_status()
    return response.json()


def queues_to_migrate(amqp_uri: str, management_url: str | None = None) -> list[str]:
    """The event and dead-letter queues of the vhost whose arguments differ from this version's, and the
    queues of a migration left unfinished."""
    vhost = quote(vhost_of(amqp_uri), safe="")
    queues = _get(amqp_uri, management_url, f"queues/{vhost}?columns=name,arguments")
    names = {q["name"]: q.get("arguments") or {} for q in queues}
    outdated = {n for n, args in names.items() if (want := desired_arguments(n)) is not None and args != want}
    unfinished = {n[len(MIGRATING_PREFIX):] for n in names if n.startswith(MIGRATING_PREFIX)}
    return sorted(outdated | unfinished)


def _bindings(amqp_uri: str, management_url: str | None, queue: str) -> set[tuple]:
    """(exchange, routing key, arguments as JSON) of every binding of `queue` but the default exchange's."""
    vhost = quote(vhost_of(amqp_uri), safe="")
    try:
        found = _get(amqp_uri, management_url, f"queues/{vhost}/{quote(queue, safe='')}/bindings")
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 404:
            return set()
        raise
    return {(b["source"], b["routing_key"], json.dumps(b.get("arguments") or {}, sort_keys=True))
            for b in found if b["source"]}


def _state(conn, queue: str) -> tuple[int, int] | None:
    """(messages, consumers) of `queue` by a passive declare (exact, unlike the management API's
    statistics); None when it does not exist."""
    from amqp.exceptions import NotFound

    channel = conn.channel()
    try:
        _, messages, consumers = channel.queue_declare(queue=queue, passive=True)
        return messages, consumers
    except NotFound:
        return None
    finally:
        try:
            channel.close()
        except Exception:  # the broker closed it already (NotFound)
            pass


def _keep_headers(headers: dict) -> dict:
    """A moved message keeps its headers (x-death: why it was dead-lettered) but the broker's counts of
    deliveries from the queue it leaves."""
    return {k: v for k, v in (headers or {}).items() if k not in ("x-delivery-count", "x-acquired-count")}


def _move_all(conn, source: str, target: str) -> int:
    from common.events.dlq import move

    moved = 0
    for _ in range(100):  # more may arrive while moving; bounded all the same
        moved += move(conn, source, target, headers=_keep_headers)
        state = _state(conn, source)
        if state is None or state[0] == 0:
            return moved
    raise MigrationError(f"{source} does not empty: something keeps publishing to it by name")


def migrate_queue(conn, amqp_uri: str, management_url: str | None, name: str) -> int:
    """Recreate queue `name` with this version's arguments, keeping its messages and bindings (or finish
    an interrupted migration of it); the number of messages it holds after."""
    want = desired_arguments(name)
    if want is None:
        raise MigrationError(f"{name} is not an event queue")
    temp = MIGRATING_PREFIX + name
    temp_arguments = dead_letter_queue_arguments()  # a quorum queue that never drops what it holds
    bindings = _bindings(amqp_uri, management_url, name) | _bindings(amqp_uri, management_url, temp)
    state = _state(conn, name)
    if state is not None and state[1]:
        raise MigrationError(f"{state[1]} consumer(s) read it: stop the services that consume it first")
    channel = conn.channel()
    vhost = quote(vhost_of(amqp_uri), safe="")
    current = _get(amqp_uri, management_url, f"queues/{vhost}/{quote(name, safe='')}").get("arguments") \
        if state is not None else None
    if state is not None and current != want:
        channel.queue_declare(queue=temp, durable=True, auto_delete=False, arguments=temp_arguments)
        for exchange, key, arguments in bindings:  # bound first, then unbound: nothing is unroutable
            channel.queue_bind(queue=temp, exchange=exchange, routing_key=key, arguments=json.loads(arguments))
        for exchange, key, arguments in bindings:
            channel.queue_unbind(queue=name, exchange=exchange, routing_key=key, arguments=json.loads(arguments))
        _move_all(conn, name, temp)
        state = _state(conn, name)
        if state is not None and (state[0] or state[1]):
            raise MigrationError(f"{state[0]} message(s) and {state[1]} consumer(s) appeared: run it again")
        channel.queue_delete(queue=name)
    channel.queue_declare(queue=name, durable=True, auto_delete=False, arguments=want)
    for exchange, key, arguments in bindings:
        channel.queue_bind(queue=name, exchange=exchange, routing_key=key, arguments=json.loads(arguments))
    if _state(conn, temp) is not None:
        for exchange, key, arguments in bindings:
            channel.queue_unbind(queue=temp, exchange=exchange, routing_key=key, arguments=json.loads(arguments))
        _move_all(conn, temp, name)
        left = _state(conn, temp)
        if left is not None and (left[0] or left[1]):
            raise MigrationError(f"{temp} still holds {left[0]} message(s), {left[1]} consumer(s): run it again")
        channel.queue_delete(queue=temp)
    channel.close()
    return (_state(conn, name) or (0, 0))[0]


def migrate_queues(amqp_uri: str, management_url: str | None = None,
                   strict: bool = True) -> tuple[dict[str, int], dict[str, str]]:
    """Migrate every queue of queues_to_migrate: ({queue: messages it holds}, {queue not migrated: why}).
    strict: raise MigrationError on the first queue that cannot be migrated."""
    from kombu import Connection

    done: dict[str, int] = {}
    skipped: dict[str, str] = {}
    names = queues_to_migrate(amqp_uri, management_url)
    if not names:
        return done, skipped
    with Connection(amqp_uri, transport_options={"confirm_publish": True}) as conn:
        for name in names:
            try:
                done[name] = migrate_queue(conn, amqp_uri, management_url, name)
            except MigrationError as exc:
                if strict:
                    raise MigrationError(f"queue {name}: {exc}") from None
                skipped[name] = str(exc)
            except Exception as exc:  # a failed move (ReplayError), a refused declaration
                if strict:
                    raise
                skipped[name] = f"{type(exc).__name__}: {exc}"
    return done, skipped


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
    parser.add_argument("--migrate-queues", action="store_true",
                        help="only recreate the event and dead-letter queues declared by an older version, "
                             "keeping their messages (see the module's docstring)")
    args = parser.parse_args(argv)
    uri = args.amqp_uri or get_settings().amqp_uri
    if not args.migrate_queues:
        applied = apply(uri, args.management_url)
        print(f"applied {', '.join(applied)} on vhost {vhost_of(uri)}")
    try:
        done, _ = migrate_queues(uri, args.management_url)
    except Exception as exc:  # said, with the queue it stopped at; its messages are kept
        print(f"migration stopped, every message kept: {exc}", file=sys.stderr)
        return 1
    for name, messages in done.items():
        print(f"migrated {name} ({messages} messages)")
    if args.migrate_queues and not done:
        print(f"no queue to migrate on vhost {vhost_of(uri)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
