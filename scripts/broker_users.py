"""The platform's RabbitMQ users: one per process kind, each allowed only the exchanges, queues and routing
keys its code uses. The one source of the users and their permissions: `users()` below. From it:

    python -m scripts.broker_users apply     # create or update them through the management API (compose's
                                              # init job, the tests): the admin in BROKER_ADMIN_URL
                                              # (http://user:pass@host:15672), each user's credentials and
                                              # vhost in AMQP_URI_<USER> (e.g. AMQP_URI_COMPLAINTS); a user
                                              # without one is not created
    python -m scripts.broker_users k8s       # the messaging topology operator's User, Permission and
                                              # TopicPermission resources (k8s/components/engines/rabbitmq-users.yaml)
    python -m scripts.broker_users demo-secrets   # the local demo's credentials Secrets (k8s/overlays/local-demo)
    python -m scripts.broker_users secret <user> --password P [--host H]   # a production credentials Secret

tests/unit/test_broker_users.py keeps both k8s files equal to what this prints.

The names the permissions are made of, from the code:
- RPC: nameko's topic exchange `nameko-rpc`; a service's queue `rpc-<service>`, bound `<service>.*`;
  reply queues `rpc.reply-<caller>-<uuid>` (nameko's, and the gateway's in gateway/rpc.py) bound by the
  uuid, which is also the routing key of every reply.
- Events: each publisher's topic exchange `<service>.events` (common/events/catalog.py), routing key the
  event type `ir.behzisti.<service>.…`; a handler's queue `evt-<source>-<type>--<service>.<method>` and its
  `.dlq`, bound to the direct exchange `dead-letters` (common/events/handler.py); the archive stream
  `events.archive`, bound to every events exchange by the relay (common/outbox/publisher.py).
- The gateway's principal cache (gateway/principal_cache.py): a queue `gateway.principals-<uuid>` per
  process, bound to `complaints.events` with the revocation and credentials events.
- Readiness (common/ops_server.py) and the gateway's broker watch publish to `amq.topic` with a routing key
  nothing is bound to. Not to the default exchange: writing to it is writing to every queue by name (an
  RPC request straight into `rpc-payments`, a forged event into a consumer's queue), whatever the topic
  permissions say. Only the dead-letter tool and the queue migration, which move messages between queues
  by name, write to it.

Topic permissions (RabbitMQ checks them on topic exchanges only): `write` limits the routing keys a user
publishes with (a service: replies and the RPCs it really calls; the relay: each service's own event
types), `read` the keys it binds queues with (a service reads only its own requests, the events it
handles and replies).
"""
from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from urllib.parse import quote

from common.broker_admin import credentials_of
from common.config import SERVICES
from common.events.catalog import STAFF_ACCESS_REVOKED
from common.events.handler import DEAD_LETTER_EXCHANGE
from common.ops_server import PROBE_EXCHANGE, PROBE_KEY
from common.outbox.publisher import EVENT_ARCHIVE
from gateway.principal_cache import INVALIDATING, QUEUE_PREFIX
from gateway.rpc import RPC_EXCHANGE, WATCH_KEY
from services.notifications import integrator_access as access

PROBE_KEYS = (PROBE_KEY, WATCH_KEY)
DEFAULT_EXCHANGE = "amq.default"  # how permissions name the default exchange ""
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
RPC_METHOD = "[a-z0-9_]+"

# The RPCs each process calls: the gateway every service's, a service only those its code calls (RpcProxy)
CALLS: dict[str, dict[str, tuple[str, ...] | None]] = {  # None: every method
    "gateway": {service: None for service in SERVICES},
    "transparency": {"notifications": ("issue_code", "verify_code", "health")},
}

CLUSTER = "welfare-rabbitmq"  # the RabbitmqCluster of k8s/components/engines/rabbitmq.yaml
K8S_VHOST = "/"
K8S_HOST = "welfare-rabbitmq"  # its Service, in the platform's namespace


def literal(name: str) -> str:
    """A name as a regular expression matching only itself (RabbitMQ's are PCRE)."""
    return re.sub(r"([.*+?()\[\]{}|^$\\])", r"\\\1", name)


# integrators' queues and replay streams, named as services/notifications/integrator_access.py names them
INTEGRATOR_QUEUE = literal(access.queue_name("")) + access.NAME_PATTERN
INTEGRATOR_QUEUES = f"{INTEGRATOR_QUEUE}({literal(access.REPLAY_SUFFIX)})?"
# queues a service reads beyond its own: notifications takes webhook integrators' events from their queues
READS_ALSO = {"notifications": (INTEGRATOR_QUEUE,)}


def anchored(alternatives) -> str:
    """^(a|b|…)$ of regular expressions; "" (nothing at all) for none."""
    alternatives = list(dict.fromkeys(alternatives))
    if not alternatives:
        return ""
    return f"^{alternatives[0]}$" if len(alternatives) == 1 else f"^({'|'.join(alternatives)})$"


@dataclass(frozen=True)
class BrokerUser:
    name: str
    why: str
    configure: tuple[str, ...] = ()  # regular expressions of exchange and queue names, unanchored
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    topics: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)  # exchange: (write, read)
    tags: tuple[str, ...] = ()
    in_compose: bool = True
    in_k8s: bool = True

    def permissions(self) -> dict[str, str]:
        return {"configure": anchored(self.configure), "write": anchored(self.write), "read": anchored(self.read)}

    def topic_permissions(self) -> list[dict[str, str]]:
        return [{"exchange": exchange, "write": anchored(write), "read": anchored(read)}
                for exchange, (write, read) in sorted(self.topics.items())]


def consumed_events(service: str) -> list[tuple[str, str, str]]:
    """(source, event type, queue) of every event handler of the service, from its code."""
    from common.health import event_queues

    found = []
    for queue in event_queues([service]):
        source, event_type = re.fullmatch(r"evt-([a-z]+)-(.+)--[a-z]+\.[a-z0-9_]+", queue).groups()
        found.append((source, event_type, queue))
    return found


def _probe() -> dict:
    return {PROBE_EXCHANGE: (tuple(literal(k) for k in PROBE_KEYS), ())}


def _calls(caller: str) -> tuple[str, ...]:
    return tuple(f"{literal(service)}\\.{RPC_METHOD}" if methods is None
                 else f"{literal(service)}\\.({'|'.join(literal(m) for m in methods)})"
                 for service, methods in CALLS.get(caller, {}).items())


def _reply_queue(caller: str) -> str:
    return f"rpc\\.reply-{literal(caller)}-{UUID}"


def _service(service: str) -> BrokerUser:
    events = consumed_events(service)
    queues = [literal(q) + "(\\.dlq)?" for _, _, q in events]
    sources = sorted({source for source, _, _ in events})
    source_exchanges = [literal(f"{s}.events") for s in sources] + ([literal(DEAD_LETTER_EXCHANGE)] if events else [])
    own = [literal(RPC_EXCHANGE), literal(f"rpc-{service}"), *queues]
    if service in CALLS:
        own.append(_reply_queue(service))
    topics = {RPC_EXCHANGE: ((UUID, *_calls(service)), (f"{literal(service)}\\.\\*", UUID)), **_probe()}
    for source in sources:
        topics[f"{source}.events"] = ((), tuple(literal(t) for s, t, _ in events if s == source))
    return BrokerUser(
        service, f"the {service} service: its RPC queue, its event queues, replies"
        + (f" and its calls to {', '.join(CALLS[service])}" if service in CALLS else ""),
        # write on dead-letters: RabbitMQ asks it of whoever declares a queue that dead-letters there
        configure=(*own, *source_exchanges),
        write=(*own, literal(PROBE_EXCHANGE), *([literal(DEAD_LETTER_EXCHANGE)] if events else [])),
        read=(*own, *source_exchanges, *READS_ALSO.get(service, ())), topics=topics)


def users() -> dict[str, BrokerUser]:
    """Every broker user of the platform, by name."""
    event_exchanges = tuple(literal(f"{s}.events") for s in SERVICES)
    probe_exchange = literal(PROBE_EXCHANGE)
    every_event_queue = "evt-[a-z]+-[a-z0-9_.]+--[a-z]+\\.[a-z0-9_]+"
    principals_queue = literal(QUEUE_PREFIX) + UUID
    found = [
        BrokerUser(
            "gateway", "the gateway: calls every service's RPCs on its own reply queues; drops cached principals "
            "on complaints' revocation events, read on a queue of its own",
            configure=(literal(RPC_EXCHANGE), _reply_queue("gateway"), principals_queue),
            write=(literal(RPC_EXCHANGE), _reply_queue("gateway"), probe_exchange, principals_queue),
            read=(literal(RPC_EXCHANGE), _reply_queue("gateway"), principals_queue, literal(STAFF_ACCESS_REVOKED.exchange)),
            topics={RPC_EXCHANGE: (_calls("gateway"), (UUID,)), **_probe(),
                    STAFF_ACCESS_REVOKED.exchange: ((), tuple(literal(e.type) for e in INVALIDATING))}),
        *(_service(s) for s in SERVICES),
        BrokerUser(
            "relay", "the outbox relay: publishes each service's events to its exchange and the archive",
            configure=(*event_exchanges, literal(EVENT_ARCHIVE)),
            write=(*event_exchanges, literal(EVENT_ARCHIVE), probe_exchange),
            read=event_exchanges,  # binding the archive to them
            topics={**{f"{s}.events": (("ir\\.behzisti\\." + literal(s) + "\\..+",), ("#",)) for s in SERVICES},
                    **_probe()}),
        BrokerUser(
            "operator", "people: show and replay dead letters (python -m common.events.dlq)",
            write=(literal(DEFAULT_EXCHANGE),), read=(f"{every_event_queue}\\.dlq",)),
        BrokerUser(
            "policies", "the policies job: queue policies, and migrating event queues of an older version "
            "(scripts/rabbitmq_policies.py); Kubernetes has Policy resources instead",
            configure=(every_event_queue + "(\\.dlq)?", f"migrating\\.{every_event_queue}(\\.dlq)?"),
            write=(every_event_queue + "(\\.dlq)?", f"migrating\\.{every_event_queue}(\\.dlq)?",
                   literal(DEFAULT_EXCHANGE), literal(DEAD_LETTER_EXCHANGE)),
            read=(every_event_queue + "(\\.dlq)?", f"migrating\\.{every_event_queue}(\\.dlq)?", *event_exchanges,
                  literal(DEAD_LETTER_EXCHANGE)),
            tags=("policymaker",), in_k8s=False),
        BrokerUser(
            "integrators", "the notifications service registering integrators: their users, queues and replay "
            "streams, bound to the events exchanges, made through the management API (services/notifications/"
            "integrators.py); RabbitMQ lets only an administrator make users",
            configure=(INTEGRATOR_QUEUES, *event_exchanges), write=(INTEGRATOR_QUEUES,), read=event_exchanges,
            tags=("administrator",), in_compose=False),
        BrokerUser(
            "keda", "KEDA: reads queue lengths (a passive declare needs no permission, only the vhost)",
            in_compose=False),
    ]
    return {u.name: u for u in found}


# the management API ---------------------------------------------------------------------------------------
def apply(management_url: str, credentials: dict[str, tuple[str, str, str]], timeout: float = 10) -> list[str]:
    """Create or update the users named in `credentials` ({user: (username, password, vhost)}): password,
    tags, permissions and topic permissions (others of theirs on that vhost removed). The usernames made."""
    from common.broker_admin import ManagementApi, q

    api = ManagementApi(management_url, timeout)
    table = users()
    unknown = set(credentials) - set(table)
    if unknown:
        raise ValueError(f"no such broker user: {', '.join(sorted(unknown))}")

    made = []
    for name, (username, password, vhost) in credentials.items():
        user, who, where = table[name], q(username), q(vhost)
        api.put_user(username, password, ",".join(user.tags))
        api.call("PUT", f"permissions/{where}/{who}", user.permissions())
        api.call("DELETE", f"topic-permissions/{where}/{who}", missing_ok=True)
        for topic in user.topic_permissions():
            api.call("PUT", f"topic-permissions/{where}/{who}", topic)
        made.append(username)
    return made


def credentials_from_env(environ=os.environ) -> dict[str, tuple[str, str, str]]:
    return {name: credentials_of(environ[key]) for name in users()
            if (key := f"AMQP_URI_{name.upper()}") in environ}


# Kubernetes -------------------------------------------------------------------------------------------------
def k8s_name(user: str) -> str:
    """The User resource's name, and its credentials Secret's."""
    return f"welfare-broker-{user}"


def _k8s_name_part(exchange: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", exchange.lower())


def k8s_resources() -> list[dict]:
    """The messaging topology operator's resources for every user of Kubernetes: a User whose credentials
    are imported from the Secret of the same name (username, password, connection_string: the AMQP_URI
    its pods read), its Permission on the vhost and its TopicPermissions."""
    docs = []
    cluster = {"name": CLUSTER}
    for user in users().values():
        if not user.in_k8s:
            continue
        name = k8s_name(user.name)
        spec = {"rabbitmqClusterReference": cluster, "importCredentialsSecret": {"name": name}}
        if user.tags:
            spec["tags"] = list(user.tags)
        docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "User", "metadata": {"name": name}, "spec": spec})
        docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "Permission", "metadata": {"name": name},
                     "spec": {"vhost": K8S_VHOST, "userReference": {"name": name},
                              "permissions": user.permissions(), "rabbitmqClusterReference": cluster}})
        for topic in user.topic_permissions():
            docs.append({"apiVersion": "rabbitmq.com/v1beta1", "kind": "TopicPermission",
                         "metadata": {"name": f"{name}-{_k8s_name_part(topic['exchange'])}"},
                         "spec": {"vhost": K8S_VHOST, "userReference": {"name": name}, "permissions": topic,
                                  "rabbitmqClusterReference": cluster}})
    return docs


def credentials_secret(user: str, password: str, host: str = K8S_HOST, vhost: str = K8S_VHOST) -> dict:
    """The Secret a User imports its credentials from; its connection_string is the pods' AMQP_URI (keep the
    two passwords equal: the operator sets the user's password from `password`)."""
    username = user
    path = "" if vhost == "/" else quote(vhost, safe="")
    who = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}"
    data = {"username": username, "password": password, "connection_string": f"amqp://{who}:5672/{path}"}
    if "administrator" in users()[user].tags:  # it works through the management API
        data["management_url"] = f"http://{who}:15672"
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": k8s_name(user), "labels": {"rabbitmq.com/topology-operator": "true"}},
            "type": "Opaque", "stringData": data}


def demo_secrets() -> list[dict]:
    """The local demo's credentials, obviously demo values (a deployment makes its own: `secret`)."""
    return [credentials_secret(u.name, f"local-demo-broker-{u.name}")
            for u in users().values() if u.in_k8s]


def _dump(docs: list[dict], header: str) -> str:
    import yaml

    return header + yaml.safe_dump_all(docs, sort_keys=False, width=1000)


K8S_HEADER = """\
# The platform's broker users, one per process kind, with least-privilege permissions: the messaging topology
# operator's User, Permission and TopicPermission resources. Generated from scripts/broker_users.py (their one
# source; tests/unit/test_broker_users.py keeps this file equal to it):
#   python -m scripts.broker_users k8s > k8s/components/engines/rabbitmq-users.yaml
# Each User imports its credentials from the Secret of its name (username, password, connection_string):
# the local demo overlay holds demo ones, production's are made by whoever deploys (docs/operations.md,
# "Broker users"). The cluster's default user (the operator's administrator) is used by no pod.
"""
DEMO_HEADER = """\
# The local demo's broker credentials: demo values, obviously so (production makes its own; docs/operations.md,
# "Broker users"). Generated: python -m scripts.broker_users demo-secrets > k8s/overlays/local-demo/broker-users.yaml
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="The platform's broker users")
    sub = parser.add_subparsers(dest="action", required=True)
    apply_parser = sub.add_parser("apply", help="create or update the users through the management API")
    apply_parser.add_argument("--management-url", default=os.environ.get("BROKER_ADMIN_URL"),
                              help="http://admin:password@host:15672 (default: BROKER_ADMIN_URL)")
    sub.add_parser("k8s", help="print the topology operator's resources")
    sub.add_parser("demo-secrets", help="print the local demo's credentials Secrets")
    secret_parser = sub.add_parser("secret", help="print one user's credentials Secret")
    secret_parser.add_argument("user", choices=[u.name for u in users().values() if u.in_k8s])
    secret_parser.add_argument("--password", required=True)
    secret_parser.add_argument("--host", default=K8S_HOST)
    args = parser.parse_args(argv)
    if args.action == "k8s":
        print(_dump(k8s_resources(), K8S_HEADER), end="")
    elif args.action == "demo-secrets":
        print(_dump(demo_secrets(), DEMO_HEADER), end="")
    elif args.action == "secret":
        print(_dump([credentials_secret(args.user, args.password, args.host)], ""), end="")
    else:
        if not args.management_url:
            parser.error("--management-url or BROKER_ADMIN_URL is needed")
        credentials = credentials_from_env()
        if not credentials:
            parser.error("no AMQP_URI_<USER> in the environment")
        made = apply(args.management_url, credentials)
        left = [u.name for u in users().values() if u.in_compose and u.name not in credentials]
        print(f"broker users created or updated: {', '.join(made)}"
              + (f" (not given, not made: {', '.join(left)})" if left else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
