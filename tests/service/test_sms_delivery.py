"""A message's life after it is queued (SPEC N1, C9), on the real PostgreSQL and the fake operator over
HTTP: receipts by polling and by callback, resends under a new key, the dead-letter list and its replay,
quiet hours, bulk sends for a payment cycle, bad events dead-lettered, two replicas sending once."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from nameko.testing.services import entrypoint_waiter
from sqlalchemy.orm import Session

from common.config import get_settings
from services.notifications import dispatch
from services.notifications.dependencies import build_router
from services.notifications.templates import CASE_CLOSED_CITIZEN
from tests.helpers import disbursements, publish

MAX = 3


@pytest.fixture
def router(sms_operator):
    return build_router(get_settings(), kavenegar_url=sms_operator.url, smsir_url=sms_operator.url)


@pytest.fixture
def session(db_urls):
    engine = sa.create_engine(db_urls["notifications"])
    with Session(engine) as s:
        yield s
    engine.dispose()


def cause():
    return {"source": "/behzisti/test", "id": str(uuid.uuid4()), "type": "test"}


def queue(session, mobile="09121234567", urgent=True):
    with session.begin():
        return dispatch.queue(session, cause(), mobile, CASE_CLOSED_CITIZEN, urgent=urgent,
                              tracking_code="4203917755102846")


def row(session, message_id):
    with session.begin():
        return session.execute(sa.text("SELECT * FROM sms_messages WHERE id = :i"), {"i": message_id}).mappings().one()


def as_if_sent_long_ago(session, message_id, seconds=5):
    """As if the message had been sent `seconds` earlier, and its state were due to be asked."""
    with session.begin():
        session.execute(sa.text("UPDATE sms_messages SET sent_at = sent_at - make_interval(secs => :s), "
                                "next_attempt_at = least(next_attempt_at, now()) - make_interval(secs => :s) "
                                "WHERE id = :i"), {"s": seconds, "i": message_id})


def test_polling_maps_a_delivery_receipt_to_delivered(session, router, sms_operator):
    sms_operator.operator.delivery_after = 0
    message_id = queue(session)
    dispatch.deliver(session, router, message_id, MAX)
    assert row(session, message_id)["status"] == "sent"
    as_if_sent_long_ago(session, message_id)
    assert dispatch.poll_receipts(session, router, MAX) == 1
    done = row(session, message_id)
    assert done["status"] == "delivered" and done["delivered_at"] is not None


def test_undelivered_is_sent_again_under_a_new_key_then_dead_lettered_then_replayed(session, router, sms_operator):
    sms_operator.operator.delivery_after = 0
    sms_operator.operator.control["undeliverable"] = ["09121230000"]
    message_id = queue(session, "09121230000")
    keys = []
    for attempt in range(1, MAX + 1):
        dispatch.deliver_all(session, router, [message_id], MAX) if attempt == 1 else _send_due_now(session, router)
        keys.append(row(session, message_id)["send_key"])
        as_if_sent_long_ago(session, message_id)
        dispatch.poll_receipts(session, router, MAX)
    dead = row(session, message_id)
    assert dead["status"] == "undelivered" and dead["dead_lettered_at"] is not None and dead["attempts"] == MAX
    assert len(set(keys)) == MAX  # each resend under its own key: the operator took each as new
    assert len([m for m in sms_operator.operator.messages if m["receptor"] == "09121230000"]) == MAX
    with session.begin():
        listed = dispatch.dead_letters(session, 10, None)["items"]
        failed = session.execute(sa.text("SELECT count(*) FROM outbox WHERE routing_key LIKE '%sms.failed%'")).scalar()
    assert [m["id"] for m in listed] == [message_id] and listed[0]["recipient_masked"] != "09121230000"
    assert failed == 1

    sms_operator.operator.control["undeliverable"] = []
    with session.begin():
        assert dispatch.replay(session, [message_id, str(uuid.uuid4())]) == [message_id]
    dispatch.deliver_all(session, router, [message_id], MAX)
    again = row(session, message_id)
    assert again["status"] == "sent" and again["replays"] == 1 and again["dead_lettered_at"] is None


def _send_due_now(session, router):
    with session.begin():
        session.execute(sa.text("UPDATE sms_messages SET next_attempt_at = now() WHERE status = 'queued'"))
    dispatch.sweep(session, router, MAX)


def test_a_receipt_posted_by_the_operator_settles_the_message(session, router, sms_operator):
    message_id = queue(session)
    dispatch.deliver(session, router, message_id, MAX)
    sent = row(session, message_id)
    receipts = router.parse_receipt_for(sent["provider"], {"messageid": sent["provider_message_id"], "status": "10"})
    assert dispatch.apply_receipts(session, sent["provider"], receipts, MAX) == 1
    assert row(session, message_id)["status"] == "delivered"
    assert dispatch.apply_receipts(session, sent["provider"], receipts, MAX) == 0  # a repeated receipt: nothing


def test_an_operator_s_own_expired_state_sends_the_message_again(session, router, sms_operator):
    """Only the operator's own final state sends a message again: Kavenegar's 13 (cancelled) and SMS.ir's 4
    (did not reach the telecom) read as failed, an expired receipt as expired."""
    message_id = queue(session)
    dispatch.deliver(session, router, message_id, MAX)
    sent = row(session, message_id)
    assert dispatch.apply_receipts(session, sent["provider"], [(sent["provider_message_id"], "expired")], MAX) == 1
    expired = row(session, message_id)
    assert expired["status"] == "queued" and expired["provider_status"] == "expired"
    assert expired["send_key"] != sent["send_key"]  # sent again under a new key


def test_non_urgent_messages_wait_out_quiet_hours_and_urgent_ones_do_not(session, router, sms_operator, monkeypatch):
    from common.jalali import TEHRAN

    with session.begin():
        now = session.execute(sa.text("SELECT now()")).scalar().astimezone(TEHRAN)
    window = f"{(now - timedelta(minutes=1)):%H:%M}-{(now + timedelta(hours=1)):%H:%M}"
    monkeypatch.setenv("QUIET_HOURS", window)
    get_settings.cache_clear()
    try:
        waiting, urgent = queue(session, urgent=False), queue(session, "09121239999", urgent=True)
        dispatch.deliver_all(session, router, [waiting, urgent], MAX)
        assert row(session, waiting)["status"] == "queued" and row(session, urgent)["status"] == "sent"
        assert row(session, waiting)["next_attempt_at"] > now + timedelta(minutes=50)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


@pytest.fixture
def urgent_everything(monkeypatch):
    monkeypatch.setenv("QUIET_HOURS", "")  # the test must not depend on the hour it runs at
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_payment_batch_goes_out_through_the_bulk_endpoints_once(urgent_everything, notifications, rabbit_config,
                                                                   sms_operator):
    event = disbursements(250)
    with entrypoint_waiter(notifications, "on_disbursements_published", timeout=20) as result:
        publish(rabbit_config["AMQP_URI"], event)
    assert result.get() == 250
    assert len(sms_operator.operator.messages) == 250
    assert sms_operator.operator.requests["kavenegar"] <= 3  # 200 per sendarray call, not one call each
    assert "۱۲٬۵۰۰٬۰۰۰" in sms_operator.operator.messages[0]["message"]
    with entrypoint_waiter(notifications, "on_disbursements_published", timeout=20) as again:
        publish(rabbit_config["AMQP_URI"], event)  # the same batch redelivered
    assert again.get() is None and len(sms_operator.operator.messages) == 250


def test_an_event_off_its_contract_is_dead_lettered_at_once_and_nothing_is_sent(notifications, rabbit_config,
                                                                                 sms_operator, db):
    from kombu import Connection

    bad = disbursements(2)
    bad["data"]["items"][0]["mobile"] = "12345"  # not a mobile: the schema refuses it
    with entrypoint_waiter(notifications, "on_disbursements_published", timeout=10):
        publish(rabbit_config["AMQP_URI"], bad)
    from common.events.handler import dead_letter_queue

    queue = "evt-payments-ir.behzisti.payments.disbursements.published.v1--notifications.on_disbursements_published"
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        message = conn.SimpleQueue(dead_letter_queue(queue)).get(timeout=10)
        assert message.payload["id"] == bad["id"]
        message.ack()
    assert sms_operator.operator.messages == []
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sms_messages")).scalar() == 0


def test_two_replicas_send_one_message_per_event(urgent_everything, container_factory, service_config, rabbit_config,
                                                  sms_operator, db):
    from services.notifications.service import NotificationsService

    config = {**service_config, "SMS_PROVIDER_URL": sms_operator.url, "SMS_PROVIDERS": "kavenegar"}
    replicas = [container_factory(NotificationsService, config) for _ in range(2)]
    for replica in replicas:
        replica.start()
    events = [disbursements(3) for _ in range(6)]
    for e in events:
        e["data"]["items"] = [{**i, "order_id": f"{e['id']}.{n}"} for n, i in enumerate(e["data"]["items"])]
        publish(rabbit_config["AMQP_URI"], e)
        publish(rabbit_config["AMQP_URI"], e)  # each delivered twice
    got = _wait_for(sms_operator, 18)
    with db.connect() as conn:  # each of the 12 deliveries handled, by one replica or the other, once
        assert conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar() == 6
        assert conn.execute(sa.text("SELECT count(*) FROM sms_messages")).scalar() == 18
    assert len(got) == 18  # 6 events × 3 people, none twice


def _wait_for(sms_operator, n):
    import requests

    return requests.get(f"{sms_operator.url}/api/messages", params={"wait": 20, "min": n}, timeout=30).json()
