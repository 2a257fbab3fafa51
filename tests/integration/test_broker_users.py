"""Each process on its own broker user (scripts/broker_users.py), against the real RabbitMQ: the users made by
the same command compose's init job runs; every service serves RPC and consumes events under its own user,
the relay publishes under its own; and each user can do no more than its part."""
from __future__ import annotations

import json
import os
import secrets
import uuid
from unittest import mock
from urllib.parse import quote, urlsplit

import amqp
import pytest
import requests
import sqlalchemy as sa
from amqp.exceptions import AccessRefused
from nameko.testing.services import entrypoint_waiter
from sqlalchemy.orm import Session

from common import outbox
from common.config import SERVICES, get_settings, service_of
from common.events.catalog import (
    CASE_REGISTERED, PAYMENT_FAILED, STAFF_ACCESS_REVOKED, STAFF_CREDENTIALS_CHANGED, STATISTICS_PUBLISHED,
)
from common.events.envelope import new_event
from common.events.handler import dead_letter_queue_arguments, event_queue_arguments
from common.ops_server import broker_check
from common.outbox.relay import OutboxRelay
from common.rpc import rpc_queue_arguments
from gateway.principal_cache import QUEUE_PREFIX, PrincipalCache
from gateway.rpc import RpcClient
from scripts import broker_users
from services.complaints.models import outbox as complaints_outbox
from services.complaints.service import ComplaintsService
from services.notifications.service import NotificationsService
from services.payments.models import outbox as payments_outbox
from services.payments.service import PaymentsService
from services.transparency.service import TransparencyFeeds, TransparencyService
from tests.helpers import TEST_RPC_SECONDS, as_integrator, case_registered, publish as publish_event, take, wait_for, webhook_receiver

PROCESSES = {"complaints": ComplaintsService, "notifications": NotificationsService, "payments": PaymentsService,
             "transparency": TransparencyService, "transparency-feeds": TransparencyFeeds}
NOTIFICATIONS_QUEUE = "evt-complaints-ir.behzisti.complaints.case.registered.v1--notifications.on_case_registered"
ANY_UUID = "2f1d8a3c-5b7e-4c9a-8d6f-0e1b2c3d4e5f"


@pytest.fixture(scope="module")
def broker(request, rabbit_manager):
    """A fresh vhost with every broker user on it, made by `python -m scripts.broker_users apply` as compose's
    init job runs it (the admin: the tests' guest); {"admin": guest's URI, <user>: that user's URI}."""
    api = request.config.getoption("RABBIT_API_URI")
    admin = urlsplit(request.config.getoption("RABBIT_AMQP_URI"))
    vhost = f"welfare_users_{uuid.uuid4().hex[:8]}"
    prefix = f"t{uuid.uuid4().hex[:6]}-"  # users are the broker's, not the vhost's: never another run's
    rabbit_manager.create_vhost(vhost)
    rabbit_manager.set_vhost_permissions(vhost, admin.username, ".*", ".*", ".*")
    uris = {name: f"amqp://{prefix}{name}:{secrets.token_urlsafe(12)}@{admin.hostname}:{admin.port or 5672}/{vhost}"
            for name in broker_users.users()}
    env = {f"AMQP_URI_{name.upper()}": uri for name, uri in uris.items()}
    with mock.patch.dict(os.environ, env):
        assert broker_users.main(["apply", "--management-url", api]) == 0
    yield {"admin": f"amqp://{admin.netloc}/{vhost}", **uris}
    rabbit_manager.delete_vhost(vhost)
    parts = urlsplit(api)
    for name in uris:
        requests.delete(f"{parts.scheme}://{parts.hostname}:{parts.port}/api/users/{quote(prefix + name, safe='')}",
                        auth=(parts.username, parts.password), timeout=10)


def config_for(service_config, uri, **extra):
    return {**service_config, "AMQP_URI": uri, **extra}


def test_integrators_are_made_and_served_under_the_platform_s_least_privileged_users(
        broker, request, container_factory, service_config, sms_operator):
    """Notifications makes integrators through the management API as the broker user `integrators` (its
    permissions reach only integrator queues and the events exchanges), and takes a webhook integrator's
    events from its queue under its own user; the AMQP integrator reads under the user it was given."""
    api, own = urlsplit(request.config.getoption("RABBIT_API_URI")), urlsplit(broker["integrators"])
    management = f"http://{own.username}:{own.password}@{api.hostname}:{api.port}"
    container = container_factory(NotificationsService, config_for(
        service_config, broker["notifications"], BROKER_ADMIN_URL=management, SMS_PROVIDER_URL=sms_operator.url,
        SMS_PROVIDERS="kavenegar"))
    container.start()
    admin = {"kind": "staff", "role": "admin", "id": str(uuid.uuid4()), "username": "admin"}
    types = [STATISTICS_PUBLISHED.type]
    names = [f"t{uuid.uuid4().hex[:8]}-{kind}" for kind in ("amqp", "hook")]
    gateway = RpcClient({**get_settings().nameko_config(), "AMQP_URI": broker["gateway"]}, timeout=TEST_RPC_SECONDS)
    try:
        with webhook_receiver() as receiver:
            on_amqp = gateway.call("notifications", "register_integrator", admin,
                                   {"name": names[0], "event_types": types})
            gateway.call("notifications", "register_integrator", admin,
                         {"name": names[1], "event_types": types, "webhook_url": f"{receiver.url}/hook"})
            event = new_event(STATISTICS_PUBLISHED, {"n": 1})
            publish_event(broker["admin"], event)
            posted = wait_for(lambda: receiver.app.config["posts"], "the webhook's post")
            assert json.loads(posted[0][1])["id"] == event["id"]
        with as_integrator(on_amqp["amqp"]) as connection:
            assert [e["id"] for e in take(connection.channel(), on_amqp["amqp"]["queue"], 1)] == [event["id"]]
    finally:
        gateway.close()
        for name in names:
            requests.delete(f"{api.scheme}://{api.hostname}:{api.port}/api/users/{quote('integrator.' + name, safe='')}",
                            auth=(api.username, api.password), timeout=10)


def test_every_process_serves_and_consumes_under_its_own_user(broker, container_factory, service_config, db_urls,
                                                              sms_operator):
    containers = {}
    for name, cls in PROCESSES.items():
        extra = {"SMS_PROVIDER_URL": sms_operator.url, "SMS_PROVIDERS": "kavenegar"} if name == "notifications" \
            else {"TRANSPARENCY_DEMO_DATA": False} if cls.name == "transparency" else {}
        user = service_of(name)  # a service's second process is under the service's user
        containers[name] = container_factory(cls, config_for(service_config, broker[user], **extra))
        containers[name].start()
    gateway = RpcClient({**get_settings().nameko_config(), "AMQP_URI": broker["gateway"]}, timeout=TEST_RPC_SECONDS)
    try:
        # RPC: the gateway's requests reach each service, whose replies reach the gateway's reply queue
        for name in SERVICES:
            assert gateway.call(name, "health") == {"service": name, "status": "ok"}
        # a service's own call to another (transparency -> notifications.verify_code) on its own reply queue
        assert gateway.call("transparency", "check_code", {"national_id": "0499370899", "code": "482917"}) == {
            "verified": False, "national_id": None}
    finally:
        gateway.close()

    # events: the relay publishes each service's outbox under its own user; the consumers take them under theirs
    engine = {s: sa.create_engine(db_urls[s]) for s in ("complaints", "payments")}
    registered = case_registered(mobile="09121234567")
    failed = new_event(PAYMENT_FAILED, {
        "order_id": "1405-09.pension_disability.0010350829", "cycle_id": "1405-09.pension_disability",
        "line": "pension_disability", "line_fa": "مستمری خانوارهای دارای معلول", "month_fa": "آذر ۱۴۰۵",
        "national_id": "0499370899", "amount_rials": 12_500_000, "status": "rejected", "reason": "account closed",
        "at": "2026-11-26T09:05:00Z"})
    for service, table, event in (("complaints", complaints_outbox, registered), ("payments", payments_outbox, failed)):
        with Session(engine[service]) as session, session.begin():
            outbox.add(session, table, event)
    relays = [OutboxRelay(s, db_urls[s], broker["relay"]) for s in ("complaints", "payments")]
    try:
        with entrypoint_waiter(containers["notifications"], "on_case_registered", timeout=15) as texted, \
                entrypoint_waiter(containers["transparency-feeds"], "on_payment_failed", timeout=15) as recorded:
            assert [r.drain() for r in relays] == [1, 1]
        assert texted.get() is not None  # the reporter's SMS
        assert recorded.get() is True
    finally:
        for r in relays:
            r.close()
        for e in engine.values():
            e.dispose()
    assert [m["receptor"] for m in sms_operator.operator.messages] == ["09121234567"]

    # the gateway's principal cache consumes the revocation events under the gateway's user
    principals = PrincipalCache(broker["gateway"], ttl=30)
    principals.start()
    try:
        assert principals.live.wait(15), "the principal cache did not start consuming"
    finally:
        principals.stop()

    # readiness: every process's probe publishes under its own user
    for name in (*SERVICES, "gateway", "relay"):
        broker_check(broker[name])()


# least privilege --------------------------------------------------------------------------------------------
def declare_platform_queues(admin_uri: str) -> None:
    """The queues the services declare, as they declare them (made here by the admin: these tests run no service)."""
    conn = amqp.Connection(**connection_args(admin_uri))
    conn.connect()
    channel = conn.channel()
    channel.exchange_declare("nameko-rpc", "topic", durable=True, auto_delete=False)
    for service in SERVICES:
        channel.queue_declare(f"rpc-{service}", durable=True, auto_delete=False, arguments=rpc_queue_arguments())
        channel.queue_bind(f"rpc-{service}", "nameko-rpc", f"{service}.*")
    channel.exchange_declare("dead-letters", "direct", durable=True, auto_delete=False)
    channel.exchange_declare("complaints.events", "topic", durable=True, auto_delete=False)
    channel.exchange_declare("payments.events", "topic", durable=True, auto_delete=False)
    channel.queue_declare(NOTIFICATIONS_QUEUE + ".dlq", durable=True, auto_delete=False,
                          arguments=dead_letter_queue_arguments())
    channel.queue_declare(NOTIFICATIONS_QUEUE, durable=True, auto_delete=False,
                          arguments=event_queue_arguments(NOTIFICATIONS_QUEUE))
    conn.close()


def connection_args(uri: str) -> dict:
    parts = urlsplit(uri)
    return {"host": f"{parts.hostname}:{parts.port or 5672}", "userid": parts.username, "password": parts.password,
            "virtual_host": parts.path[1:] or "/"}


def attempt(uri: str, action) -> bool:
    """Run `action(channel)` on a fresh connection as the URI's user: True when the broker let it, False when it
    refused it for the user's permissions (ACCESS_REFUSED); anything else fails the test."""
    conn = amqp.Connection(**connection_args(uri))
    conn.connect()
    try:
        channel = conn.channel()
        channel.confirm_select()
        action(channel)
        return True
    except AccessRefused:
        return False
    finally:
        conn.collect()


def consume(queue):
    return lambda ch: ch.basic_consume(queue, callback=lambda m: None)


def publish(exchange, key):
    return lambda ch: ch.basic_publish_confirm(amqp.Message(b"{}"), exchange=exchange, routing_key=key)


def declare(queue, **arguments):
    return lambda ch: ch.queue_declare(queue, durable=True, auto_delete=False, arguments=arguments)


def delete(queue):
    return lambda ch: ch.queue_delete(queue)


def bind(queue, exchange, key):
    return lambda ch: ch.queue_bind(queue, exchange, key)


def principals_queue(bound_with):
    """The gateway's queue of revocation events (gateway/principal_cache.py), bound to complaints' events."""
    def run(ch):
        queue = f"{QUEUE_PREFIX}{uuid.uuid4()}"
        ch.queue_declare(queue, exclusive=True, auto_delete=True)
        ch.queue_bind(queue, "complaints.events", bound_with)
    return run


def own_reply_queue(user, bound_with):
    """Declare the user's own reply queue, as nameko names it, and bind it to nameko-rpc with `bound_with`."""
    def run(ch):
        queue = f"rpc.reply-{user}-{uuid.uuid4()}"
        ch.queue_declare(queue, exclusive=True, auto_delete=True)
        ch.queue_bind(queue, "nameko-rpc", bound_with)
    return run


CASES = [
    # (user, what, allowed)
    ("notifications", consume("rpc-notifications"), True),
    ("notifications", consume(NOTIFICATIONS_QUEUE), True),
    ("notifications", consume("rpc-payments"), False),
    ("notifications", publish("nameko-rpc", ANY_UUID), True),  # a reply
    ("notifications", publish("nameko-rpc", "payments.approve_cycle"), False),  # topic permission
    ("notifications", publish("", "rpc-payments"), False),  # the default exchange: every queue by name
    ("notifications", declare("rpc-payments", **rpc_queue_arguments()), False),
    ("notifications", delete("rpc-payments"), False),
    ("notifications", delete("rpc-complaints"), False),
    ("notifications", bind(NOTIFICATIONS_QUEUE, "nameko-rpc", "payments.*"), False),  # no snooping of requests
    ("notifications", bind(NOTIFICATIONS_QUEUE, "payments.events", "#"), False),  # not its events
    ("notifications", publish("complaints.events", "ir.behzisti.complaints.case.registered.v1"), False),
    ("transparency", own_reply_queue("transparency", ANY_UUID), True),
    ("transparency", own_reply_queue("notifications", ANY_UUID), False),
    ("transparency", publish("nameko-rpc", "notifications.verify_code"), True),
    ("transparency", publish("nameko-rpc", "notifications.send_staff_code"), False),
    ("transparency", publish("nameko-rpc", "payments.approve_cycle"), False),
    ("transparency", bind("rpc-transparency", "complaints.events", "ir.behzisti.complaints.case.registered.v1"),
     False),  # a reporter's case is none of its business
    ("payments", consume("rpc-payments"), True),
    ("payments", publish("nameko-rpc", "complaints.register"), False),
    ("payments", consume(NOTIFICATIONS_QUEUE), False),
    ("gateway", publish("nameko-rpc", "payments.approve_cycle"), True),
    ("gateway", own_reply_queue("gateway", ANY_UUID), True),
    ("gateway", consume(NOTIFICATIONS_QUEUE), False),
    ("gateway", consume("rpc-payments"), False),
    ("gateway", declare("rpc-payments", **rpc_queue_arguments()), False),
    ("gateway", publish("", NOTIFICATIONS_QUEUE), False),
    ("gateway", own_reply_queue("gateway", "payments.*"), False),  # no snooping of requests
    ("gateway", principals_queue(STAFF_ACCESS_REVOKED.type), True),
    ("gateway", principals_queue(STAFF_CREDENTIALS_CHANGED.type), True),
    ("gateway", principals_queue(CASE_REGISTERED.type), False),  # a reporter's case is none of its business
    ("gateway", principals_queue("#"), False),
    ("relay", publish("complaints.events", "ir.behzisti.complaints.case.registered.v1"), True),
    ("relay", publish("complaints.events", "ir.behzisti.payments.payment.failed.v1"), False),  # not complaints'
    ("relay", publish("nameko-rpc", "payments.approve_cycle"), False),
    ("relay", consume(NOTIFICATIONS_QUEUE), False),
    ("keda", lambda ch: ch.queue_declare("rpc-payments", passive=True), True),  # a queue's length
    ("keda", consume("rpc-payments"), False),
    ("operator", lambda ch: ch.basic_get(NOTIFICATIONS_QUEUE + ".dlq"), True),
    ("operator", consume("rpc-payments"), False),
    ("operator", declare("rpc-payments", **rpc_queue_arguments()), False),
]


@pytest.fixture(scope="module")
def platform_queues(broker):
    declare_platform_queues(broker["admin"])
    return broker


@pytest.mark.parametrize("user, action, allowed", CASES,
                         ids=[f"{u}-{i}" for i, (u, _, _) in enumerate(CASES)])
def test_each_user_may_do_its_part_and_nothing_else(platform_queues, user, action, allowed):
    assert attempt(platform_queues[user], action) is allowed


def test_the_policies_job_sets_policies_and_migrates_queues_under_its_own_user(platform_queues, rabbit_manager):
    """scripts/rabbitmq_policies.py as compose's job runs it: the policies through the management API, then an
    event queue an older version declared (another delivery limit) recreated with its message kept."""
    from scripts.rabbitmq_policies import POLICIES, apply, migrate_queues

    uri, vhost = platform_queues["policies"], urlsplit(platform_queues["admin"]).path[1:]
    queue = "evt-complaints-ir.behzisti.complaints.case.closed.v1--notifications.on_an_older_handler"
    conn = amqp.Connection(**connection_args(platform_queues["admin"]))
    conn.connect()
    channel = conn.channel()
    channel.queue_declare(queue, durable=True, auto_delete=False,
                          arguments={**event_queue_arguments(queue), "x-delivery-limit": 10})
    channel.queue_bind(queue, "complaints.events", "ir.behzisti.complaints.case.closed.v1")
    channel.confirm_select()
    channel.basic_publish_confirm(amqp.Message(b"{}"), exchange="complaints.events",
                                  routing_key="ir.behzisti.complaints.case.closed.v1")
    conn.close()

    assert apply(uri) == [p["name"] for p in POLICIES]
    assert {p["name"] for p in rabbit_manager._get("policies", vhost)} == {p["name"] for p in POLICIES}
    done, skipped = migrate_queues(uri)
    assert (done, skipped) == ({queue: 1}, {})
    assert rabbit_manager.get_queue(vhost, queue)["arguments"] == event_queue_arguments(queue)
    assert not attempt(uri, consume("rpc-payments"))  # and nothing beyond the event queues


def test_people_replay_dead_letters_under_the_operator_user(platform_queues):
    from common.events.dlq import replay

    conn = amqp.Connection(**connection_args(platform_queues["admin"]))
    conn.connect()
    channel = conn.channel()
    channel.confirm_select()
    channel.basic_publish_confirm(amqp.Message(b"{}", message_id="dead-1"), exchange="dead-letters",
                                  routing_key=NOTIFICATIONS_QUEUE)
    conn.close()
    assert replay(platform_queues["operator"], NOTIFICATIONS_QUEUE) == 1
    assert not attempt(platform_queues["operator"], consume(NOTIFICATIONS_QUEUE))  # replays, never consumes
