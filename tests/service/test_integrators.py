"""Integrators on the real broker (issue 20, item 3): an administrator registers a ministry system with the event
types it may receive; it consumes them with its own credentials and nothing else, replays its stream from an offset
or a time after being offline, and its credentials are rotated and revoked. A system that cannot speak AMQP gets
them posted to its webhook, signed, retried, dead-lettered and replayed."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import amqp
import pytest
from amqp.exceptions import AccessRefused, NotFound as QueueNotFound

from common.broker_admin import ManagementApi
from common.config import get_settings
from common.errors import Conflict, Forbidden, InvalidRequest
from common.events.catalog import CASE_REGISTERED, DATASET_PUBLISHED, STATISTICS_PUBLISHED
from services.notifications import integrator_access
from services.notifications.service import NotificationsService
from tests.helpers import as_integrator as connect, gateway_proxy, publish, take, wait_for, webhook_receiver

ADMIN = {"kind": "staff", "role": "admin", "id": str(uuid.uuid4()), "username": "admin"}
PUBLIC_TYPES = [STATISTICS_PUBLISHED.type, DATASET_PUBLISHED.type]


@pytest.fixture
def registry(notifications, rabbit_config):
    made = []
    with gateway_proxy("notifications", rabbit_config) as proxy:
        def register(**payload):
            payload = {"name": f"sys-{uuid.uuid4().hex[:8]}", "title": "سامانهٔ آزمایشی", **payload}
            made.append(payload["name"])
            return proxy.register_integrator(ADMIN, payload)
        proxy.register = register
        yield proxy
    admin = ManagementApi(get_settings().broker_admin_url)
    for name in made:  # users are the broker's, not the test vhost's
        admin.delete_user(integrator_access.username(name))


def event_of(event_type, n: int) -> dict:
    from common.events.envelope import new_event

    data = {"n": n}
    return new_event(event_type, data, subject=str(n))  # the data need not keep its contract here


def test_an_integrator_reads_only_its_own_types_with_its_own_credentials(registry, rabbit_config):
    answer = registry.register(event_types=PUBLIC_TYPES)
    amqp_answer = answer["amqp"]
    assert answer["event_types"] == sorted(PUBLIC_TYPES) and answer["personal_fields"] == {}
    assert amqp_answer["username"] != "guest" and len(amqp_answer["password"]) >= 32
    uri = rabbit_config["AMQP_URI"]
    stats, case = event_of(STATISTICS_PUBLISHED, 1), event_of(CASE_REGISTERED, 2)
    publish(uri, case)
    publish(uri, stats)

    with connect(amqp_answer) as connection:
        channel = connection.channel()
        [received] = take(channel, amqp_answer["queue"], 1)
        assert received["id"] == stats["id"]  # the case event, not granted, never reached its queue
        assert channel.queue_declare(amqp_answer["queue"], passive=True).message_count == 0

    refusals = [
        lambda ch: ch.queue_declare("mine", durable=True),  # nothing of its own
        lambda ch: ch.queue_bind(amqp_answer["queue"], CASE_REGISTERED.exchange, CASE_REGISTERED.type),  # no more types
        lambda ch: ch.basic_consume("evt-complaints-x", callback=print),  # no one else's queue
        lambda ch: ch.exchange_declare(CASE_REGISTERED.exchange, "topic", passive=False, durable=True),
    ]
    for refused in refusals:
        with connect(amqp_answer) as connection:
            with pytest.raises(AccessRefused):
                refused(connection.channel())


def test_an_integrator_offline_finds_what_it_missed_and_replays_from_an_offset_or_a_time(registry, rabbit_config):
    amqp_answer = registry.register(event_types=PUBLIC_TYPES)["amqp"]
    uri = rabbit_config["AMQP_URI"]
    events = [event_of(STATISTICS_PUBLISHED, n) for n in range(3)]
    for event in events:
        publish(uri, event)
    middle = datetime.now(timezone.utc)
    later = [event_of(DATASET_PUBLISHED, n) for n in range(3, 5)]
    for event in later:
        publish(uri, event)
    sent = [e["id"] for e in events + later]

    with connect(amqp_answer) as connection:  # back after being offline: its queue kept everything
        assert [e["id"] for e in take(connection.channel(), amqp_answer["queue"], 5)] == sent
    with connect(amqp_answer) as connection:  # and the stream still has it all, to read again
        replay = amqp_answer["replay_stream"]
        assert [e["id"] for e in take(connection.channel(), replay, 5, {"x-stream-offset": "first"})] == sent
        assert [e["id"] for e in take(connection.channel(), replay, 2, {"x-stream-offset": 3})] == sent[3:]
        # from a time: from the stored chunk that holds it, so what follows it and maybe a few before, in order
        from_time = [e["id"] for e in take(connection.channel(), replay, 2, {"x-stream-offset": middle},
                                           and_the_rest=True)]
        assert from_time == sent[-len(from_time):] and set(sent[3:]) <= set(from_time)


def test_personal_types_need_the_entitlement_and_its_legal_basis(registry):
    with pytest.raises(InvalidRequest) as refused:
        registry.register(event_types=[CASE_REGISTERED.type])
    assert refused.value.errors[0]["field"] == "event_types"
    assert refused.value.errors[0]["code"] == "personal_data_not_granted"
    with pytest.raises(InvalidRequest) as refused:
        registry.register(event_types=[CASE_REGISTERED.type], personal_data=True)
    assert [e["field"] for e in refused.value.errors] == ["legal_basis"]
    answer = registry.register(event_types=[CASE_REGISTERED.type], personal_data=True,
                               legal_basis="تفاهم‌نامهٔ ۱۴۰۳ با وزارت کار، بند ۴")
    assert answer["personal_fields"] == {CASE_REGISTERED.type: ["reporter_mobile"]}
    with pytest.raises(InvalidRequest):
        registry.register(event_types=["ir.behzisti.nothing.v1"])


def test_credentials_are_rotated_and_revoked(registry, rabbit_config):
    first = registry.register(event_types=PUBLIC_TYPES)
    with pytest.raises(Conflict):
        registry.register_integrator(ADMIN, {"name": first["name"], "event_types": PUBLIC_TYPES})
    held = connect(first["amqp"])  # a connection open on the old password is closed by the rotation
    rotated = registry.rotate_integrator(ADMIN, first["id"])
    assert rotated["amqp"]["password"] != first["amqp"]["password"] and rotated["rotated_at"]
    with pytest.raises(AccessRefused):
        connect(first["amqp"])
    with pytest.raises((OSError, amqp.exceptions.ConnectionForced, amqp.exceptions.RecoverableConnectionError)):
        for _ in range(50):
            held.channel().queue_declare(first["amqp"]["queue"], passive=True)
            held.drain_events(timeout=0.1)
    with connect(rotated["amqp"]) as connection:
        connection.channel().queue_declare(first["amqp"]["queue"], passive=True)

    revoked = registry.revoke_integrator(ADMIN, first["id"])
    assert revoked["revoked"] is True
    with pytest.raises(AccessRefused):
        connect(rotated["amqp"])
    with pytest.raises(Conflict):
        registry.rotate_integrator(ADMIN, first["id"])
    assert [i["revoked"] for i in registry.list_integrators(ADMIN) if i["id"] == first["id"]] == [True]
    with amqp.Connection(host="localhost:5672", virtual_host=first["amqp"]["vhost"]) as platform:
        with pytest.raises(QueueNotFound):  # its queue and stream went with it
            platform.channel().queue_declare(first["amqp"]["queue"], passive=True)


def test_only_an_administrator_registers_integrators(registry):
    expert = {**ADMIN, "role": "province_expert"}
    with pytest.raises(Forbidden):
        registry.register_integrator(expert, {"name": "nope-system", "event_types": PUBLIC_TYPES})
    with pytest.raises(Forbidden):
        registry.list_integrators(None)


# webhooks: a system that cannot speak AMQP ----------------------------------------------------------------------
@pytest.fixture
def receiver():
    with webhook_receiver() as server:
        yield server


@pytest.fixture
def webhooks_service(container_factory, service_config, sms_operator):
    container = container_factory(NotificationsService, {
        **service_config, "SMS_PROVIDER_URL": sms_operator.url, "SMS_PROVIDERS": "kavenegar",
        "WEBHOOK_MAX_ATTEMPTS": 3, "WEBHOOK_RETRY_BASE_SECONDS": 0.1})
    container.start()
    return container


@pytest.fixture
def hooks(webhooks_service, rabbit_config):
    with gateway_proxy("notifications", rabbit_config) as proxy:
        yield proxy


def test_a_webhook_gets_each_event_as_a_signed_cloudevent(hooks, receiver, rabbit_config):
    from cloudevents.core.bindings.http import HTTPMessage, from_http
    from cloudevents.core.formats.json import JSONFormat
    from standardwebhooks import Webhook
    from standardwebhooks.webhooks import WebhookVerificationError

    answer = hooks.register_integrator(ADMIN, {"name": f"hook-{uuid.uuid4().hex[:8]}", "event_types": PUBLIC_TYPES,
                                               "webhook_url": f"{receiver.url}/hook"})
    assert answer["delivery"] == "webhook" and "amqp" not in answer and answer["webhook"]["secret"].startswith("whsec_")
    events = [event_of(STATISTICS_PUBLISHED, 1), event_of(DATASET_PUBLISHED, 2), event_of(CASE_REGISTERED, 3)]
    for event in events:
        publish(rabbit_config["AMQP_URI"], event)
    posts = wait_for(lambda: len(receiver.app.config["posts"]) >= 2 and receiver.app.config["posts"], "two posts")
    verifier = Webhook(answer["webhook"]["secret"])
    received = []
    for headers, body in posts:
        assert headers["Content-Type"].startswith("application/cloudevents+json")
        assert verifier.verify(body, headers)["id"] == headers["Webhook-Id"]
        event = from_http(HTTPMessage(headers=headers, body=body), JSONFormat())  # the CloudEvents HTTP binding
        assert event.get_specversion() == "1.0" and event.get_type() in PUBLIC_TYPES
        received.append(event.get_id())
    assert sorted(received) == sorted(e["id"] for e in events[:2])  # never the case event
    with pytest.raises(WebhookVerificationError):  # another system's secret does not verify it
        Webhook("whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=").verify(posts[0][1], posts[0][0])


def test_a_webhook_that_keeps_failing_is_dead_lettered_and_replayed(hooks, receiver, rabbit_config, engine_of):
    import sqlalchemy as sa

    answer = hooks.register_integrator(ADMIN, {"name": f"hook-{uuid.uuid4().hex[:8]}", "event_types": PUBLIC_TYPES,
                                               "webhook_url": f"{receiver.url}/hook"})
    receiver.app.config["failures"] = 3  # WEBHOOK_MAX_ATTEMPTS: every try fails
    event = event_of(STATISTICS_PUBLISHED, 1)
    publish(rabbit_config["AMQP_URI"], event)
    [dead] = wait_for(lambda: hooks.webhook_dead_letters(ADMIN, answer["id"]), "the dead letter")
    assert dead["event_id"] == event["id"] and dead["attempts"] == 3 and dead["last_error"] == "HTTP 503"
    assert receiver.app.config["posts"] == []

    assert hooks.replay_webhooks(ADMIN, answer["id"], {"ids": [dead["id"]]}) == {"replayed": 1}
    wait_for(lambda: receiver.app.config["posts"], "the replayed post")
    assert hooks.webhook_dead_letters(ADMIN, answer["id"]) == []
    # and everything posted since a time, once more (a system that lost what it had taken)
    assert hooks.replay_webhooks(ADMIN, answer["id"], {"since": "2020-01-01T00:00:00+00:00"}) == {"replayed": 1}
    wait_for(lambda: len(receiver.app.config["posts"]) == 2, "the second replayed post")
    with engine_of("notifications").connect() as conn:  # one delivery row per event, however often posted
        assert conn.execute(sa.text("SELECT count(*) FROM webhook_deliveries")).scalar() == 1
    with pytest.raises(InvalidRequest):
        hooks.replay_webhooks(ADMIN, answer["id"], {})


def test_a_webhook_url_must_be_a_full_web_address(hooks):
    for url in ("ftp://ministry.ir/hook", "ministry.ir/hook", "https://user:pass@ministry.ir/hook"):
        with pytest.raises(InvalidRequest) as refused:
            hooks.register_integrator(ADMIN, {"name": f"hook-{uuid.uuid4().hex[:8]}", "event_types": PUBLIC_TYPES,
                                              "webhook_url": url})
        assert refused.value.errors[0]["field"] == "webhook_url"


def test_a_broker_whose_management_api_is_away_registers_nothing_and_says_try_again(
        container_factory, service_config, sms_operator, rabbit_config, engine_of):
    import sqlalchemy as sa
    from nameko.exceptions import RemoteError

    from scripts.processes import free_port

    container = container_factory(NotificationsService, {
        **service_config, "SMS_PROVIDER_URL": sms_operator.url, "SMS_PROVIDERS": "kavenegar",
        "BROKER_ADMIN_URL": f"http://guest:guest@127.0.0.1:{free_port()}"})  # nothing listens there
    container.start()
    with gateway_proxy("notifications", rabbit_config) as proxy, pytest.raises(RemoteError) as away:
        proxy.register_integrator(ADMIN, {"name": f"sys-{uuid.uuid4().hex[:8]}", "event_types": PUBLIC_TYPES})
    assert away.value.exc_type == "BrokerAdminUnavailable"  # the gateway answers it 503, outcome unknown
    with engine_of("notifications").connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM integrators")).scalar() == 0
