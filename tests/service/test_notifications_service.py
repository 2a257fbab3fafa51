"""The notifications service in a nameko container, against the real broker, PostgreSQL and the fake
SMS operator over HTTP."""
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from nameko.testing.services import entrypoint_waiter

from common.events import schemas
from services.notifications import dispatch
from services.notifications.providers.kavenegar import KavenegarProvider
from tests.helpers import case_registered, publish


def deliver(container, amqp_uri, event):
    with entrypoint_waiter(container, "on_case_registered", timeout=10) as result:
        publish(amqp_uri, event)
    return result.get()


def test_a_registered_case_texts_the_reporter_its_tracking_code(notifications, rabbit_config, sms_operator, db):
    event = case_registered(mobile="09121234567", code="4203917755102846")
    message_id = deliver(notifications, rabbit_config["AMQP_URI"], event)

    received = sms_operator.operator.messages
    assert len(received) == 1
    assert received[0]["receptor"] == "09121234567"
    assert "4203917755102846" in received[0]["message"] and "کد رهگیری" in received[0]["message"]
    assert received[0]["localid"] == message_id

    with db.connect() as conn:
        status, provider_id, cost = conn.execute(sa.text(
            "SELECT status, provider_message_id, cost_rials FROM sms_messages WHERE id = :id"),
            {"id": message_id}).one()
        sent_events = conn.execute(sa.text("SELECT envelope FROM outbox")).scalars().all()
    assert status == "sent" and provider_id == str(received[0]["messageid"]) and cost > 0
    assert len(sent_events) == 1 and sent_events[0]["type"] == "ir.behzisti.notifications.sms.sent.v1"
    assert sent_events[0]["data"]["recipient_masked"] == "0912***4567"
    assert sent_events[0]["data"]["cause"]["id"] == event["id"]
    assert schemas.errors_of(sent_events[0]) == []


def test_a_redelivered_event_sends_nothing_twice(notifications, rabbit_config, sms_operator, db):
    event = case_registered()
    assert deliver(notifications, rabbit_config["AMQP_URI"], event) is not None
    assert deliver(notifications, rabbit_config["AMQP_URI"], event) is None  # the inbox knew it
    assert len(sms_operator.operator.messages) == 1
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM sms_messages")).scalar() == 1
        assert conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar() == 1


def test_an_anonymous_reporter_gets_no_sms(notifications, rabbit_config, sms_operator, db):
    assert deliver(notifications, rabbit_config["AMQP_URI"], case_registered(mobile=None)) is None
    assert sms_operator.operator.messages == []
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM inbox")).scalar() == 1


def test_an_operator_failure_is_retried_later_and_sent_once(notifications, rabbit_config, sms_operator, db):
    sms_operator.operator.control["fail_next"] = 1
    message_id = deliver(notifications, rabbit_config["AMQP_URI"], case_registered())
    assert sms_operator.operator.messages == []
    with db.connect() as conn:
        status, attempts, due = conn.execute(sa.text(
            "SELECT status, attempts, next_attempt_at FROM sms_messages WHERE id = :id"), {"id": message_id}).one()
    assert (status, attempts) == ("queued", 1) and due > datetime.now(timezone.utc)

    with db.begin() as conn:  # the back-off has passed
        conn.execute(sa.text("UPDATE sms_messages SET next_attempt_at = now() - interval '1 second'"))
    with entrypoint_waiter(notifications, "send_due", callback=lambda wc, result, exc_info: result == 1,
                           timeout=15):
        pass
    assert len(sms_operator.operator.messages) == 1
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM sms_messages")).scalar() == "sent"


def test_a_send_cut_short_by_a_crash_is_not_sent_again(db, sms_operator):
    """The worker died after the operator took the message but before recording it: the sweep asks
    the operator by our id and records the message as sent without sending it again."""
    from sqlalchemy.orm import Session

    engine = db
    provider = KavenegarProvider(sms_operator.url, "demo-api-key", "10001482")
    event = case_registered()
    with Session(engine) as session:
        with session.begin():
            message_id = dispatch.queue_case_registered(session, event, "http://localhost:8000")
        provider.send("09121234567", "بهزیستی: آزمایش", message_id)  # reached the operator, then the crash
        with session.begin():
            session.execute(sa.text("UPDATE sms_messages SET status = 'sending', attempts = 1, "
                                    "claimed_at = :t"), {"t": datetime.now(timezone.utc) - timedelta(minutes=5)})
        assert dispatch.sweep(session, provider, max_attempts=5) == 1
    assert len(sms_operator.operator.messages) == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT status FROM sms_messages")).scalar() == "sent"


def test_a_message_that_keeps_failing_ends_failed_with_an_event(db, sms_operator):
    from sqlalchemy.orm import Session

    engine = db
    provider = KavenegarProvider(sms_operator.url, "demo-api-key", "10001482")
    # a 503 says the operator did not handle the request (a 500 would leave it in doubt: it may have taken it)
    sms_operator.operator.control.update(mode="fail", fail_status=503)
    with Session(engine) as session:
        with session.begin():
            message_id = dispatch.queue_case_registered(session, case_registered(), "http://localhost:8000")
        for _ in range(2):
            with session.begin():
                session.execute(sa.text("UPDATE sms_messages SET next_attempt_at = now() - interval '1 second'"))
            dispatch.sweep(session, provider, max_attempts=2)
    with engine.connect() as conn:
        status, attempts = conn.execute(sa.text("SELECT status, attempts FROM sms_messages WHERE id = :id"),
                                        {"id": message_id}).one()
        failed = conn.execute(sa.text("SELECT envelope FROM outbox")).scalars().all()
    assert (status, attempts) == ("failed", 2)
    assert [e["type"] for e in failed] == ["ir.behzisti.notifications.sms.failed.v1"]
    assert schemas.errors_of(failed[0]) == []
